"""The JSON API under /api with real API tokens: records, transitions, errors and the OpenAPI document."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import stdnum.cn.ric
from openapi_spec_validator import validate
from sqlalchemy import select
from starlette.testclient import TestClient

from runtime.access import SYSTEM_ACTOR
from tests.conftest import REPOSITORY
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from ui.web.api_json import MAX_BODY_BYTES, preferred_language

BJ = "dealer_bj_yizhuang"
SH = "dealer_sh_pudong"


@dataclass
class World:
    """The guarantee app with two dealers' records and a token for each test user."""

    web_app: WebApp
    client: TestClient
    tokens: dict[str, str]
    #: Record ids by unit, then by entity.
    ids: dict[str, dict[str, int]]

    def call(self, method: str, path: str, user: str, *, lang: str | None = None, **options: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **options.pop("headers", {})}
        if lang is not None:
            headers["Accept-Language"] = lang
        return self.client.request(method, path, headers=headers, **options)


def build_world(web_app: WebApp) -> World:
    web_app.add_user("bj", ("dealer_staff",), BJ)
    web_app.add_user("sh", ("dealer_staff",), SH)
    web_app.add_user("admin", ("admin",), "head_office")
    web_app.add_user("viewer", ("head_office_viewer",), "head_office")
    tokens = {user: web_app.state.accounts.create_token(SYSTEM_ACTOR, user, "tests") for user in ("bj", "sh", "admin", "viewer")}

    seeder = Seeder(web_app.runtime.records)
    ids: dict[str, dict[str, int]] = {}
    for unit, creator in ((BJ, "bj"), (SH, "sh")):
        bank = seeder.bank(creator, unit)
        refs = {"customer": seeder.customer(creator, unit), "dealer": seeder.dealer(creator, unit),
                "product": seeder.loan_product(creator, unit, bank), "vehicle": seeder.vehicle(creator, unit)}
        application = seeder.loan_application(creator, unit, refs)
        ids[unit] = {"bank": bank, "customer": refs["customer"], "dealer": refs["dealer"],
                     "loan_product": refs["product"], "vehicle": refs["vehicle"], "loan_application": application}
    client = TestClient(web_app.app, base_url="http://127.0.0.1", follow_redirects=False)
    client.__enter__()
    web_app.clients.append(client)
    return World(web_app, client, tokens, ids)


def resident_id(serial: int) -> str:
    prefix = f"11010519880808{serial:03d}"
    return prefix + stdnum.cn.ric.calc_check_digit(prefix + "0")


def new_customer(serial: int, **extra: Any) -> dict[str, Any]:
    return {"name": f"新客户{serial}", "id_number": resident_id(serial), "phone": f"1391234{serial:04d}", **extra}


def test_list_and_get_stay_in_dealer_scope(web_app: WebApp) -> None:
    world = build_world(web_app)
    own, other = world.ids[BJ], world.ids[SH]

    listed = world.call("GET", "/api/customer", "bj")
    assert listed.status_code == 200
    page = listed.json()
    assert [row["id"] for row in page["data"]] == [own["customer"]]
    assert page["total"] == 1
    assert page["total_exact"] is True
    assert page["next"] is None

    record = world.call("GET", f"/api/customer/{own['customer']}", "bj")
    assert record.status_code == 200
    assert record.headers["etag"] == '"1"'
    for entity in ("customer", "vehicle", "loan_application", "dealer"):
        missing = world.call("GET", f"/api/{entity}/{other[entity]}", "bj")
        absent = world.call("GET", f"/api/{entity}/999999", "bj")
        assert missing.status_code == absent.status_code == 404, entity
        assert missing.json()["error"]["code"] == "not_found"
    # Messages name the entity by its label in the reader's language.
    assert world.call("GET", "/api/loan_application/999999", "bj").json()["error"]["message"] == "未找到贷款申请 999999"

    changed = world.call("PATCH", f"/api/customer/{other['customer']}", "bj", json={"version": 1, "address": "上海"})
    assert changed.status_code == 404
    # Dealer staff may not delete customers at all; with a grant limited to their unit, another unit's record is not found.
    assert world.call("DELETE", f"/api/customer/{other['customer']}?version=1", "bj").status_code == 403
    web_app.state.admin.grant(SYSTEM_ACTOR, "dealer_staff", "customer", "delete", scope="unit")
    deleted = world.call("DELETE", f"/api/customer/{other['customer']}?version=1", "bj")
    assert deleted.status_code == 404
    assert deleted.json()["error"]["code"] == "not_found"
    assert world.call("GET", f"/api/customer/{other['customer']}", "sh").json()["version"] == 1
    everything = world.call("GET", "/api/customer", "viewer").json()
    assert sorted(row["id"] for row in everything["data"]) == sorted([own["customer"], other["customer"]])


def test_list_filters_search_sort_and_pages(web_app: WebApp) -> None:
    world = build_world(web_app)
    for serial in range(3):
        created = world.call("POST", "/api/customer", "bj",
                             json=new_customer(serial, gender="female" if serial else "male", monthly_income=f"{serial}000.00"))
        assert created.status_code == 201, created.text

    women = world.call("GET", "/api/customer?gender=female&sort=monthly_income", "bj").json()
    assert [row["monthly_income"] for row in women["data"]] == ["1000.00", "2000.00"]
    ranged = world.call("GET", "/api/customer?monthly_income.min=1500&monthly_income.max=2500", "bj").json()
    assert [row["name"] for row in ranged["data"]] == ["新客户2"]
    searched = world.call("GET", "/api/customer", "bj", params={"q": "新客户1"}).json()
    assert [row["name"] for row in searched["data"]] == ["新客户1"]

    first = world.call("GET", "/api/customer?limit=2&sort=name", "bj").json()
    assert first["total"] == 4
    assert len(first["data"]) == 2
    assert first["next"] is not None
    second = world.call("GET", "/api/customer", "bj", params={"limit": 2, "sort": "name", "after": first["next"]}).json()
    assert len(second["data"]) == 2
    assert second["next"] is None
    assert {row["id"] for row in first["data"]}.isdisjoint(row["id"] for row in second["data"])

    unknown = world.call("GET", "/api/customer?colour=red", "bj", lang="en")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "invalid_query"
    assert unknown.json()["error"]["fields"][0]["path"] == "colour"
    bad_value = world.call("GET", "/api/customer?monthly_income.min=abc", "bj")
    assert bad_value.status_code == 400
    assert bad_value.json()["error"]["fields"][0]["path"] == "monthly_income.min"
    bad_cursor = world.call("GET", "/api/customer?after=nonsense", "bj")
    assert bad_cursor.status_code == 400


def test_create_update_delete_round_trip(web_app: WebApp) -> None:
    world = build_world(web_app)

    created = world.call("POST", "/api/customer", "bj", json=new_customer(7, monthly_income="123456789.99"))
    assert created.status_code == 201, created.text
    record = created.json()
    assert created.headers["location"] == f"/api/customer/{record['id']}"
    assert record["monthly_income"] == "123456789.99"
    assert record["version"] == 1
    assert record["created_by"] == "bj"
    assert record["org_unit"] == BJ
    stored = web_app.runtime.records.get(SYSTEM_ACTOR, "customer", record["id"])
    assert stored["monthly_income"] == Decimal("123456789.99")

    # A JSON number keeps every digit too: numbers in bodies are read as Decimal, never as float.
    raw = '{"version": 1, "monthly_income": 98765432.01, "birth_date": "1990-02-03"}'
    updated = world.call("PATCH", f"/api/customer/{record['id']}", "bj", content=raw, headers={"Content-Type": "application/json"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["monthly_income"] == "98765432.01"
    assert updated.json()["birth_date"] == "1990-02-03"
    assert updated.json()["version"] == 2
    assert updated.headers["etag"] == '"2"'
    datetime.datetime.fromisoformat(updated.json()["updated_at"])

    contact = {"name": "李四", "relation": "friend", "phone": "13911112222"}
    with_rows = world.call("PATCH", f"/api/customer/{record['id']}", "bj", json={"version": 2, "contacts": [contact]})
    assert with_rows.status_code == 200, with_rows.text
    rows = with_rows.json()["contacts"]
    assert [(row["name"], row["relation"]) for row in rows] == [("李四", "friend")]
    assert isinstance(rows[0]["id"], int)
    # Rows sent back with the ids read are accepted: saving replaces every row.
    resent = world.call("PATCH", f"/api/customer/{record['id']}", "bj",
                        json={"version": 3, "contacts": [{**contact, "id": rows[0]["id"]}, {**contact, "name": "王五"}]})
    assert resent.status_code == 200, resent.text
    assert [row["name"] for row in resent.json()["contacts"]] == ["李四", "王五"]

    by_header = world.call("PATCH", f"/api/customer/{record['id']}", "bj", json={"address": "北京市大兴区"}, headers={"If-Match": '"4"'})
    assert by_header.status_code == 200, by_header.text
    assert by_header.json()["version"] == 5

    stale = world.call("PATCH", f"/api/customer/{record['id']}", "bj", lang="en", json={"version": 4, "address": "又改"})
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "stale_version"
    assert error["current_version"] == 5
    assert error["changed_by"] == "bj"
    datetime.datetime.fromisoformat(error["changed_at"])
    assert "changed by bj" in error["message"]

    no_version = world.call("PATCH", f"/api/customer/{record['id']}", "bj", json={"address": "x"})
    assert no_version.status_code == 428
    assert no_version.json()["error"]["code"] == "version_required"
    disagreeing = world.call("PATCH", f"/api/customer/{record['id']}", "bj", json={"version": 5}, headers={"If-Match": '"4"'})
    assert disagreeing.status_code == 400

    stale_delete = world.call("DELETE", f"/api/customer/{record['id']}?version=1", "admin")
    assert stale_delete.status_code == 409
    # Dealer staff may not delete customers.
    refused = world.call("DELETE", f"/api/customer/{record['id']}?version=5", "bj")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    deleted = world.call("DELETE", f"/api/customer/{record['id']}", "admin", headers={"If-Match": '"5"'})
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert world.call("GET", f"/api/customer/{record['id']}", "admin").status_code == 404


def test_reason_required_for_dealer_changes(web_app: WebApp) -> None:
    world = build_world(web_app)
    dealer = world.ids[BJ]["dealer"]

    without = world.call("PATCH", f"/api/dealer/{dealer}", "admin", json={"version": 1, "rating": "A"}, lang="en")
    assert without.status_code == 422
    assert without.json()["error"]["code"] == "reason_required"
    assert without.json()["error"]["fields"][0]["path"] == "reason"

    with_reason = world.call("PATCH", f"/api/dealer/{dealer}?reason=年度评级", "admin", json={"version": 1, "rating": "A"})
    assert with_reason.status_code == 200, with_reason.text
    assert with_reason.json()["rating"] == "A"
    # The dealer's own loan application still names it, so it stays.
    in_use = world.call("DELETE", f"/api/dealer/{dealer}?version=2&reason=停止合作", "admin")
    assert in_use.status_code == 422
    assert in_use.json()["error"]["fields"][0]["code"] == "in_use"


def test_field_rules_masking_hidden_and_read_only(web_app: WebApp) -> None:
    world = build_world(web_app)
    customer = world.ids[BJ]["customer"]
    clear = web_app.runtime.records.get(SYSTEM_ACTOR, "customer", customer)

    seen = world.call("GET", f"/api/customer/{customer}", "bj").json()
    assert seen["phone"] != clear["phone"]
    assert "*" in seen["phone"]
    assert "*" in seen["id_number"]
    assert "blacklisted" not in seen
    assert "blacklist_reason" not in seen
    listed = world.call("GET", "/api/customer", "bj").json()["data"][0]
    assert listed["phone"] == seen["phone"]
    assert "blacklisted" not in listed

    # Sending back the masked value read leaves the stored value alone.
    echoed = world.call("PATCH", f"/api/customer/{customer}", "bj", json={"version": 1, "phone": seen["phone"], "address": "亦庄"})
    assert echoed.status_code == 200, echoed.text
    assert web_app.runtime.records.get(SYSTEM_ACTOR, "customer", customer)["phone"] == clear["phone"]

    hidden = world.call("PATCH", f"/api/customer/{customer}", "bj", lang="en", json={"version": 2, "blacklisted": True})
    assert hidden.status_code == 400
    assert hidden.json()["error"]["code"] == "unknown_field"
    assert hidden.json()["error"]["fields"] == [
        {"path": "blacklisted", "code": "unknown_field", "message": "customer has no field 'blacklisted'; remove it"}
    ]

    dealer = world.ids[BJ]["dealer"]
    read_only = world.call("PATCH", f"/api/dealer/{dealer}?reason=改名", "bj", json={"version": 1, "name": "新名字"})
    assert read_only.status_code == 403
    application = world.ids[BJ]["loan_application"]
    computed = world.call("PATCH", f"/api/loan_application/{application}", "bj", lang="en",
                          json={"version": 1, "ltv": "0.5", "application_no": "LA-2026-9999"})
    assert computed.status_code == 422
    codes = {item["path"]: item["code"] for item in computed.json()["error"]["fields"]}
    assert codes == {"ltv": "computed", "application_no": "read_only"}
    seen_application = world.call("GET", f"/api/loan_application/{application}", "bj").json()
    assert "scorecard_score" not in seen_application
    assert seen_application["loan_amount"] == "100000.00"
    assert seen_application["customer"] == world.ids[BJ]["customer"]
    assert seen_application["state"] == "draft"


def test_bad_requests_get_json_errors(web_app: WebApp) -> None:
    world = build_world(web_app)

    malformed = world.call("POST", "/api/customer", "bj", lang="en", content='{\n  "name": "张三",\n  "phone": }',
                           headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_json"
    assert "line 3, column 12" in malformed.json()["error"]["message"]

    for body, kind in (("[1, 2]", "array"), ('"text"', "string"), ("NaN", None)):
        answer = world.call("POST", "/api/customer", "bj", lang="en", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, body
        if kind:
            assert answer.json()["error"]["code"] == "not_an_object"
            assert f"not a {kind}" in answer.json()["error"]["message"]

    unknown = world.call("POST", "/api/customer", "bj", lang="en", json={**new_customer(1), "nmae": "x", "id": 5})
    assert unknown.status_code == 400
    fields = {item["path"]: item for item in unknown.json()["error"]["fields"]}
    assert fields["nmae"]["message"] == "customer has no field 'nmae'; did you mean 'name'?"
    assert fields["id"]["code"] == "system_field"

    invalid = world.call("POST", "/api/customer", "bj", lang="en", json={"name": "张", "phone": "12345", "monthly_income": "-5"})
    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["code"] == "validation"
    assert error["message"].startswith("4 field error(s) in Customer: ")
    paths = {item["path"]: item["code"] for item in error["fields"]}
    assert set(paths) == {"name", "phone", "monthly_income", "id_number"}
    assert paths["id_number"] == "required"
    assert paths["monthly_income"] == "min"

    wrong_type = world.call("POST", "/api/customer", "bj", content="name=张三", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    too_large = world.call("POST", "/api/customer", "bj", content=b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}',
                           headers={"Content-Type": "application/json"})
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "too_large"

    assert world.call("GET", "/api/no_such_entity", "bj").status_code == 404
    assert world.call("GET", "/api/customer/abc", "bj").status_code == 404
    nowhere = world.call("GET", "/api/customer/1/elsewhere/deeper", "bj")
    assert nowhere.status_code == 404
    assert nowhere.headers["content-type"] == "application/json"
    not_allowed = world.call("PUT", "/api/customer", "bj")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["allow"] == "GET, POST"
    assert not_allowed.json()["error"]["code"] == "method_not_allowed"
    forbidden = world.call("POST", "/api/bank", "bj", json={"code": "BKX", "name": "某银行"})
    assert forbidden.status_code == 403
    assert world.call("GET", "/api/loan_product", "bj").status_code == 200


def test_tokens_and_sessions(web_app: WebApp) -> None:
    world = build_world(web_app)
    anonymous = world.client.get("/api/customer")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    assert world.client.get("/api/customer", headers={"Authorization": "Bearer mdk_unknown"}).status_code == 401

    tokens = web_app.runtime.schema.access.api_tokens
    with web_app.runtime.engine.connect() as connection:
        token_id = connection.scalar(select(tokens.c.id).where(tokens.c.user_id == "sh"))
    assert world.call("GET", "/api/customer", "sh").status_code == 200
    web_app.state.accounts.revoke_token(SYSTEM_ACTOR, int(token_id))
    revoked = world.call("GET", "/api/customer", "sh", lang="en")
    assert revoked.status_code == 401
    assert revoked.json()["error"]["message"] == "The API token is unknown or revoked."

    browser = web_app.client("bj")
    assert browser.get("/api/customer").status_code == 200
    refused = browser.post("/api/customer", json=new_customer(3))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    accepted = browser.post("/api/customer", json=new_customer(3), headers={"X-CSRF-Token": web_app.csrf(browser)})
    assert accepted.status_code == 201, accepted.text


def test_messages_follow_accept_language(web_app: WebApp) -> None:
    world = build_world(web_app)
    body = {"name": "张三", "phone": "12345"}

    chinese = world.call("POST", "/api/customer", "bj", json=body).json()["error"]
    english = world.call("POST", "/api/customer", "bj", lang="en-US,en;q=0.9", json=body).json()["error"]
    preferred = world.call("POST", "/api/customer", "bj", lang="en;q=0.4, zh-CN;q=0.8", json=body).json()["error"]

    assert "字段错误" in chinese["message"]
    assert "field error" in english["message"]
    assert preferred["message"] == chinese["message"]
    by_path_zh = {item["path"]: item["message"] for item in chinese["fields"]}
    by_path_en = {item["path"]: item["message"] for item in english["fields"]}
    assert by_path_zh["id_number"] == "此项为必填项，请填写"
    assert by_path_en["id_number"] == "this field is required; enter a value"
    assert world.call("GET", "/api/nothing", "bj").json()["error"]["message"].startswith("没有名为")
    assert world.call("GET", "/api/nothing", "bj", lang="en").json()["error"]["message"].startswith("There is no entity")


def test_preferred_language_parsing() -> None:
    assert preferred_language("") is None
    assert preferred_language("fr-FR, de") is None
    assert preferred_language("en") == "en"
    assert preferred_language("zh-TW, en;q=0.5") == "zh-CN"
    assert preferred_language("fr, en-GB;q=0.7, zh;q=0.6") == "en"
    assert preferred_language("en;q=0, zh-CN") == "zh-CN"
    assert preferred_language("en;q=abc, zh") == "zh-CN"


def test_transitions_fire_through_the_flow(web_app: WebApp) -> None:
    world = build_world(web_app)
    application = world.ids[BJ]["loan_application"]
    address = f"/api/loan_application/{application}/transitions/cancel"

    no_comment = world.call("POST", address, "bj", lang="en", json={"version": 1})
    assert no_comment.status_code == 422
    assert no_comment.json()["error"]["fields"][0]["path"] == "comment"
    other_dealer = world.call("POST", address, "sh", json={"version": 1, "comment": "客户放弃"})
    assert other_dealer.status_code == 404
    extra = world.call("POST", address, "bj", json={"version": 1, "comment": "x", "state": "approved"})
    assert extra.status_code == 400
    unknown = world.call("POST", f"/api/loan_application/{application}/transitions/teleport", "bj", json={"version": 1})
    assert unknown.status_code == 404
    assert "cancel" in unknown.json()["error"]["message"]

    fired = world.call("POST", address, "bj", json={"version": 1, "comment": "客户放弃购车"})
    assert fired.status_code == 200, fired.text
    assert fired.json()["state"] == "cancelled"
    assert fired.json()["version"] == 2
    again = world.call("POST", address, "bj", lang="en", json={"comment": "again"}, headers={"If-Match": '"2"'})
    assert again.status_code == 422
    assert again.json()["error"]["fields"][0]["code"] == "transition.state"
    stale = world.call("POST", address, "bj", json={"version": 1, "comment": "x"})
    assert stale.status_code == 409

    # Permission and scope are decided before the missing version is noticed.
    assert world.call("DELETE", f"/api/loan_application/{application}", "bj").status_code == 403
    assert world.call("PATCH", f"/api/loan_application/{application}", "sh", json={"remarks": "x"}).status_code == 404


def test_openapi_document_is_valid_and_complete(web_app: WebApp) -> None:
    client = web_app.client()
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    validate(document)

    model = web_app.state.model
    schemas = document["components"]["schemas"]
    for name in model.entities:
        assert name in schemas, name
        assert f"{name}.patch" in schemas, name
        assert f"{name}.page" in schemas, name
        assert f"/api/{name}" in document["paths"]
        assert set(document["paths"][f"/api/{name}/{{id}}"]) == {"parameters", "get", "patch", "delete"}
    for flow in model.flows.values():
        for transition in flow.transitions.values():
            path = f"/api/{flow.entity}/{{id}}/transitions/{transition.name}"
            # A name automatic in every flow of the entity has no path; one fired by hand in any flow has.
            by_hand = any(not other.automatic for same in model.flows_for(flow.entity)
                          for other in same.transitions.values() if other.name == transition.name)
            assert (path in document["paths"]) == by_hand, path
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "mdk_ token",
        "description": "An API token; it acts as the user it was created for.",
    }

    application = schemas["loan_application"]
    amount = application["properties"]["loan_amount"]
    assert amount["format"] == "decimal"
    assert amount["minimum"] == 1000
    assert amount["description"].startswith("贷款金额（元） / Loan amount (CNY)")
    assert application["properties"]["term_months"] == {
        "type": "integer", "minimum": 6, "maximum": 60, "title": "Term (months)", "description": "贷款期限（月） / Term (months)",
    }
    assert application["properties"]["ltv"]["readOnly"] is True
    assert application["properties"]["apr"]["readOnly"] is True
    assert application["properties"]["state"]["readOnly"] is True
    assert "draft" in application["properties"]["state"]["enum"]
    assert "loan_amount" in application["required"]
    assert "ltv" not in application["required"]
    assert "ltv" not in schemas["loan_application.patch"]["properties"]
    customer = schemas["customer"]["properties"]
    assert customer["gender"]["enum"] == ["male", "female", None]
    assert customer["name"]["maxLength"] == 50
    assert customer["contacts"]["items"]["properties"]["relation"]["enum"][0] == "spouse"
    assert customer["birth_date"]["format"] == "date"
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == []


def test_openapi_document_of_another_app(make_web_app: Callable[..., WebApp]) -> None:
    requisition = make_web_app(REPOSITORY / "tests" / "apps" / "requisition")
    other = requisition.client().get("/api/openapi.json").json()
    validate(other)
    assert set(requisition.state.model.entities) <= set(other["components"]["schemas"])
    assert "loan_application" not in other["components"]["schemas"]
    assert json.dumps(other, ensure_ascii=False).count("Loan") == 0
