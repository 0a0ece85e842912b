"""Saving a list's filters in a real browser: an empty or taken name is explained beside the name box."""

from __future__ import annotations

from typing import Callable

from playwright.sync_api import Page, expect

from tests.web.conftest import WebApp
from tests.web.test_lists import seed

LOANS = "/records/loan_application"


def test_name_errors_shown_and_replace_asked(web_app: WebApp, signed_in_page: Callable[..., Page],
                                            shoot: Callable[[Page, str], object]) -> None:
    seed(web_app)
    web_app.add_user("admin", ("admin",), "head_office")
    page = signed_in_page("admin")
    page.goto(LOANS + "?state=draft")
    form = page.locator("form.list-save")
    name = form.locator("input[name=name]")
    save = form.locator("button[type=submit]", has_text="保存筛选")

    # An empty name reaches the server, which explains what to do, instead of the browser dropping it without a word.
    save.click()
    expect(form.locator("#list-save-error")).to_have_text("请输入筛选条件的名称。")
    expect(name).to_have_attribute("aria-invalid", "true")

    name.fill("草稿")
    save.click()
    expect(form.locator(".list-save-done")).to_have_text("已保存筛选条件“草稿”。")
    expect(page.locator(".list-saved-item a", has_text="草稿")).to_have_attribute("href", LOANS + "?state=draft")

    name.fill("草稿")
    save.click()
    expect(form.locator("#list-save-error")).to_contain_text("您已有名为“草稿”的筛选条件")
    expect(name).to_have_value("草稿")
    shoot(page, "duplicate-name")
    form.locator("button[name=replace]").click()
    expect(form.locator(".list-save-done")).to_have_text("已用当前的筛选条件替换筛选条件“草稿”。")
    expect(page.locator(".list-saved-item")).to_have_count(1)
