"""A failed save shows the errors of the values and of the entity's rules together, beside each field and in the summary."""

from __future__ import annotations

import datetime
import re
from typing import Callable

import pytest
import stdnum.cn.ric

from runtime.access import SYSTEM_ACTOR, Actor
from runtime.errors import ValidationFailed
from tests.conftest import AppFactory
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from tests.web.forms_support import created_id, error_of, resident_id, submit, system_get, vin, wrong_check_digit


def summary_of(html: str) -> str:
    summary = html.split('id="error-summary"', 1)[1].split(">", 1)[1].split("</div>")[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", summary)).strip()


def loan_world(web_app: WebApp) -> dict[str, int]:
    seeder = Seeder(web_app.runtime.records)
    unit = "dealer_bj_yizhuang"
    bank = seeder.bank("system", "head_office")
    return {"customer": seeder.customer("system", unit), "dealer": seeder.dealer("system", unit),
            "product": seeder.loan_product("system", "head_office", bank), "vehicle": seeder.vehicle("system", unit)}


def test_new_record_field_and_rule_errors(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    refs = loan_world(web_app)
    client = web_app.client("dealer1")

    response = submit(client, "/records/loan_application/new", {
        **{name: str(value) for name, value in refs.items()},
        "vehicle_price": "200000", "down_payment": "300000", "loan_amount": "abc"})
    assert response.status_code == 422
    page = response.text
    # The rule over two valid amounts is reported with the error of the third amount.
    assert error_of(page, "field-down_payment") == "首付款不能高于车辆成交价"
    assert "不是数字" in error_of(page, "field-loan_amount")
    # The rules that read the invalid loan amount are skipped rather than reported on top of it.
    assert "贷款" not in error_of(page, "field-loan_amount").replace("不是数字", "")
    assert "成数" not in page.split('id="error-summary"')[1].split("</div>")[0]
    summary = summary_of(page)
    assert "首付款（元）：首付款不能高于车辆成交价" in summary
    assert "贷款金额（元）：这不是数字" in summary

    customer = submit(client, "/records/customer/new", {
        "name": "", "id_number": wrong_check_digit(resident_id(3)), "phone": "13800138003",
        "birth_date": (datetime.date.today() - datetime.timedelta(days=365 * 10)).isoformat(),
        "marital_status": "married", "spouse_name": ""})
    assert customer.status_code == 422
    assert error_of(customer.text, "field-name") == "此项为必填项，请填写。"
    assert "校验位" in error_of(customer.text, "field-id_number")
    assert error_of(customer.text, "field-birth_date") == "借款人年龄须在 18 至 65 周岁之间"
    # The form's rule makes the spouse's name required, so the entity's rule saying the same is skipped.
    assert error_of(customer.text, "field-spouse_name") == "此项为必填项，请填写。"
    assert "借款人年龄须在 18 至 65 周岁之间" in summary_of(customer.text)


def test_edit_field_and_rule_errors_english(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    vehicle = Seeder(web_app.runtime.records).vehicle("system", "head_office")
    client = web_app.client("admin1", lang="en")

    response = submit(client, f"/records/vehicle/{vehicle}/edit", {"condition": "used", "price": "-1"})
    assert response.status_code == 422
    page = response.text
    assert "minimum 0" in error_of(page, "field-price")
    assert error_of(page, "field-appraised_value") == "Enter the appraised value of a used vehicle"
    assert error_of(page, "field-first_registration_date") == "Enter the first registration date of a used vehicle"
    summary = summary_of(page)
    assert "Appraised value" in summary
    assert "Enter the appraised value of a used vehicle" in summary
    assert system_get(web_app, "vehicle", vehicle)["condition"] != "used"

    fixed = submit(client, f"/records/vehicle/{vehicle}/edit", {
        "condition": "used", "price": "90000",
        "_fields": ["condition", "price", "appraised_value", "first_registration_date"],
        "appraised_value": "80000", "first_registration_date": "2020-05-01"})
    assert fixed.status_code == 303, fixed.text


def same_mask_ids() -> tuple[str, str]:
    """Return two resident ID numbers that differ but read the same masked: same first three and last four characters."""
    seen: dict[str, str] = {}
    day = datetime.date(1985, 1, 1)
    while True:
        body = f"110105{day:%Y%m%d}123"
        number = body + stdnum.cn.ric.calc_check_digit(body + "0")
        if number[-1] in seen:
            return seen[number[-1]], number
        seen[number[-1]] = number
        day += datetime.timedelta(days=1)


def test_rules_read_masked_values_in_clear(web_app: WebApp) -> None:
    dealer = web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    own, spouse = same_mask_ids()
    records = web_app.runtime.records
    seed = Actor("seed", roles=("system",), org_unit="dealer_bj_yizhuang")
    customer = records.create(seed, "customer", {
        "name": "赵六", "id_number": own, "phone": "13800138006", "marital_status": "married",
        "spouse_name": "钱七", "spouse_id_number": spouse})["id"]
    read = web_app.state.records.get(dealer, "customer", customer)
    assert read["id_number"] == read["spouse_id_number"]
    client = web_app.client("dealer1")

    # Both numbers read the same masked, but they differ, so the rule passes and the save goes through.
    assert submit(client, f"/records/customer/{customer}/edit", {"employer": "某公司"}).status_code == 303
    assert system_get(web_app, "customer", customer)["employer"] == "某公司"

    # The spouse's number typed equal to the customer's own fails the rule, reported with the phone's error.
    failed = submit(client, f"/records/customer/{customer}/edit", {"spouse_id_number": own, "phone": "123"})
    assert failed.status_code == 422
    assert "11 位" in error_of(failed.text, "field-phone")
    assert error_of(failed.text, "field-spouse_id_number") == "配偶身份证号不能与本人相同"
    assert system_get(web_app, "customer", customer)["spouse_id_number"] == spouse

    # The record service still checks the rule for every caller.
    stored = system_get(web_app, "customer", customer)
    with pytest.raises(ValidationFailed) as rejected:
        records.update(SYSTEM_ACTOR, "customer", customer, {"spouse_id_number": own}, version=stored["version"])
    assert [item.code for item in rejected.value.errors["spouse_id_number"]] == ["rule.spouse_not_self"]


#: An order with a computed total. A rule over the total is skipped while an input of the total is invalid.
ORDER_FILES: dict[str, str | bytes | None] = {
    "entities/item.yaml": """
        name: item
        label: {zh-CN: 订单, en: Order}
        fields:
          - {name: title, type: string, label: {zh-CN: 名称, en: Title}, required: true}
          - {name: price, type: money, label: {zh-CN: 单价, en: Price}, min: 0}
          - {name: quantity, type: integer, label: {zh-CN: 数量, en: Quantity}, min: 1}
          - {name: total, type: money, label: {zh-CN: 金额, en: Total}, computed: "price * quantity"}
        rules:
          - name: minimum_order
            check: "not is_empty(total) and total >= 100"
            message: {zh-CN: 订单金额不能低于 100 元, en: An order must come to at least 100}
            fields: [quantity]
          - name: title_not_placeholder
            check: "title != 'TBD'"
            message: {zh-CN: 请填写真实名称, en: Enter the real title}
            fields: [title]
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 店员, en: Clerk}}
        org_units:
          - {name: shop, label: {zh-CN: 小店, en: Shop}, kind: company}
        grants:
          - {role: clerk, entity: item, actions: [read, create, update, delete], scope: all}
    """,
}


def test_rule_over_invalid_computed_skipped(make_app: AppFactory, make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(make_app(ORDER_FILES))
    web_app.add_user("clerk", ("clerk",), "shop")
    client = web_app.client("clerk")

    invalid_price = submit(client, "/records/item/new", {"title": "TBD", "price": "abc", "quantity": "2"})
    assert invalid_price.status_code == 422
    assert "不是数字" in error_of(invalid_price.text, "field-price")
    assert error_of(invalid_price.text, "field-title") == "请填写真实名称"
    assert error_of(invalid_price.text, "field-quantity") == ""

    too_small = submit(client, "/records/item/new", {"title": "TBD", "price": "10", "quantity": "2"})
    assert too_small.status_code == 422
    assert error_of(too_small.text, "field-quantity") == "订单金额不能低于 100 元"
    assert error_of(too_small.text, "field-title") == "请填写真实名称"

    item = created_id(submit(client, "/records/item/new", {"title": "茶叶", "price": "60", "quantity": "2"}))
    assert system_get(web_app, "item", item)["total"] == 120
