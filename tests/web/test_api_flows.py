"""The flow engine's JSON API over a real HTTP server on 127.0.0.1: automatic transitions, approval
progress, adding approvers, the inbox and delegations, with API tokens of the expense app's users."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import httpx
import pytest
from openapi_spec_validator import validate

from runtime.access import SYSTEM_ACTOR
from tests.conftest import REPOSITORY
from tests.runtime.test_approvals import Clock
from tests.web.conftest import WebApp, serving

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"
#: The users of the expense app: id, role (None for none), org unit, display name.
USERS = (
    ("qian", "clerk", "east", "钱经办"), ("li", "manager", "east", "李经理"), ("zhou", "manager", "west", "周经理"),
    ("chen", "director", "company", "陈总监"), ("m1", "member", "company", "委员一"), ("m2", "member", "company", "委员二"),
    ("m3", "member", "company", "委员三"), ("deputy", None, "company", "代办人"), ("root", "admin", "company", "管理员"),
)
#: The application's today under the test clock (2026-12-02 10:00 in Asia/Shanghai).
TODAY = datetime.date(2026, 12, 2)


@dataclass
class Api:
    """The expense app served by uvicorn on 127.0.0.1, with an API token per user."""

    web_app: WebApp
    client: httpx.Client
    tokens: dict[str, str]

    def call(self, method: str, path: str, user: str, *, lang: str | None = "en", **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **options.pop("headers", {})}
        if lang is not None:
            headers["Accept-Language"] = lang
        return self.client.request(method, path, headers=headers, **options)

    def expense(self, procedure: str, amount: str = "5000", *, grade: str = "A", submit: bool = True) -> dict[str, Any]:
        """Create a claim as the clerk through the API, and submit it when `submit` is true."""
        created = self.call("POST", "/api/expense", "qian", json={"title": "差旅报销", "amount": amount, "grade": grade,
                                                                  "procedure": procedure})
        assert created.status_code == 201, created.text
        record: dict[str, Any] = created.json()
        if submit:
            submitted = self.call("POST", f"/api/expense/{record['id']}/transitions/submit", "qian",
                                  json={"version": record["version"]})
            assert submitted.status_code == 200, submitted.text
            record = submitted.json()
        return record

    def progress(self, record_id: int, user: str) -> dict[str, Any]:
        answer = self.call("GET", f"/api/expense/{record_id}/approvals", user)
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document


@pytest.fixture
def api(make_web_app: Callable[..., WebApp]) -> Iterator[Api]:
    web_app = make_web_app(APPROVALS)
    web_app.state.records.clock = Clock()
    for user, role, unit, name in USERS:
        web_app.add_user(user, (role,) if role else (), unit, name=name)
    tokens = {user: web_app.state.accounts.create_token(SYSTEM_ACTOR, user, "tests") for user, *_ in USERS}

    with serving(web_app.app) as live:
        # trust_env=False keeps proxy settings of the environment away from the local server.
        client = httpx.Client(base_url=live.url, trust_env=False, timeout=30)
        try:
            yield Api(web_app, client, tokens)
        finally:
            client.close()


def error_of(answer: httpx.Response) -> dict[str, Any]:
    assert answer.headers["content-type"] == "application/json", answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def field_codes(answer: httpx.Response) -> dict[str, str]:
    """Return the code of each field an error names, by path."""
    return {item["path"]: item["code"] for item in error_of(answer).get("fields", [])}


# Automatic transitions and the document ---------------------------------------------


def test_automatic_transition_rejected(api: Api) -> None:
    claim = api.expense("single")
    for user in ("qian", "li", "root"):
        answer = api.call("POST", f"/api/expense/{claim['id']}/transitions/auto_reject", user, json={"version": claim["version"]})
        assert answer.status_code == 403, user
        error = error_of(answer)
        assert error["code"] == "automatic_transition"
        assert error["message"] == ("“Automatic rejection” (auto_reject) happens by itself when its condition holds; "
                                    "no one fires it by hand.")
    chinese = api.call("POST", f"/api/expense/{claim['id']}/transitions/auto_reject", "li", lang="zh-CN", json={})
    assert error_of(chinese)["message"] == "“自动拒绝”（auto_reject）在条件满足时自动执行，不能手工执行。"
    assert api.call("GET", f"/api/expense/{claim['id']}", "qian").json()["state"] == "review"

    unknown = api.call("POST", f"/api/expense/{claim['id']}/transitions/teleport", "qian", json={"version": 1})
    assert unknown.status_code == 404
    assert "auto_reject" not in error_of(unknown)["message"]
    assert "approve, reject, send_back, submit, withdraw" in error_of(unknown)["message"]


def test_openapi_lists_flow_operations(api: Api) -> None:
    answer = api.client.get("/api/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    validate(document)
    paths = document["paths"]

    assert "/api/expense/{id}/transitions/auto_reject" not in paths
    for name in ("submit", "withdraw", "send_back", "reject", "approve"):
        assert f"/api/expense/{{id}}/transitions/{name}" in paths, name
    assert "automatic_transition" in document["info"]["description"]
    assert set(paths["/api/expense/{id}/approvals"]) == {"parameters", "get"}
    assert set(paths["/api/expense/{id}/approvals/approve/approvers"]) == {"parameters", "post"}
    assert "/api/expense/{id}/approvals/submit/approvers" not in paths
    assert set(paths["/api/me/inbox"]) == {"get"}
    assert set(paths["/api/me/delegations"]) == {"get", "post"}
    assert set(paths["/api/me/delegations/{delegation_id}"]) == {"parameters", "delete"}
    inbox_parameters = {item["name"] for item in paths["/api/me/inbox"]["get"]["parameters"]}
    assert inbox_parameters == {"kind", "for", "page", "limit"}

    schemas = document["components"]["schemas"]
    assert schemas["DelegationRequest"]["required"] == ["delegate", "starts_on", "ends_on"]
    assert schemas["AddApproverRequest"]["required"] == ["approver"]
    assert "on_behalf_of" in schemas["TransitionRequest"]["properties"]
    assert {"workbench", "expense"} <= {tag["name"] for tag in document["tags"]}


# Approval progress --------------------------------------------------------------------


def test_progress_of_each_mode(api: Api) -> None:
    members = [{"id": "m1", "name": "委员一"}, {"id": "m2", "name": "委员二"}, {"id": "m3", "name": "委员三"}]
    # mode, quorum, ratio, signatures needed, approvers of the one level
    cases = (
        ("single", "single", 1, None, 1, [{"id": "li", "name": "李经理"}]),
        ("all", "countersign", None, None, 3, members),
        ("quorum", "countersign", 2, None, 2, members),
        ("ratio", "countersign", None, "0.5", 2, members),
    )
    for procedure, mode, quorum, ratio, needed, approvers in cases:
        claim = api.expense(procedure)
        document = api.progress(claim["id"], "qian")
        assert (document["entity"], document["id"], document["state"]) == ("expense", claim["id"], "review"), procedure
        assert document["version"] == claim["version"]
        assert document["acting_for"] is None
        [approval] = document["approvals"]
        assert (approval["transition"], approval["mode"], approval["complete"]) == ("approve", mode, False), procedure
        assert approval["label"] == {"zh-CN": "同意", "en": "Approve"}
        [level] = approval["levels"]
        assert approval["current_level"] == level["name"] == "approval"
        assert (level["quorum"], level["ratio"], level["needed"]) == (quorum, ratio, needed), procedure
        assert level["approvers"] == approvers, procedure
        assert level["waiting_for"] == approvers, procedure
        assert level["signatures"] == []
        assert (level["current"], level["complete"]) == (True, False)


def test_progress_of_sequential_levels(api: Api) -> None:
    claim = api.expense("levels", amount="30000", grade="B")
    answer = api.call("GET", f"/api/expense/{claim['id']}/approvals", "li")
    assert answer.headers["etag"] == f'"{claim["version"]}"'
    [approval] = answer.json()["approvals"]
    assert [level["name"] for level in approval["levels"]] == ["manager", "director", "committee"]
    assert approval["current_level"] == "manager"
    manager, director, committee = approval["levels"]
    assert manager["waiting_for"] == [{"id": "li", "name": "李经理"}]
    # Later levels list who may sign them, but wait for no one yet.
    assert director["approvers"] == [{"id": "chen", "name": "陈总监"}]
    assert director["waiting_for"] == []
    assert (committee["quorum"], committee["needed"], committee["current"]) == (2, 2, False)

    signed = api.call("POST", f"/api/expense/{claim['id']}/transitions/approve", "li",
                      json={"version": claim["version"], "comment": "同意报销"})
    assert signed.status_code == 200, signed.text
    assert signed.json()["state"] == "review"
    after = api.progress(claim["id"], "chen")
    assert after["version"] == claim["version"] + 1
    [approval] = after["approvals"]
    manager, director, _ = approval["levels"]
    assert approval["current_level"] == "director"
    assert manager["complete"] is True
    assert manager["waiting_for"] == []
    [signature] = manager["signatures"]
    assert {key: signature[key] for key in ("approver", "approver_name", "signed_by", "comment")} == {
        "approver": "li", "approver_name": "李经理", "signed_by": "li", "comment": "同意报销"}
    assert datetime.datetime.fromisoformat(signature["decided_at"]) == datetime.datetime(2026, 12, 2, 2, 0,
                                                                                         tzinfo=datetime.timezone.utc)
    assert director["waiting_for"] == [{"id": "chen", "name": "陈总监"}]


def test_progress_errors_and_hidden_records(api: Api) -> None:
    claim = api.expense("quorum")
    address = f"/api/expense/{claim['id']}/approvals"

    # The west branch's manager may read claims, but not the east branch's: reported as not found.
    hidden = api.call("GET", address, "zhou")
    absent = api.call("GET", "/api/expense/99999/approvals", "zhou")
    assert hidden.status_code == absent.status_code == 404
    assert error_of(hidden)["code"] == "not_found"
    assert error_of(hidden)["message"] == f"Expense claim {claim['id']} was not found"
    assert api.call("GET", address, "root").status_code == 403
    assert api.call("GET", address, "deputy").status_code == 403
    assert api.call("GET", "/api/expense/abc/approvals", "qian").status_code == 404
    assert api.call("GET", f"/api/nothing/{claim['id']}/approvals", "qian").status_code == 404
    assert api.call("POST", address, "qian", json={}).status_code == 405
    assert api.client.get(address).status_code == 401

    draft = api.expense("quorum", submit=False)
    assert api.progress(draft["id"], "qian")["approvals"] == []


# Adding an approver ---------------------------------------------------------------------


def test_add_approver_to_current_level(api: Api) -> None:
    claim = api.expense("all")
    address = f"/api/expense/{claim['id']}/approvals/approve/approvers"

    added = api.call("POST", address, "m2", json={"version": claim["version"], "approver": "chen"})
    assert added.status_code == 200, added.text
    document = added.json()
    assert document["version"] == claim["version"] + 1
    assert added.headers["etag"] == f'"{document["version"]}"'
    [level] = document["approvals"][0]["levels"]
    assert level["needed"] == 4
    assert {"id": "chen", "name": "陈总监"} in level["approvers"]
    assert {"id": "chen", "name": "陈总监"} in level["waiting_for"]

    # The added director finds the claim in the inbox and signs it.
    inbox = api.call("GET", "/api/me/inbox", "chen").json()
    assert [row["id"] for row in inbox["data"]] == [claim["id"]]
    signed = api.call("POST", f"/api/expense/{claim['id']}/transitions/approve", "chen", json={"version": document["version"]})
    assert signed.status_code == 200, signed.text

    # If-Match carries the version as well as the body does.
    again = api.call("POST", address, "m1", json={"approver": "m3"}, headers={"If-Match": f'"{signed.json()["version"]}"'})
    assert again.status_code == 422
    assert field_codes(again) == {"approver": "approval.present"}


def test_add_approver_bad_requests(api: Api) -> None:
    claim = api.expense("all")
    address = f"/api/expense/{claim['id']}/approvals/approve/approvers"
    version = claim["version"]

    missing = api.call("POST", address, "m1", json={"version": version})
    assert missing.status_code == 422
    assert error_of(missing)["code"] == "validation"
    assert field_codes(missing) == {"approver": "required"}
    blank = api.call("POST", address, "m1", json={"version": version, "approver": "  "})
    assert field_codes(blank) == {"approver": "required"}
    wrong_type = api.call("POST", address, "m1", json={"version": version, "approver": 5})
    assert wrong_type.status_code == 422
    assert field_codes(wrong_type) == {"approver": "type"}
    unknown_user = api.call("POST", address, "m1", json={"version": version, "approver": "nobody"})
    assert unknown_user.status_code == 422
    assert field_codes(unknown_user) == {"approver": "approval.user"}
    assert "nobody" in error_of(unknown_user)["fields"][0]["message"]
    extra = api.call("POST", address, "m1", json={"version": version, "approver": "chen", "level": "x"})
    assert extra.status_code == 400
    assert error_of(extra)["code"] == "unknown_field"
    assert field_codes(extra) == {"level": "unknown_field"}
    no_version = api.call("POST", address, "m1", json={"approver": "chen"})
    assert no_version.status_code == 428
    bad_version = api.call("POST", address, "m1", json={"version": "three", "approver": "chen"})
    assert bad_version.status_code == 400
    assert error_of(bad_version)["code"] == "invalid_version"
    stale = api.call("POST", address, "m1", json={"version": version - 1, "approver": "chen"})
    assert stale.status_code == 409
    assert error_of(stale)["current_version"] == version
    malformed = api.call("POST", address, "m1", content=b'{"approver": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert error_of(malformed)["code"] == "malformed_json"
    assert api.call("POST", address, "m1", content=b"[]", headers={"Content-Type": "application/json"}).status_code == 400

    # The clerk has no approval grant; the manager has one but is no approver of this level.
    clerk = api.call("POST", address, "qian", json={"version": version, "approver": "chen"})
    assert clerk.status_code == 403
    manager = api.call("POST", address, "li", json={"version": version, "approver": "chen"})
    assert manager.status_code == 403
    assert error_of(manager)["message"] == "Only an approver of the current level of “Approve” may add another approver."
    # Out of the west manager's scope: not found, even without a version.
    assert api.call("POST", address, "zhou", json={"approver": "chen"}).status_code == 404
    assert api.call("POST", address, "zhou", json={"version": version, "approver": "chen"}).status_code == 404
    no_step = api.call("POST", f"/api/expense/{claim['id']}/approvals/submit/approvers", "m1", json={"version": version})
    assert no_step.status_code == 404
    assert error_of(no_step)["message"] == "expense has no approval step 'submit'; its approval steps are: approve."

    # Nothing of the above was written.
    assert api.call("GET", f"/api/expense/{claim['id']}", "m1").json()["version"] == version


# The inbox ------------------------------------------------------------------------


def test_inbox_of_approvers(api: Api) -> None:
    single = api.expense("single")
    quorum = api.expense("quorum")
    draft = api.expense("single", submit=False)

    clerk = api.call("GET", "/api/me/inbox", "qian").json()
    assert [(row["id"], row["kind"]) for row in clerk["data"]] == [(draft["id"], "todo")]
    assert [item["name"] for item in clerk["data"][0]["transitions"]] == ["submit"]
    assert clerk["data"][0]["record"]["title"] == "差旅报销"

    manager = api.call("GET", "/api/me/inbox", "li").json()
    assert [(row["id"], row["kind"]) for row in manager["data"]] == [(single["id"], "approve")]
    assert {"user": {"id": "li", "name": "李经理", "delegated": False}, "kind": "approve", "count": 1} in manager["counts"]
    assert api.call("GET", "/api/me/inbox", "zhou").json()["data"] == []

    member = api.call("GET", "/api/me/inbox", "m1").json()
    [row] = member["data"]
    assert (row["entity"], row["id"], row["kind"], row["acting_for"]) == ("expense", quorum["id"], "approve", None)
    assert {item["name"] for item in row["transitions"]} == {"approve", "send_back", "reject"}
    [approval] = row["approvals"]
    assert approval["levels"][0]["needed"] == 2
    assert (member["total"], member["page"], member["pages"], member["limit"]) == (1, 1, 1, 20)

    signed = api.call("POST", f"/api/expense/{quorum['id']}/transitions/approve", "m1", json={"version": quorum["version"]})
    assert signed.status_code == 200, signed.text
    assert api.call("GET", "/api/me/inbox", "m1").json()["data"] == []
    waiting = api.call("GET", "/api/me/inbox?kind=approve", "m2").json()["data"]
    assert [row["id"] for row in waiting] == [quorum["id"]]
    assert [item["approver"] for item in waiting[0]["approvals"][0]["levels"][0]["signatures"]] == ["m1"]
    assert api.call("GET", "/api/me/inbox?kind=todo", "m2").json()["data"] == []


def test_inbox_pages_and_bad_queries(api: Api) -> None:
    claims = [api.expense("all") for _ in range(3)]
    first = api.call("GET", "/api/me/inbox?limit=2", "m1").json()
    second = api.call("GET", "/api/me/inbox?limit=2&page=2", "m1").json()
    assert (first["total"], first["pages"], second["page"]) == (3, 2, 2)
    assert sorted(row["id"] for row in first["data"] + second["data"]) == sorted(claim["id"] for claim in claims)
    assert api.call("GET", "/api/me/inbox?page=9", "m1").json()["data"] == []

    for query, path in (("kind=later", "kind"), ("for=li", "for"), ("page=0", "page"), ("page=x", "page"),
                        ("limit=999", "limit"), ("sort=id", "sort")):
        answer = api.call("GET", f"/api/me/inbox?{query}", "m1")
        assert answer.status_code == 400, query
        assert error_of(answer)["code"] == "invalid_query", query
        assert list(field_codes(answer)) == [path], query
    several = api.call("GET", "/api/me/inbox?kind=later&limit=0", "m1")
    assert set(field_codes(several)) == {"kind", "limit"}
    assert api.call("POST", "/api/me/inbox", "m1", json={}).status_code == 405
    assert api.client.get("/api/me/inbox").status_code == 401


# Delegations ----------------------------------------------------------------------


def delegate(api: Api, user: str, **body: Any) -> httpx.Response:
    values = {"delegate": "deputy", "starts_on": TODAY.isoformat(), "ends_on": (TODAY + datetime.timedelta(days=6)).isoformat(),
              **body}
    return api.call("POST", "/api/me/delegations", user, json=values)


def test_delegation_create_list_revoke(api: Api) -> None:
    assert api.call("GET", "/api/me/delegations", "m1").json() == {"data": []}

    created = delegate(api, "m1", role="member", reason="出差")
    assert created.status_code == 201, created.text
    delegation = created.json()
    assert {key: delegation[key] for key in ("direction", "delegator", "delegate", "role", "starts_on", "ends_on", "reason",
                                             "running", "may_revoke", "created_by")} == {
        "direction": "given", "delegator": {"id": "m1", "name": "委员一"}, "delegate": {"id": "deputy", "name": "代办人"},
        "role": "member", "starts_on": "2026-12-02", "ends_on": "2026-12-08", "reason": "出差", "running": True,
        "may_revoke": True, "created_by": "m1"}
    assert api.call("GET", "/api/me/delegations", "m1").json()["data"] == [delegation]
    [received] = api.call("GET", "/api/me/delegations", "deputy").json()["data"]
    assert (received["id"], received["direction"], received["may_revoke"]) == (delegation["id"], "received", False)

    address = f"/api/me/delegations/{delegation['id']}"
    refused = api.call("DELETE", address, "deputy")
    assert refused.status_code == 403
    assert error_of(refused)["message"] == "Only the delegator or an administrator may revoke a delegation."
    # A delegation the user neither gave nor received is reported like one that does not exist.
    stranger = api.call("DELETE", address, "chen")
    assert stranger.status_code == 404
    assert error_of(stranger)["code"] == "not_found"
    assert api.call("GET", address, "m1").status_code == 405
    assert api.call("DELETE", "/api/me/delegations/abc", "m1").status_code == 404

    assert api.call("DELETE", address, "m1").status_code == 204
    assert api.call("DELETE", address, "m1").status_code == 404
    assert api.call("GET", "/api/me/delegations", "m1").json() == {"data": []}

    # Administrators may revoke anyone's delegation, as on the screens.
    again = delegate(api, "m1").json()
    assert api.call("DELETE", f"/api/me/delegations/{again['id']}", "root").status_code == 204


def test_delegation_bad_bodies(api: Api) -> None:
    empty = api.call("POST", "/api/me/delegations", "m1", json={})
    assert empty.status_code == 422
    assert error_of(empty)["code"] == "validation"
    assert field_codes(empty) == {"delegate": "required", "starts_on": "required", "ends_on": "required"}

    wrong_types = api.call("POST", "/api/me/delegations", "m1",
                           json={"delegate": 7, "starts_on": 20261202, "ends_on": "2026-13-01", "role": ["member"], "reason": 1})
    assert wrong_types.status_code == 422
    assert field_codes(wrong_types) == {"delegate": "type", "starts_on": "type", "ends_on": "type.date", "role": "type",
                                        "reason": "type"}

    unknown_user = delegate(api, "m1", delegate="nobody")
    assert unknown_user.status_code == 422
    assert field_codes(unknown_user) == {"delegate": "unknown"}
    assert delegate(api, "m1", delegate="m1").status_code == 422
    role = delegate(api, "m1", role="director")
    assert role.status_code == 422
    assert field_codes(role) == {"role": "not_held"}
    backwards = delegate(api, "m1", ends_on="2026-12-01")
    assert backwards.status_code == 422
    assert "ends_on" in field_codes(backwards)

    extra = delegate(api, "m1", delegator="m2")
    assert extra.status_code == 400
    assert error_of(extra)["code"] == "unknown_field"
    assert field_codes(extra) == {"delegator": "unknown_field"}
    not_object = api.call("POST", "/api/me/delegations", "m1", content=b'"deputy"', headers={"Content-Type": "application/json"})
    assert not_object.status_code == 400
    form = api.call("POST", "/api/me/delegations", "m1", content=b"delegate=deputy",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    chinese = api.call("POST", "/api/me/delegations", "m1", lang="zh-CN", json={"starts_on": "2026-12-02", "ends_on": "2026-12-03"})
    assert error_of(chinese)["fields"] == [{"path": "delegate", "code": "required", "message": "请填写代办人的用户编号或登录名"}]

    assert api.call("GET", "/api/me/delegations", "m1").json() == {"data": []}
    assert api.client.post("/api/me/delegations", json={}).status_code == 401


def test_delegate_works_inbox_and_signs(api: Api) -> None:
    claim = api.expense("quorum")
    assert delegate(api, "m1", role="member").status_code == 201

    inbox = api.call("GET", "/api/me/inbox", "deputy").json()
    [row] = inbox["data"]
    assert (row["id"], row["kind"], row["acting_for"]) == (claim["id"], "approve", {"id": "m1", "name": "委员一"})
    assert {"user": {"id": "m1", "name": "委员一", "delegated": True}, "kind": "approve", "count": 1} in inbox["counts"]
    assert [item["id"] for item in api.call("GET", "/api/me/inbox?for=m1", "deputy").json()["data"]] == [claim["id"]]
    assert api.call("GET", "/api/me/inbox?for=deputy", "deputy").json()["data"] == []

    # The delegate reads the progress as the delegator does.
    progress = api.progress(claim["id"], "deputy")
    assert progress["acting_for"] == {"id": "m1", "name": "委员一"}

    address = f"/api/expense/{claim['id']}/transitions/approve"
    not_delegator = api.call("POST", address, "deputy", json={"version": claim["version"], "on_behalf_of": "m2"})
    assert not_delegator.status_code == 422
    assert field_codes(not_delegator) == {"on_behalf_of": "not_delegator"}
    wrong_type = api.call("POST", address, "deputy", json={"version": claim["version"], "on_behalf_of": 1})
    assert wrong_type.status_code == 400
    assert field_codes(wrong_type) == {"on_behalf_of": "type"}

    signed = api.call("POST", address, "deputy", json={"version": claim["version"], "on_behalf_of": "m1", "comment": "代签"})
    assert signed.status_code == 200, signed.text
    [signature] = api.progress(claim["id"], "m2")["approvals"][0]["levels"][0]["signatures"]
    assert (signature["approver"], signature["signed_by"], signature["comment"]) == ("m1", "deputy", "代签")
    assert api.call("GET", "/api/me/inbox", "deputy").json()["data"] == []
