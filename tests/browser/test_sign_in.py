"""Signing in, the home page with its menus, switching the language and signing out, in a real browser."""

from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.web.conftest import WebApp

#: Words of each language on the sign-in page and the home page.
WORDS = {
    "zh-CN": {"wrong": "用户名或密码错误", "welcome": "欢迎", "menus": ["工作台", "客户管理", "贷款业务"], "sign_out": "退出登录",
              "sign_in": "登录", "other": "en", "other_welcome": "Welcome"},
    "en": {"wrong": "The user name or password is wrong", "welcome": "Welcome", "menus": ["Workbench", "Customers", "Loans"],
           "sign_out": "Sign out", "sign_in": "Sign in", "other": "zh-CN", "other_welcome": "欢迎"},
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_sign_in_wrong_then_right(web_app: WebApp, new_page: Callable[[], Page], shoot: Callable[[Page, str], object],
                                  lang: str) -> None:
    web_app.add_user("clerk", ("dealer_staff",), "dealer_bj_yizhuang", name="张晓梅")
    words = WORDS[lang]
    page = new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    if lang == "en":
        page.locator(".language-links button[value='en']").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)

    sign_in(page, "clerk", "Wrong#2026pass")
    expect(page.locator(".error-summary")).to_contain_text(words["wrong"])
    expect(page.locator("#password")).to_have_value("")
    shoot(page, f"sign-in-wrong-{lang}")

    sign_in(page, "clerk")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("main h1")).to_contain_text(words["welcome"])
    expect(page.locator("main h1")).to_contain_text("张晓梅")
    sidebar = page.locator("nav.sidebar")
    for menu in words["menus"]:
        expect(sidebar.locator(".menu-title", has_text=menu)).to_be_visible()
    shoot(page, f"home-{lang}")


def test_switch_language_and_back(web_app: WebApp, signed_in_page: Callable[..., Page],
                                  shoot: Callable[[Page, str], object]) -> None:
    web_app.add_user("viewer", ("head_office_viewer",), "head_office", name="王建国")
    page = signed_in_page("viewer")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_contain_text("欢迎")

    page.locator("header.topbar form.language button[value='en']").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_contain_text("Welcome")
    expect(page.locator("nav.sidebar .menu-title", has_text="Customers")).to_be_visible()
    shoot(page, "home-en")

    page.locator("header.topbar form.language button[value='zh-CN']").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("main h1")).to_contain_text("欢迎")
    expect(page.locator("nav.sidebar .menu-title", has_text="客户管理")).to_be_visible()
    shoot(page, "home-zh-CN")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_sign_out(web_app: WebApp, signed_in_page: Callable[..., Page], shoot: Callable[[Page, str], object], lang: str) -> None:
    web_app.add_user("clerk", ("dealer_staff",), "dealer_sh_pudong", name="李娜")
    words = WORDS[lang]
    page = signed_in_page("clerk", lang=lang)
    expect(page.locator("main h1")).to_contain_text(words["welcome"])

    page.locator("header.topbar form[action='/sign-out'] button").click()
    expect(page).to_have_url(re.compile(r"/sign-in"))
    expect(page.locator("form.sign-in button.primary")).to_have_text(words["sign_in"])
    expect(page.locator("header.topbar")).to_have_count(0)
    shoot(page, f"signed-out-{lang}")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
