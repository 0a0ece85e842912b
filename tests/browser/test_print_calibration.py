"""Print buttons on a loan's detail page and the calibration page of the overlay, in a real browser."""

from __future__ import annotations

from typing import Callable

from playwright.sync_api import Page, expect

from tests.web.conftest import WebApp
from tests.web.test_lists import BJ, LOANS, seed
from tests.web.test_print_screens import advanced


def test_print_buttons_and_calibration(web_app: WebApp, signed_in_page: Callable[..., Page],
                                       shoot: Callable[[Page, str], object]) -> None:
    seeded = advanced(seed(web_app))
    web_app.add_user("clerk", ("dealer_staff",), BJ)
    loan = seeded.loans[BJ][0]
    page = signed_in_page("clerk")

    page.goto(f"{LOANS}/{loan}")
    contract = page.locator("a.print-button", has_text="委托担保合同")
    expect(contract).to_be_visible()
    expect(contract).to_have_attribute("href", f"{LOANS}/{loan}/print/guarantee_contract")
    expect(page.locator("a.print-button", has_text="机动车抵押登记申请表")).to_be_visible()
    shoot(page, "detail-print-buttons")

    page.locator("a.print-calibration").click()
    expect(page.locator("h1")).to_contain_text("套打校准")
    page.fill("#calibration-dx_mm", "25")
    page.locator("button[type=submit].primary", has_text="保存偏移").click()
    expect(page.locator("#calibration-dx_mm-error")).to_contain_text("超出 -20 至 20 毫米")
    shoot(page, "calibration-rejected")

    page.fill("#calibration-dx_mm", "1.5")
    page.fill("#calibration-dy_mm", "-0.5")
    page.locator("button[type=submit].primary", has_text="保存偏移").click()
    expect(page.locator("p.notice[role=status]")).to_contain_text("偏移已保存")
    expect(page.locator("#calibration-dx_mm")).to_have_value("1.5")
    expect(page.locator("#calibration-dy_mm")).to_have_value("-0.5")
    shoot(page, "calibration-saved")

    page.get_by_role("link", name="返回记录").click()
    expect(page).to_have_url(f"{page.url.split('/records')[0]}{LOANS}/{loan}")
