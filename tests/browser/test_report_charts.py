"""Report charts in a real browser: ECharts draws them under the page's content security policy, and a point drills down."""

from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.runtime.report_support import SALES_APP, USERS, add_sales
from tests.web.conftest import WebApp


def watch_errors(page: Page) -> list[str]:
    """Collect script errors and failed loads of the page, except the favicon that no page links."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    return errors


@pytest.fixture
def web_app(make_web_app: Callable[..., WebApp]) -> WebApp:
    """Serve the sales application, with its users and sales, instead of the guarantee app."""
    served = make_web_app(SALES_APP)
    for user_id, (role, unit) in USERS.items():
        served.add_user(user_id, (role,) if role else (), unit)
    add_sales(served.runtime.records)
    return served


def test_charts_drawn_and_drill_down(web_app: WebApp, signed_in_page: Callable[..., Page],
                                     shoot: Callable[[Page, str], object]) -> None:
    page = signed_in_page("director")
    errors = watch_errors(page)

    page.goto("/reports/sales_by_channel")
    expect(page.locator(".report-chart canvas")).to_have_count(2)
    page.wait_for_timeout(1500)  # ECharts grows the bars in for about a second
    shoot(page, "report")
    assert errors == []

    # The bar chart's first category is the online channel, the largest total; its bar opens that channel's list.
    chart = page.locator(".report-chart").first
    box = chart.bounding_box()
    assert box is not None
    for step in range(1, 40):
        chart.click(position={"x": box["width"] * 0.25, "y": box["height"] * step / 40})
        if "/records/sale" in page.url:
            break
    expect(page).to_have_url(re.compile(r"/records/sale\?channel=online"))
    expect(page.locator("#list-total")).to_contain_text("共 3 条")


def test_dashboard_charts_on_home(web_app: WebApp, signed_in_page: Callable[..., Page],
                                  shoot: Callable[[Page, str], object]) -> None:
    page = signed_in_page("clerk1")
    errors = watch_errors(page)

    page.goto("/")
    expect(page.locator(".dashboard-widget")).to_have_count(3)
    expect(page.locator(".dashboard-widget .report-chart canvas")).to_have_count(2)
    shoot(page, "dashboard")
    assert errors == []
