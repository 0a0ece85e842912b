"""Controls of the generated forms: fragments, masked values, uploads, single-field checks, lookups and conversions."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Callable
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData as PostedForm

from metamodel import load_app
from runtime.access import Actor
from runtime.form_rules import form_for
from tests.conftest import REPOSITORY, AppFactory
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from tests.web.forms_support import (
    HTMX,
    created_id,
    error_of,
    field_html,
    png_bytes,
    read_form,
    resident_id,
    submit,
    system_get,
    wrong_check_digit,
)
from ui.web.widgets import input_of, parse_input, submitted_value

BAD_ID = wrong_check_digit(resident_id(9))
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_widget_conversions_round_trip() -> None:
    model = load_app(REPOSITORY / "configs" / "guarantee")
    product = model.entities["loan_product"].fields
    customer = model.entities["customer"].fields
    consent = customer["consent_signed_at"]

    assert input_of(product["max_ltv"], Decimal("0.7000"), SHANGHAI) == "70"
    assert submitted_value(product["max_ltv"], "70.5%", SHANGHAI) == Decimal("0.705")
    assert submitted_value(product["max_ltv"], "七十", SHANGHAI) == "七十"
    assert input_of(product["max_amount"], Decimal("1234567.5"), SHANGHAI) == "1,234,567.50"
    moment = datetime.datetime(2026, 3, 1, 2, 30, tzinfo=datetime.timezone.utc)
    assert input_of(consent, moment, SHANGHAI) == "2026-03-01T10:30"
    assert submitted_value(consent, "2026-03-01T10:30", SHANGHAI) == moment

    posted = PostedForm([("contacts.1.name", "乙"), ("contacts.0.name", "甲"), ("contacts.0._row", "7"),
                         ("contacts.0.relation", "parent"), ("contacts.1.phone", ""), ("contacts.9", "ignored")])
    rows = parse_input(customer["contacts"], posted)
    assert [row["name"] for row in rows] == ["甲", "乙"]
    assert submitted_value(customer["contacts"], rows, SHANGHAI) == [
        {"_row": "7", "name": "甲", "relation": "parent", "phone": None},
        {"name": "乙", "relation": None, "phone": None},
    ]
    assert parse_input(customer["blacklisted"], PostedForm([("blacklisted", "false"), ("blacklisted", "true")])) is True
    assert parse_input(customer["blacklisted"], PostedForm([("blacklisted", "false")])) is False


def test_generated_form_lists_every_field(make_app: AppFactory) -> None:
    model = load_app(make_app())
    form = form_for(model, "item")
    assert [section.name for section in form.sections] == ["main"]
    assert [item.field for item in form.sections[0].fields] == ["title", "price"]


def test_htmx_gets_form_fragment(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    client = web_app.client("admin1")

    whole = client.get("/records/bank/new")
    fragment = client.get("/records/bank/new", headers=HTMX)
    assert "<html" in whole.text
    assert "<html" not in fragment.text
    assert fragment.text.lstrip().startswith("<div id=\"form-area\">")

    failed = submit(client, "/records/bank/new", {"code": "x"}, headers=HTMX)
    assert failed.status_code == 422
    assert "<html" not in failed.text
    assert 'id="error-summary"' in failed.text
    saved = submit(client, "/records/bank/new", {"code": "BOC", "name": "中国银行"}, headers=HTMX)
    assert saved.status_code == 200
    assert re.fullmatch(r"/records/bank/\d+", saved.headers["hx-redirect"])


def test_masked_values_kept_when_empty(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    customer = Seeder(web_app.runtime.records).customer("system", "dealer_bj_yizhuang")
    stored = system_get(web_app, "customer", customer)
    client = web_app.client("dealer1")

    page = client.get(f"/records/customer/{customer}/edit").text
    assert stored["id_number"] not in page
    assert stored["phone"] not in page
    assert read_form(page).get("id_number") == ""
    assert "留空则保持不变" in field_html(page, "field-id_number")
    assert 'name="blacklisted"' not in page
    assert "黑名单" not in page

    assert submit(client, f"/records/customer/{customer}/edit", {"employer": "某公司"}).status_code == 303
    after = system_get(web_app, "customer", customer)
    assert (after["id_number"], after["phone"], after["employer"]) == (stored["id_number"], stored["phone"], "某公司")

    assert submit(client, f"/records/customer/{customer}/edit", {"phone": "13700137000"}).status_code == 303
    assert system_get(web_app, "customer", customer)["phone"] == "13700137000"


def test_uploads_survive_failed_save(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    web_app.add_user("dealer2", ("dealer_staff",), "dealer_sh_pudong")
    client = web_app.client("dealer1")
    files = {"id_card_copies": ("正面.png", png_bytes(), "image/png")}

    failed = submit(client, "/records/customer/new", {"name": "", "id_number": resident_id(8), "phone": "13800138008"},
                    files=files)
    assert failed.status_code == 422
    carried = read_form(failed.text)
    assert len(carried.getlist("id_card_copies.pending")) == 1
    assert "正面.png" in failed.text

    carried.update({"name": "赵七", "id_card_copies.pending": carried.getlist("id_card_copies.pending") + ["forged.token"]})
    response = client.post(str(carried.action), data=carried.as_dict())
    customer = created_id(response)
    copies = system_get(web_app, "customer", customer)["id_card_copies"]
    assert [item["filename"] for item in copies] == ["正面.png"]

    detail = client.get(f"/records/customer/{customer}").text
    link = f"/records/customer/{customer}/files/id_card_copies/{copies[0]['sha256']}"
    assert link in detail
    download = client.get(link)
    assert download.status_code == 200
    assert download.content == png_bytes()
    assert download.headers["content-type"] == "image/png"
    assert web_app.client("dealer2").get(link).status_code == 404

    # A rejected file is reported beside its field, and the form keeps everything else.
    rejected = submit(client, f"/records/customer/{customer}/edit", {"employer": "某公司"},
                      files={"id_card_copies": ("notes.txt", b"plain text", "text/plain")})
    assert rejected.status_code == 422
    assert "notes.txt" in error_of(rejected.text, "field-id_card_copies")
    assert read_form(rejected.text).get("employer") == "某公司"

    # The same content again, under another name, is reported rather than kept twice or dropped silently.
    again = submit(client, f"/records/customer/{customer}/edit", {"employer": "某公司"},
                   files={"id_card_copies": ("反面.png", png_bytes(), "image/png")})
    assert again.status_code == 422
    assert "反面.png 与已上传的 正面.png 内容完全相同" in error_of(again.text, "field-id_card_copies")
    assert [item["filename"] for item in system_get(web_app, "customer", customer)["id_card_copies"]] == ["正面.png"]

    # Removing a file keeps the others: the form posts the files it keeps.
    removed = submit(client, f"/records/customer/{customer}/edit", remove=("id_card_copies.keep",))
    assert removed.status_code == 303
    assert system_get(web_app, "customer", customer)["id_card_copies"] == []


def test_field_check_and_lookup(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    seeder = Seeder(web_app.runtime.records)
    own = seeder.customer("system", "dealer_bj_yizhuang")
    seeder.customer("system", "dealer_sh_pudong")
    client = web_app.client("dealer1")
    token = web_app.csrf(client)

    bad = client.post("/records/customer/validate-field", data={"_field": "id_number", "id_number": BAD_ID},
                      headers={**HTMX, "X-CSRF-Token": token})
    assert bad.status_code == 200
    assert 'id="err-field-id_number"' in bad.text
    assert "校验位" in bad.text
    good = client.post("/records/customer/validate-field", data={"contacts.2.phone": "13800138000"},
                       headers={**HTMX, "X-CSRF-Token": token, "HX-Trigger-Name": "contacts.2.phone"})
    assert re.fullmatch(r'<div class="error" id="err-field-contacts-2-phone" aria-live="polite"></div>\s*', good.text)

    options = client.get("/records/customer/lookup?q=客户", headers=HTMX)
    assert f'data-id="{own}"' in options.text
    assert options.text.count('class="ref-option"') == 1
    as_json = client.get("/records/customer/lookup?limit=5", headers={"Accept": "application/json"})
    assert as_json.json() == {"items": [{"id": own, "title": system_get(web_app, "customer", own)["name"]}]}
    assert client.get("/records/customer/lookup?q=nobody").text.strip().startswith('<div class="ref-empty">')
    assert client.get("/records/loan_application/lookup?q=x").status_code == 200
    assert client.get("/records/bank/new").status_code == 403


def test_percent_money_and_rule_visibility(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    client = web_app.client("admin1")
    seeder = Seeder(web_app.runtime.records)
    bank = seeder.bank("system", "head_office")
    product = seeder.loan_product("system", "head_office", bank)

    page = client.get(f"/records/loan_product/{product}/edit").text
    assert read_form(page).get("min_down_payment_ratio") == "30"
    assert read_form(page).get("annual_rate") == "6"
    assert read_form(page).get("max_amount") == "800,000.00"
    # fee_rate shows only for credit-card instalments.
    assert re.search(r'<div id="field-fee_rate"[^>]*hidden', page)
    card = submit(client, f"/records/loan_product/{product}/edit", {
        "repayment_method": "card_instalment", "annual_rate": "0", "_reason": "改为信用卡分期",
        "_fields": read_form(page).getlist("_fields") + ["fee_rate"], "fee_rate": "0.6"})
    assert card.status_code == 303, card.text
    assert system_get(web_app, "loan_product", product)["fee_rate"] == Decimal("0.006")


SHOP_FILES: dict[str, str | bytes | None] = {
    "entities/tag.yaml": """
        name: tag
        label: {zh-CN: 标签, en: Tag}
        title: name
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true}
    """,
    "entities/item.yaml": """
        name: item
        label: {zh-CN: 商品, en: Item}
        title: title
        fields:
          - {name: title, type: string, label: {zh-CN: 名称, en: Title}, required: true}
          - {name: tags, type: multi_reference, entity: tag, label: {zh-CN: 标签, en: Tags}}
          - {name: fragile, type: boolean, label: {zh-CN: 易碎, en: Fragile}}
          - {name: launched_on, type: date, label: {zh-CN: 上市日期, en: Launched on}}
          - {name: spec, type: json, label: {zh-CN: 规格, en: Specification}}
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 店员, en: Clerk}}
        org_units:
          - {name: shop, label: {zh-CN: 小店, en: Shop}, kind: company}
        grants:
          - {role: clerk, entity: item, actions: [read, create, update, delete], scope: all}
          - {role: clerk, entity: tag, actions: [read], scope: all}
    """,
}


def test_generated_form_multi_reference(make_app: AppFactory, make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(make_app(SHOP_FILES))
    web_app.add_user("clerk", ("clerk",), "shop")
    seed = Actor("seed", roles=("system",), org_unit="shop")
    tea = web_app.runtime.records.create(seed, "tag", {"name": "茶叶"})["id"]
    gift = web_app.runtime.records.create(seed, "tag", {"name": "礼品"})["id"]
    client = web_app.client("clerk")

    page = client.get("/records/item/new").text
    assert 'id="section-main"' in page
    assert 'class="ref-widget multiple"' in page
    item = created_id(submit(client, "/records/item/new", {
        "title": "龙井", "tags": [str(tea), str(gift)], "fragile": ["false", "true"], "launched_on": "2026-03-01",
        "spec": '{"grams": 250}'}))
    stored = system_get(web_app, "item", item)
    assert stored["tags"] == [tea, gift]
    assert stored["fragile"] is True
    assert stored["spec"] == {"grams": 250}

    detail = client.get(f"/records/item/{item}").text
    assert f'<a href="/records/tag/{tea}">茶叶</a>, <a href="/records/tag/{gift}">礼品</a>' in detail
    form = read_form(client.get(f"/records/item/{item}/edit").text)
    assert form.getlist("tags") == [str(tea), str(gift)]
    form.set("tags", [str(gift)])
    assert client.post(str(form.action), data=form.as_dict()).status_code == 303
    assert system_get(web_app, "item", item)["tags"] == [gift]
