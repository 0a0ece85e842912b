"""The generated create and edit forms: widgets, rules re-evaluated while typing, saving and every way a save fails."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable

from runtime.access import Actor
from tests.conftest import REPOSITORY
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from tests.web.forms_support import (
    HTMX,
    created_id,
    error_of,
    field_html,
    read_form,
    resident_id,
    submit,
    system_get,
    uscc,
    vin,
    wrong_check_digit,
)

BAD_ID = wrong_check_digit(resident_id(9))
REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"


def test_create_and_edit_every_guarantee_entity(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    admin = web_app.client("admin1")
    dealer_user = web_app.client("dealer1")
    own_dealer = Seeder(web_app.runtime.records).dealer("system", "dealer_bj_yizhuang")

    bank = created_id(submit(admin, "/records/bank/new", {"code": "ICBC", "name": "中国工商银行", "liaison_phone": "13800138001"}))
    product = created_id(submit(admin, "/records/loan_product/new", {
        "code": "LP_STD", "name": "标准车贷", "bank": str(bank), "repayment_method": "equal_instalment",
        "terms": "[12, 24, 36]", "annual_rate": "6", "guarantee_fee_rate": "1.5", "min_down_payment_ratio": "30",
        "max_ltv": "70", "max_amount": "800,000.00", "_reason": "新产品上线",
    }))
    customer = created_id(submit(admin, "/records/customer/new", {
        "name": "张三", "id_number": resident_id(1), "phone": "13800138000", "marital_status": "single",
        "monthly_income": "12,345.50", "_fields": ["name", "id_number", "phone", "marital_status", "monthly_income", "contacts"],
        "contacts.0.name": "张父", "contacts.0.relation": "parent", "contacts.0.phone": "13900139000",
    }))
    dealer = created_id(submit(admin, "/records/dealer/new", {
        "name": "北京某汽车销售服务有限公司", "credit_code": uscc(1), "legal_representative": "王五", "_reason": "入驻申请",
    }))
    vehicle = created_id(submit(admin, "/records/vehicle/new", {"brand": "大众", "vin": vin(1), "price": "200,000"}))

    own_customer = created_id(submit(dealer_user, "/records/customer/new", {
        "name": "李四", "id_number": resident_id(2), "phone": "13800138002"}))
    own_vehicle = created_id(submit(dealer_user, "/records/vehicle/new", {"brand": "丰田", "vin": vin(2), "price": "150000"}))
    terms = {"dealer": str(own_dealer), "customer": str(own_customer), "product": str(product), "vehicle": str(own_vehicle),
             "vehicle_price": "150,000", "down_payment": "50,000", "loan_amount": "100,000", "term_months": "36"}
    # Dealer staff may not write the application number, which the submit step assigns.
    application = created_id(submit(dealer_user, "/records/loan_application/new", {**terms, "application_no": "LA-2026-0001"}))
    assert system_get(web_app, "loan_application", application)["application_no"] is None

    stored = system_get(web_app, "loan_product", product)
    assert (stored["annual_rate"], stored["max_ltv"], stored["max_amount"]) == (Decimal("0.06"), Decimal("0.7"), Decimal("800000"))
    assert system_get(web_app, "customer", customer)["contacts"][0]["name"] == "张父"
    assert system_get(web_app, "customer", customer)["monthly_income"] == Decimal("12345.50")
    loan = system_get(web_app, "loan_application", application)
    assert (loan["state"], loan["org_unit"], loan["ltv"]) == ("draft", "dealer_bj_yizhuang", Decimal("0.6667"))

    edits: list[tuple[Any, str, int, dict[str, Any], str]] = [
        (admin, "bank", bank, {"short_name": "工行"}, "工行"),
        (admin, "loan_product", product, {"name": "标准车贷二期", "_reason": "更名"}, "标准车贷二期"),
        (admin, "customer", customer, {"employer": "某科技公司"}, "某科技公司"),
        (admin, "dealer", dealer, {"city": "北京", "_reason": "补充城市"}, "北京"),
        (admin, "vehicle", vehicle, {"colour": "白色"}, "白色"),
        (dealer_user, "loan_application", application, {"remarks": "客户急需用车"}, "客户急需用车"),
    ]
    for client, entity, record_id, changes, shown in edits:
        response = submit(client, f"/records/{entity}/{record_id}/edit", changes)
        assert response.status_code == 303, (entity, response.text)
        assert response.headers["location"] == f"/records/{entity}/{record_id}"
        assert shown in client.get(response.headers["location"]).text, entity
        assert system_get(web_app, entity, record_id)["version"] == 2, entity

    # The application number is shown, empty until submitted, but never offered as an input.
    edit_page = dealer_user.get(f"/records/loan_application/{application}/edit").text
    assert "<input" not in field_html(edit_page, "field-application_no")


def test_create_and_edit_in_another_application(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("root", ("admin",), "company")
    web_app.add_user("emma", ("staff",), "company")
    admin = web_app.client("root")
    staff = web_app.client("emma")

    employee = created_id(submit(admin, "/records/employee/new", {
        "employee_no": "E00001", "name": "Emma", "email": "emma@example.com", "department": "engineering"}))
    item = created_id(submit(admin, "/records/equipment_item/new", {
        "code": "LT-001", "name": "笔记本电脑", "category": "laptop", "unit_price": "8,000", "stock": "3"}))
    page = staff.get("/records/requisition/new").text
    assert re.search(r'id="section-delivery"[^>]*hidden', page)

    requisition = created_id(submit(staff, "/records/requisition/new", {
        "requisition_no": "RQ00000001", "requester": str(employee), "item": str(item), "quantity": "1",
        "reason": "开发工作需要一台新的笔记本电脑",
    }))
    stored = system_get(web_app, "requisition", requisition)
    assert (stored["state"], stored["estimated_cost"]) == ("draft", Decimal("8000.00"))

    response = submit(staff, f"/records/requisition/{requisition}/edit", {"quantity": "2"})
    assert response.status_code == 303
    assert system_get(web_app, "requisition", requisition)["estimated_cost"] == Decimal("16000.00")
    assert "¥16,000.00" in staff.get(f"/records/requisition/{requisition}").text


def test_validation_errors_keep_typed_values(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    admin = web_app.client("admin1")

    response = submit(admin, "/records/customer/new", {
        "name": "", "id_number": BAD_ID, "phone": "13800138000", "marital_status": "married",
        "monthly_income": "abc", "household_address": "北京市朝阳区某街道 1 号",
    })
    assert response.status_code == 422
    page = response.text
    assert error_of(page, "field-name") == "此项为必填项，请填写。"
    assert "校验位" in error_of(page, "field-id_number")
    assert "不是数字" in error_of(page, "field-monthly_income")
    # The form's rule makes the spouse's name required for a married customer.
    assert error_of(page, "field-spouse_name") == "此项为必填项，请填写。"
    summary = page.split('id="error-summary"')[1].split("</div>")[0]
    assert '<a href="#field-name">姓名</a>' in summary
    assert '<a href="#field-spouse_name">配偶姓名</a>' in summary
    typed = read_form(page)
    assert (typed.get("monthly_income"), typed.get("id_number"), typed.get("household_address")) == (
        "abc", BAD_ID, "北京市朝阳区某街道 1 号")

    range_error = submit(admin, "/records/vehicle/new", {"brand": "大众", "vin": vin(3), "price": "-1"})
    assert range_error.status_code == 422
    assert "最小值 0" in error_of(range_error.text, "field-price")
    percent_error = submit(admin, "/records/loan_product/new", {"annual_rate": "30"})
    assert error_of(percent_error.text, "field-annual_rate") == "请填写不大于 24% 的数值。"
    pattern_error = submit(admin, "/records/bank/new", {"code": "abc", "name": "某银行"})
    # The field explains its pattern in words (pattern_message) instead of showing the expression.
    assert error_of(pattern_error.text, "field-code") == "请填写 2 到 10 位大写英文字母，如 ICBC"

    assert submit(admin, "/records/bank/new", {"code": "ABC", "name": "农业银行"}).status_code == 303
    duplicate = submit(admin, "/records/bank/new", {"code": "ABC", "name": "另一家银行"})
    assert duplicate.status_code == 422
    assert error_of(duplicate.text, "field-code") == "已有其他记录使用了该值"
    assert read_form(duplicate.text).get("name") == "另一家银行"

    # A cross-field rule of the entity: a used vehicle needs its appraised value.
    rule = submit(admin, "/records/vehicle/new", {"condition": "used", "brand": "大众", "vin": vin(4), "price": "90000",
                                                   "first_registration_date": "2020-05-01"})
    assert rule.status_code == 422
    assert error_of(rule.text, "field-appraised_value") == "二手车须填写评估价"

    # A field the entity declares read-only cannot be set by posting it.
    read_only = submit(admin, "/records/dealer/new", {
        "name": "某车行", "credit_code": uscc(5), "legal_representative": "赵六", "_reason": "入驻",
        "_fields": ["name", "credit_code", "legal_representative", "exposure"], "exposure": "1000"})
    assert read_only.status_code == 422
    assert "只读" in read_only.text.split('id="error-summary"')[1].split("</div>")[0]


def test_rule_required_field_in_english(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("emma", ("staff",), "company")
    records = web_app.runtime.records
    actor = Actor("root", roles=("system",), org_unit="company")
    employee = records.create(actor, "employee", {"employee_no": "E00002", "name": "Emma", "email": "e2@example.com",
                                                  "department": "it"})["id"]
    item = records.create(actor, "equipment_item", {"code": "MS-001", "name": "Mouse", "category": "peripheral",
                                                    "unit_price": "99"})["id"]
    staff = web_app.client("emma", lang="en")

    response = submit(staff, "/records/requisition/new", {
        "requisition_no": "RQ00000002", "requester": str(employee), "item": str(item), "quantity": "30",
        "urgency": "urgent", "reason": "short",
    })
    assert response.status_code == 422
    page = response.text
    # needed_by is required only by the form's rule "urgency == 'urgent'".
    assert error_of(page, "field-needed_by") == "This field is required; enter a value."
    assert "maximum 20" in error_of(page, "field-quantity")
    assert "The record was not saved" in page
    assert '<a href="#field-needed_by">Needed by</a>: This field is required' in page


def test_reference_outside_scope_rejected(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    seeder = Seeder(web_app.runtime.records)
    own = seeder.customer("system", "dealer_bj_yizhuang")
    other = seeder.customer("system", "dealer_sh_pudong")
    client = web_app.client("dealer1")

    response = submit(client, "/records/vehicle/new", {"brand": "大众", "vin": vin(6), "price": "100000", "owner": str(other)})
    assert response.status_code == 422
    assert error_of(response.text, "field-owner") == f"没有您可选择的编号为 {other} 的客户；请从列表中选择。"
    assert submit(client, "/records/vehicle/new", {"brand": "大众", "vin": vin(6), "price": "100000", "owner": str(own)}).status_code == 303


def test_save_rejects_read_only_and_stale(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    web_app.add_user("credit1", ("credit_officer",), "beijing_branch")
    web_app.add_user("admin1", ("admin",), "head_office", name="管理员甲")
    seeder = Seeder(web_app.runtime.records)
    unit = "dealer_bj_yizhuang"
    bank = seeder.bank("system", "head_office")
    refs = {"customer": seeder.customer("system", unit), "dealer": seeder.dealer("system", unit),
            "product": seeder.loan_product("system", "head_office", bank), "vehicle": seeder.vehicle("system", unit)}
    application = seeder.loan_application("system", unit, refs)
    dealer_user = web_app.client("dealer1")
    admin = web_app.client("admin1")

    assert dealer_user.get(f"/records/dealer/{refs['dealer']}/edit").status_code == 403
    # Dealer staff may not write the application number: the form shows it, and posting it is rejected.
    edit_page = dealer_user.get(f"/records/loan_application/{application}/edit").text
    assert 'name="application_no"' not in edit_page
    form = read_form(edit_page)
    form.update({"_fields": form.getlist("_fields") + ["application_no"], "application_no": "LA-HACKED-01"})
    rejected = dealer_user.post(str(form.action), data=form.as_dict())
    assert rejected.status_code == 422
    assert error_of(rejected.text, "field-application_no") == "此项在此处为只读，不能修改；请重新加载表单。"

    # The blacklist section is hidden from credit officers by a rule, so its fields posted anyway are ignored.
    customer = seeder.customer("system", "beijing_credit")
    credit = web_app.client("credit1")
    ignored = submit(credit, f"/records/customer/{customer}/edit", {
        "_fields": ["name", "blacklisted"], "name": "改名", "blacklisted": "true"})
    assert ignored.status_code == 303
    assert system_get(web_app, "customer", customer)["name"] == "改名"
    assert system_get(web_app, "customer", customer)["blacklisted"] is False

    # Someone else saves between opening and saving the form.
    form = read_form(admin.get(f"/records/customer/{customer}/edit").text)
    version = system_get(web_app, "customer", customer)["version"]
    web_app.runtime.records.update(Actor("admin1"), "customer", customer, {"employer": "甲公司"}, version=version)
    form.update({"employer": "乙公司", "job_title": "经理"})
    response = admin.post(str(form.action), data=form.as_dict())
    assert response.status_code == 409
    assert "管理员甲" in response.text
    assert "您的修改没有保存" in response.text
    assert f'href="/records/customer/{customer}/edit"' in response.text
    assert read_form(response.text).get("employer") == "乙公司"
    assert system_get(web_app, "customer", customer)["employer"] == "甲公司"


def test_form_state_redraws_changed_parts(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    client = web_app.client("admin1")
    form = read_form(client.get("/records/customer/new").text)
    form.update({"marital_status": "married", "name": "张"})

    response = client.post("/records/customer/form-state", data=form.as_dict(), headers=HTMX)
    assert response.status_code == 200
    spouse = field_html(response.text, "field-spouse_name")
    assert 'hx-swap-oob="true"' in spouse
    assert "required" in spouse
    assert 'name="spouse_name"' in spouse
    assert 'id="field-spouse_phone"' in response.text
    assert 'id="field-name"' not in response.text
    assert 'id="field-marital_status"' not in response.text
    layout = re.search(r'name="_layout" id="form-layout" value="([^"]*)" hx-swap-oob="true"', response.text)
    assert layout is not None

    # With the new signatures posted back, nothing changed, so only the signatures come back.
    form.set("_layout", layout.group(1))
    again = client.post("/records/customer/form-state", data=form.as_dict(), headers=HTMX)
    assert 'id="field-' not in again.text
    assert 'id="section-' not in again.text

    # Blacklisting makes the reason visible and required.
    form.set("blacklisted", ["false", "true"])
    blacklisted = client.post("/records/customer/form-state", data=form.as_dict(), headers=HTMX)
    assert "required" in field_html(blacklisted.text, "field-blacklist_reason").split(">")[0]


def test_form_section_visible_by_state(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("root", ("admin",), "company")
    actor = Actor("system-test", roles=("system",), org_unit="company")
    records = web_app.runtime.records
    employee = records.create(actor, "employee", {"employee_no": "E00003", "name": "Ann", "email": "a@example.com", "department": "it"})
    item = records.create(actor, "equipment_item", {"code": "MN-001", "name": "显示器", "category": "monitor", "unit_price": "1500"})
    requisition = records.create(actor, "requisition", {"requisition_no": "RQ00000003", "requester": employee["id"],
                                                        "item": item["id"], "reason": "需要第二块显示器提高效率"})
    client = web_app.client("root")

    draft_page = client.get(f"/records/requisition/{requisition['id']}/edit").text
    assert re.search(r'<section id="section-delivery"[^>]*hidden', draft_page)
    version = records.transition(actor, "requisition", requisition["id"], "submit", version=1)["version"]
    records.transition(actor, "requisition", requisition["id"], "manager_approve", version=version)

    review_page = client.get(f"/records/requisition/{requisition['id']}/edit").text
    assert not re.search(r'<section id="section-delivery"[^>]*hidden', review_page)
    assert 'name="asset_tags"' in review_page
    # The state lists the fields it leaves editable; the rest is shown read-only.
    assert 'name="reason"' not in review_page
    assert "需要第二块显示器提高效率" in review_page

    form = read_form(review_page)
    form.update({"_fields": ["reason", "asset_tags"], "reason": "改写的理由文字足够长", "asset_tags": "IT-0001"})
    rejected = client.post(str(form.action), data=form.as_dict())
    assert rejected.status_code == 422
    assert "只读" in error_of(rejected.text, "field-reason")


def test_child_rows_added_removed_renumbered(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    client = web_app.client("admin1")
    page = client.get("/records/customer/new").text
    assert 'name="contacts.__index__.phone"' in page.split('<template class="child-template">')[1].split("</template>")[0]

    rows = {"contacts.0.name": "父亲", "contacts.0.relation": "parent", "contacts.0.phone": "13900139001",
            "contacts.1.name": "同事", "contacts.1.relation": "colleague", "contacts.1.phone": "139001"}
    base = {"name": "王五", "id_number": resident_id(7), "phone": "13800138007",
            "_fields": ["name", "id_number", "phone", "contacts"]}
    failed = submit(client, "/records/customer/new", {**base, **rows})
    assert failed.status_code == 422
    assert "11 位" in error_of(failed.text, "field-contacts-1-phone")
    assert read_form(failed.text).get("contacts.1.name") == "同事"

    customer = created_id(submit(client, "/records/customer/new", {**base, **rows, "contacts.1.phone": "13900139002"}))
    assert [row["name"] for row in system_get(web_app, "customer", customer)["contacts"]] == ["父亲", "同事"]

    # The phones are masked even for administrators: their cells start empty and keep the stored values.
    page = client.get(f"/records/customer/{customer}/edit").text
    assert "13900139002" not in page
    assert "139****9002（留空则保持不变）" in page
    form = read_form(page)
    assert (form.get("contacts.1.name"), form.get("contacts.1.phone")) == ("同事", "")

    # Removing the first row renumbers the second to index 0, as forms.js does, and adds a new row.
    for name in ("_row", "name", "relation", "phone"):
        form.set(f"contacts.0.{name}", form.get(f"contacts.1.{name}") or "")
        form.remove(f"contacts.1.{name}")
    form.update({"contacts.1.name": "朋友", "contacts.1.relation": "friend", "contacts.1.phone": "13600136000"})
    assert client.post(str(form.action), data=form.as_dict()).status_code == 303
    contacts = system_get(web_app, "customer", customer)["contacts"]
    assert [(row["name"], row["relation"], row["phone"]) for row in contacts] == [
        ("同事", "colleague", "13900139002"), ("朋友", "friend", "13600136000")]

    # A new row has no stored value to keep, so its masked cell must be filled in.
    form = read_form(client.get(f"/records/customer/{customer}/edit").text)
    form.update({"contacts.2.name": "邻居", "contacts.2.relation": "friend", "contacts.2.phone": ""})
    missing = client.post(str(form.action), data=form.as_dict())
    assert missing.status_code == 422
    assert error_of(missing.text, "field-contacts-2-phone") == "此项为必填项，请填写。"
