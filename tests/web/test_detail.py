"""The detail page: read-only sections, masking and hidden fields, transitions, delete, downloads and the history."""

from __future__ import annotations

import re
from typing import Callable

import pytest

from runtime.access import SYSTEM_ACTOR, Actor
from runtime.errors import NotFound
from runtime.history import record_history
from tests.conftest import REPOSITORY
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from tests.web.forms_support import HTMX, field_html, read_form, submit

REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"
DEALER_UNIT = "dealer_bj_yizhuang"


def seed_application(web_app: WebApp, unit: str = DEALER_UNIT) -> dict[str, int]:
    seeder = Seeder(web_app.runtime.records)
    bank = seeder.bank("system", "head_office")
    refs = {"customer": seeder.customer("system", unit), "dealer": seeder.dealer("system", unit),
            "product": seeder.loan_product("system", "head_office", bank), "vehicle": seeder.vehicle("system", unit)}
    return {**refs, "application": seeder.loan_application("system", unit, refs)}


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_detail_formats_values_and_links(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    ids = seed_application(web_app)
    client = web_app.client("admin1")

    page = client.get(f"/records/loan_application/{ids['application']}")
    assert page.status_code == 200
    html = page.text
    assert '<span class="badge state-badge" title="状态">草稿</span>' in html
    assert "¥200,000.00" in text_of(field_html(html, "field-vehicle_price"))
    assert "贷款成数 50%" in text_of(field_html(html, "field-ltv"))
    customer = web_app.runtime.records.get(SYSTEM_ACTOR, "customer", ids["customer"])
    assert f'<a href="/records/customer/{ids["customer"]}">{customer["name"]}</a>' in field_html(html, "field-customer")
    # The funding section is for approved loans only, and nothing is editable on the detail page.
    assert 'id="section-funding"' not in html
    assert "<input type=\"text\"" not in html
    assert f'href="/records/loan_application/{ids["application"]}/edit"' in html

    english = web_app.client("admin1", lang="en").get(f"/records/loan_application/{ids['application']}").text
    assert ">Draft</span>" in english
    assert "Parties and vehicle" in english


def test_detail_masks_and_hides_for_dealer(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), DEALER_UNIT)
    web_app.add_user("risk1", ("risk_manager",), "risk_department")
    ids = seed_application(web_app)
    records = web_app.runtime.records
    customer = records.get(SYSTEM_ACTOR, "customer", ids["customer"])
    records.update(SYSTEM_ACTOR, "customer", ids["customer"], {"blacklisted": True, "blacklist_reason": "多头借贷"},
                   version=customer["version"])
    dealer = web_app.client("dealer1")

    html = dealer.get(f"/records/customer/{ids['customer']}").text
    assert customer["id_number"] not in html
    assert customer["phone"] not in html
    assert customer["id_number"][:3] + "*" in text_of(field_html(html, "field-id_number"))
    assert "黑名单" not in html
    assert "多头借贷" not in html
    assert 'id="section-blacklist"' not in html
    loan = dealer.get(f"/records/loan_application/{ids['application']}").text
    assert 'id="section-risk"' not in loan
    assert "评分卡" not in loan
    assert "提交申请" in loan
    assert "撤销申请" in loan

    risk_view = web_app.client("risk1").get(f"/records/customer/{ids['customer']}").text
    assert "多头借贷" in risk_view


def test_history_per_user_visibility(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office", name="管理员甲")
    web_app.add_user("dealer1", ("dealer_staff",), DEALER_UNIT)
    web_app.add_user("dealer2", ("dealer_staff",), "dealer_sh_pudong")
    customer = Seeder(web_app.runtime.records).customer("system", DEALER_UNIT)
    admin = web_app.client("admin1")
    assert submit(admin, f"/records/customer/{customer}/edit", {
        "employer": "某科技公司", "monthly_income": "8,000", "phone": "13700137000",
        "_fields": read_form(admin.get(f"/records/customer/{customer}/edit").text).getlist("_fields") + ["blacklist_reason"],
        "blacklisted": ["false", "true"], "blacklist_reason": "逾期未还"}).status_code == 303

    history = admin.get(f"/records/customer/{customer}?tab=history").text
    assert 'id="tab-history" checked' in history
    panel = text_of(history.split('<div id="history">')[1])
    assert "管理员甲 修改" in panel
    assert "创建" in panel
    assert "月收入（元） ¥8,000.00" in panel
    assert "工作单位 某科技公司" in panel
    assert "13700137000" not in history
    assert "137****7000" in panel
    assert "拉黑原因 逾期未还" in panel

    dealer_panel = text_of(web_app.client("dealer1").get(f"/records/customer/{customer}").text.split('<div id="history">')[1])
    assert "某科技公司" in dealer_panel
    assert "逾期未还" not in dealer_panel
    assert "黑名单" not in dealer_panel

    outsider = Actor("dealer2", roles=("dealer_staff",), org_unit="dealer_sh_pudong")
    with pytest.raises(NotFound):
        record_history(web_app.state.records, outsider, "customer", customer)
    assert web_app.client("dealer2").get(f"/records/customer/{customer}").status_code == 404
    entries = record_history(web_app.state.records, Actor("admin1", roles=("admin",), org_unit="head_office"), "customer", customer)
    assert [entry.action for entry in entries] == ["update", "create"]


def test_transition_redraws_workflow(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("emma", ("staff",), "company")
    web_app.add_user("mike", ("manager",), "company")
    records = web_app.runtime.records
    seed = Actor("emma", roles=("system",), org_unit="company")
    employee = records.create(seed, "employee", {"employee_no": "E00009", "name": "Emma", "email": "e9@example.com", "department": "it"})
    item = records.create(seed, "equipment_item", {"code": "KB-001", "name": "键盘", "category": "peripheral", "unit_price": "199"})
    requisition = records.create(seed, "requisition", {"requisition_no": "RQ00000009", "requester": employee["id"],
                                                       "item": item["id"], "reason": "键盘坏了需要更换一个"})["id"]
    staff = web_app.client("emma")
    url = f"/records/requisition/{requisition}"

    page = staff.get(url).text
    assert f'href="{url}/edit"' in page
    assert f'action="{url}/transitions/submit"' in page
    assert f'action="{url}/transitions/withdraw"' in page
    assert "manager_approve" not in page
    form = read_form(page.replace('class="transition-form"', 'id="submit-form"', 1), "submit-form")
    response = staff.post(str(form.action), data=form.as_dict(), headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="workflow"')
    assert "<html" not in response.text
    assert "上级审批" in response.text
    assert "transitions/submit" not in response.text
    history = response.text.split('<div id="history" hx-swap-oob="true">')[1]
    assert "提交" in text_of(history)
    assert "状态 草稿 上级审批" in text_of(history)
    # The manager's review state locks every field, so the submitter is offered no edit.
    assert f'href="{url}/edit"' not in staff.get(url).text

    # Sending back needs a comment: the rejection shows in the workflow part, with the comment typed kept.
    manager = web_app.client("mike")
    page = manager.get(url).text
    assert "transitions/send_back" in page
    assert 'aria-required="true"' in page
    token = web_app.csrf(manager)
    version = records.get(SYSTEM_ACTOR, "requisition", requisition)["version"]
    rejected = manager.post(f"{url}/transitions/send_back", data={"csrf_token": token, "_version": str(version), "comment": " "},
                           headers=HTMX)
    assert rejected.status_code == 422
    assert "审批意见: 请填写审批意见。" in text_of(rejected.text)
    stale = manager.post(f"{url}/transitions/send_back", data={"csrf_token": token, "_version": "1", "comment": "数量不对"},
                         headers=HTMX)
    assert stale.status_code == 409
    assert "数量不对" in stale.text
    assert "重新加载记录" in stale.text
    sent_back = manager.post(f"{url}/transitions/send_back", data={"csrf_token": token, "_version": str(version), "comment": "数量不对"})
    assert sent_back.status_code == 303
    assert sent_back.headers["location"] == url
    assert "已退回" in manager.get(url).text
    assert "数量不对" in manager.get(f"{url}?tab=history").text


def test_transition_confirm_and_comment(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), DEALER_UNIT)
    ids = seed_application(web_app)
    page = web_app.client("dealer1").get(f"/records/loan_application/{ids['application']}").text
    cancel = page.split(f'action="/records/loan_application/{ids["application"]}/transitions/cancel"')[1].split("</form>")[0]
    assert 'data-confirm="撤销后不能恢复，确定撤销该申请？"' in cancel
    assert 'name="comment"' in cancel
    assert "审批意见（必填）" in cancel


def test_delete_version_and_reason(web_app: WebApp) -> None:
    web_app.add_user("admin1", ("admin",), "head_office")
    seeder = Seeder(web_app.runtime.records)
    bank = seeder.bank("system", "head_office")
    dealer = seeder.dealer("system", "head_office")
    client = web_app.client("admin1")
    token = web_app.csrf(client)

    stale = client.post(f"/records/bank/{bank}/delete", data={"csrf_token": token, "_version": "7"}, headers=HTMX)
    assert stale.status_code == 409
    assert "重新加载记录" in stale.text
    deleted = client.post(f"/records/bank/{bank}/delete", data={"csrf_token": token, "_version": "1"})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/records/bank"
    assert client.get(f"/records/bank/{bank}").status_code == 404

    page = client.get(f"/records/dealer/{dealer}").text
    assert 'name="_reason"' in page
    assert 'data-confirm="确定删除此记录？"' in page
    no_reason = client.post(f"/records/dealer/{dealer}/delete", data={"csrf_token": token, "_version": "1"}, headers=HTMX)
    assert no_reason.status_code == 422
    assert "请填写删除原因" in no_reason.text
    with_reason = client.post(f"/records/dealer/{dealer}/delete", data={"csrf_token": token, "_version": "1", "_reason": "终止合作"},
                              headers=HTMX)
    assert with_reason.status_code == 200
    assert with_reason.headers["hx-redirect"] == "/records/dealer"


def test_detail_scope_and_permission(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), DEALER_UNIT)
    ids = seed_application(web_app, "dealer_sh_pudong")
    client = web_app.client("dealer1")
    for path in (f"/records/customer/{ids['customer']}", f"/records/loan_application/{ids['application']}",
                 f"/records/customer/{ids['customer']}/edit", "/records/customer/999999", "/records/nothing/1"):
        assert client.get(path).status_code == 404, path
    page = client.get("/records/dealer/999999")
    assert page.status_code == 404
    assert "记录不存在" in page.text
    web_app.add_user("viewer", ("collector",), "beijing_post_loan")
    # Collectors read loans in repayment, never dealers: the screen answers 403 for an entity the role may not read.
    assert web_app.client("viewer").get(f"/records/dealer/{ids['dealer']}").status_code == 403


def test_download_through_record(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), DEALER_UNIT)
    web_app.add_user("dealer2", ("dealer_staff",), "dealer_sh_pudong")
    customer = Seeder(web_app.runtime.records).customer("system", DEALER_UNIT)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    attached = web_app.state.attachments.attach(Actor("s", roles=("system",)), "customer", customer, "id_card_copies", pdf,
                                                filename="身份证 正面.pdf", version=1)
    sha = attached["id_card_copies"][0]["sha256"]
    link = f"/records/customer/{customer}/files/id_card_copies/{sha}"

    response = web_app.client("dealer1").get(link)
    assert response.status_code == 200
    assert response.content == pdf
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"___ __.pdf\"; filename*=UTF-8''%E8%BA%AB%E4%BB%BD%E8%AF%81%20%E6%AD%A3%E9%9D%A2.pdf")
    outsider = web_app.client("dealer2")
    for path in (link, f"/records/customer/{customer}/files/id_card_copies/{'0' * 64}",
                 f"/records/customer/{customer}/files/id_card_copies/not-a-hash", f"/records/customer/{customer}/files/name/{sha}"):
        assert outsider.get(path).status_code == 404, path
    assert web_app.client("dealer1").get(f"/records/customer/{customer}/files/name/{sha}").status_code == 404
