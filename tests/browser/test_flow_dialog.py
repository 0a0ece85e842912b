"""Transition dialogs in a real browser: a required comment with a confirmation, and required fields filled from the inbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from runtime.access import SYSTEM_ACTOR
from tests.conftest import REPOSITORY
from tests.web.conftest import GUARANTEE, WebApp
from tests.web.test_detail import DEALER_UNIT, seed_application
from tests.web.test_transition_dialog import requisition_in_it_review

REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"
WORDS = {
    "zh-CN": {"cancel": "撤销申请", "confirm": "撤销后不能恢复，确定撤销该申请？", "missing": "请填写审批意见。", "state": "已撤销",
              "close": "取消"},
    "en": {"cancel": "Cancel", "confirm": "A cancelled application cannot be restored. Cancel it?",
           "missing": "Write a comment for this step.", "state": "Cancelled", "close": "Close"},
}


@pytest.fixture
def web_app(request: pytest.FixtureRequest, make_web_app: Callable[..., WebApp]) -> WebApp:
    """The guarantee application, or the one a test names by indirect parametrization."""
    directory: Path = getattr(request, "param", GUARANTEE)
    return make_web_app(directory)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_comment_required_with_confirmation(web_app: WebApp, signed_in_page: Callable[..., Page],
                                            shoot: Callable[[Page, str], object], lang: str) -> None:
    words = WORDS[lang]
    web_app.add_user("dealer1", ("dealer_staff",), DEALER_UNIT)
    application = seed_application(web_app)["application"]
    page = signed_in_page("dealer1", lang=lang)
    page.goto(f"/records/loan_application/{application}")

    # With JavaScript the plain form's comment box gives way to the dialog's.
    bar_button = page.locator("#workflow .bar").get_by_role("button", name=words["cancel"], exact=True)
    expect(bar_button).to_have_attribute("data-dialog", "dlg-cancel")
    expect(page.locator("#workflow .bar form.has-dialog textarea").first).to_be_hidden()
    dialog = page.locator("dialog#dlg-cancel")
    expect(dialog).to_be_hidden()
    bar_button.click()
    expect(dialog).to_be_visible()
    expect(dialog.locator(".dialog-confirm")).to_have_text(words["confirm"])

    # Closing it changes nothing. Sending it without the comment brings it back with the message.
    dialog.get_by_role("button", name=words["close"], exact=True).click()
    expect(dialog).to_be_hidden()
    bar_button.click()
    dialog.locator("button[type=submit]").click()
    dialog = page.locator("dialog#dlg-cancel")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".field.invalid .error")).to_have_text(words["missing"])
    expect(dialog.locator("textarea[name=comment]")).to_be_focused()
    shoot(page, f"comment-missing-{lang}")

    dialog.locator("textarea[name=comment]").fill("客户放弃购车")
    dialog.locator("button[type=submit]").click()
    expect(page.locator("#workflow .state-badge")).to_have_text(words["state"])
    expect(page.locator("dialog[open]")).to_have_count(0)
    shoot(page, f"fired-{lang}")
    assert web_app.runtime.records.get(SYSTEM_ACTOR, "loan_application", application)["state"] == "cancelled"


@pytest.mark.parametrize("web_app", [REQUISITION], indirect=True)
def test_required_fields_from_the_inbox(web_app: WebApp, signed_in_page: Callable[..., Page],
                                        shoot: Callable[[Page, str], object]) -> None:
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app)
    page = signed_in_page("ivan")
    page.goto("/inbox")
    expect(page.locator(".inbox-summary")).to_contain_text("待我办理1")
    row = page.locator(".inbox-table tbody tr", has=page.locator(f"a[href='/records/requisition/{record_id}']"))
    row.get_by_role("button", name="发放设备").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=asset_tags]").fill("TAG-0001")
    shoot(page, "inbox-dialog")

    # The date left empty: nothing is saved, and the dialog opens again on the record with the message beside the date.
    dialog.locator("button[type=submit]").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".field.invalid")).to_contain_text("执行“发放设备”前需填写此项。")
    expect(dialog.locator("textarea[name=asset_tags]")).to_have_value("TAG-0001")
    assert web_app.runtime.records.get(SYSTEM_ACTOR, "requisition", record_id)["asset_tags"] is None
    shoot(page, "inbox-dialog-missing-date")

    dialog.locator("input[name=delivered_on]").fill("2026-03-05")
    dialog.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.locator("#inbox-results")).to_contain_text("暂无待办事项。")
    shoot(page, "inbox-after")
    stored = web_app.runtime.records.get(SYSTEM_ACTOR, "requisition", record_id)
    assert (stored["state"], stored["asset_tags"], str(stored["delivered_on"])) == ("done", "TAG-0001", "2026-03-05")
