"""Dealer onboarding on the screens: the branch manager approves a dealer filed without its agreement date."""

from __future__ import annotations

import re
from typing import Any, Callable

import stdnum.cn.uscc
import stdnum.luhn

from runtime.access import SYSTEM_ACTOR
from tests.web.conftest import WebApp, csrf_of

REASON = "入驻资料审核"


def dialog_of(html: str, name: str) -> str:
    found = re.search(rf'<dialog id="dlg-{name}".*?</dialog>', html, re.S)
    assert found is not None, f"no dialog for {name}"
    return found.group(0)


def filed_dealer(web_app: WebApp) -> dict[str, Any]:
    """File a dealer's application as the Beijing operations officer, without the agreement's date."""
    clerk = web_app.add_user("bj_clerk", ("operations_officer",), "beijing_branch")
    name = "北京亦庄测试汽车销售服务有限公司"
    return web_app.runtime.records.create(clerk, "dealer", {
        "name": name, "credit_code": with_check_digit("91110302700000099", stdnum.cn.uscc.calc_check_digit), "legal_representative": "王建国",
        "city": "北京市", "bank_name": "中国工商银行北京亦庄支行", "account_name": name, "bank_account": with_check_digit("622202020011223344", stdnum.luhn.calc_check_digit),
        "staff": [{"name": "李娜", "mobile": "13910001234", "role": "dealer_manager"}]}, reason=REASON)


def with_check_digit(first: str, digit: Callable[[str], str]) -> str:
    return first + digit(first)


def test_approval_dialog_takes_agreement_date(web_app: WebApp) -> None:
    dealer = filed_dealer(web_app)
    assert dealer["signed_on"] is None
    assert dealer["state"] == "applying"
    web_app.add_user("bj_manager", ("branch_manager",), "beijing_branch")
    client = web_app.client("bj_manager")
    page = client.get(f"/records/dealer/{dealer['id']}").text

    approve = dialog_of(page, "approve_onboarding")
    assert 'name="signed_on"' in approve
    assert 'type="date"' in approve
    response = client.post(f"/records/dealer/{dealer['id']}/transitions/approve_onboarding", data={
        "csrf_token": csrf_of(page), "_version": str(dealer["version"]), "_fields": ["signed_on"], "signed_on": "2026-03-02",
        "comment": "资料齐全，同意入驻"})
    assert response.status_code == 303, dialog_of(response.text, "approve_onboarding")
    after = web_app.runtime.records.get(SYSTEM_ACTOR, "dealer", dealer["id"])
    assert (after["state"], str(after["signed_on"])) == ("active", "2026-03-02")
    assert after["staff"][0]["username"]


def test_dealer_form_offers_the_agreement_date_while_applying(web_app: WebApp) -> None:
    dealer = filed_dealer(web_app)
    web_app.add_user("bj_manager", ("branch_manager",), "beijing_branch")
    page = web_app.client("bj_manager").get(f"/records/dealer/{dealer['id']}/edit").text
    assert 'name="signed_on"' in page


def test_dealer_list_filters_by_the_state_alone(web_app: WebApp) -> None:
    filed_dealer(web_app)
    web_app.add_user("bj_manager", ("branch_manager",), "beijing_branch")
    page = web_app.client("bj_manager").get("/records/dealer").text
    assert '<input type="checkbox" name="state" value="applying">' in page
    assert 'name="cooperation_status"' not in page
    assert "合作状态" not in page


def test_sandbox_sms_page_shows_administrators_the_approval_messages(web_app: WebApp) -> None:
    dealer = filed_dealer(web_app)
    manager = web_app.add_user("bj_manager", ("branch_manager",), "beijing_branch")
    web_app.runtime.records.transition(manager, "dealer", dealer["id"], "approve_onboarding", version=dealer["version"],
                                       comment="资料齐全，同意入驻", values={"signed_on": "2026-03-02"})
    username = web_app.runtime.records.get(SYSTEM_ACTOR, "dealer", dealer["id"])["staff"][0]["username"]
    lines = (web_app.settings.data_dir / "sandbox" / "sms_sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert username in lines[0]
    assert "13910001234" in lines[0]

    web_app.add_user("root", ("admin",), "head_office")
    page = web_app.client("root").get("/admin/sandbox-sms")
    assert page.status_code == 200
    assert "沙箱短信" in page.text
    assert "初始密码" in page.text
    assert username in page.text
    assert "13910001234" in page.text
    assert web_app.client("bj_manager").get("/admin/sandbox-sms").status_code == 403
    assert "Sandbox text messages" in web_app.client("root", lang="en").get("/admin/sandbox-sms").text
