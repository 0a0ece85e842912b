"""Creating a record with a mistake, correcting it, then editing it, in a real browser and in both languages."""

from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import WebApp
from tests.web.forms_support import resident_id, wrong_check_digit

WORDS = {
    "zh-CN": {"required": "必填", "saved_name": "王建国", "edit": "编辑", "employer": "某科技有限公司"},
    "en": {"required": "required", "saved_name": "王建国", "edit": "Edit", "employer": "Some Tech Ltd"},
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_create_with_error_then_edit(web_app: WebApp, signed_in_page: Callable[..., Page],
                                     shoot: Callable[[Page, str], object], lang: str) -> None:
    web_app.add_user("officer", ("admin",), "head_office")
    words = WORDS[lang]
    page = signed_in_page("officer", lang=lang)

    # A wrong check digit and a missing name: both are named beside their fields and in the summary.
    page.goto("/records/customer/new")
    page.fill("input[name=id_number]", wrong_check_digit(resident_id(7)))
    page.fill("input[name=phone]", "13800138000")
    page.locator("#record-form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#field-name .error")).to_contain_text(words["required"], ignore_case=True)
    expect(page.locator("#field-id_number .error")).not_to_be_empty()
    expect(page.locator("input[name=phone]")).to_have_value(re.compile(r"138\s?0013\s?8000|13800138000"))
    shoot(page, f"customer-errors-{lang}")

    # Corrected, the record saves and the browser lands on its detail page.
    page.fill("input[name=name]", words["saved_name"])
    page.fill("input[name=id_number]", resident_id(7))
    page.locator("#record-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/records/customer/\d+$"))
    expect(page.locator("main")).to_contain_text(words["saved_name"])
    shoot(page, f"customer-saved-{lang}")

    # Editing changes one field and keeps the rest.
    page.get_by_role("link", name=words["edit"], exact=True).click()
    expect(page).to_have_url(re.compile(r"/records/customer/\d+/edit$"))
    page.fill("input[name=employer]", words["employer"])
    page.locator("#record-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/records/customer/\d+$"))
    expect(page.locator("main")).to_contain_text(words["employer"])
    expect(page.locator("main")).to_contain_text(words["saved_name"])
    shoot(page, f"customer-edited-{lang}")
