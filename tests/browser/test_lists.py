"""The list page in a real browser: search as you type, filters, sort, back, lookups, bulk delete and a phone's width."""

from __future__ import annotations

import re
from typing import Callable

from playwright.sync_api import Page, expect

from runtime.access import SYSTEM_ACTOR
from tests.web.conftest import WebApp
from tests.web.test_lists import BJ, SH, seed

LOANS = "/records/loan_application"


def rows_of(page: Page) -> list[str]:
    return page.locator("#list-results tbody td:nth-child(2) a").all_inner_texts()


def test_search_filter_sort_and_back(web_app: WebApp, signed_in_page: Callable[..., Page],
                                     shoot: Callable[[Page, str], object]) -> None:
    seeded = seed(web_app)
    web_app.add_user("admin", ("admin",), "head_office")
    page = signed_in_page("admin")
    page.goto(LOANS)
    expect(page.locator("#list-results tbody tr")).to_have_count(5)
    expect(page.locator("#list-total")).to_contain_text("共 5 条")
    shoot(page, "list")

    # Typing searches after a pause, swaps only the results and keeps the address in step.
    number = seeded.numbers[seeded.loans[SH][0]]
    page.fill("#list-q", number)
    expect(page.locator("#list-results tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"\?q=" + number))
    page.fill("#list-q", "")
    expect(page.locator("#list-results tbody tr")).to_have_count(5)

    # A filter checkbox, then a sort header: the sort keeps the filter and the filter keeps the sort.
    page.locator("input[name=state][value=draft]").check()
    expect(page).to_have_url(re.compile(r"state=draft"))
    page.locator("#list-results th a", has_text="贷款金额").click()
    expect(page.locator("#list-results th[aria-sort=ascending]")).to_contain_text("贷款金额")
    expect(page).to_have_url(re.compile(r"sort=loan_amount"))
    ascending = rows_of(page)
    page.locator("#list-results th a", has_text="贷款金额").click()
    expect(page.locator("#list-results th[aria-sort=descending]")).to_contain_text("贷款金额")
    assert rows_of(page) == list(reversed(ascending))
    page.locator("input[name=state][value=submitted]").check()
    expect(page).to_have_url(re.compile(r"sort=-loan_amount"))
    expect(page.locator("#list-results tbody tr")).to_have_count(5)
    shoot(page, "filtered-sorted")

    # Back restores the earlier address and result; a reload shows the same list.
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"submitted"))
    expect(page.locator("#list-results tbody tr")).to_have_count(5)
    page.reload()
    expect(page.locator("#list-results th[aria-sort]")).to_contain_text("贷款金额")
    expect(page.locator("input[name=state][value=draft]")).to_be_checked()


def test_page_size_and_bad_filter(web_app: WebApp, signed_in_page: Callable[..., Page]) -> None:
    seed(web_app)
    web_app.add_user("admin", ("admin",), "head_office")
    page = signed_in_page("admin")
    page.goto(LOANS)

    page.select_option("select[name=limit]", "10")
    expect(page).to_have_url(re.compile(r"limit=10"))
    page.fill("input[name='term_months.min']", "abc")
    page.locator("#list-filters button[type=submit]").click()
    expect(page.locator(".list-problems")).to_contain_text("贷款期限（月）最小值")
    expect(page.locator("#list-results tbody tr")).to_have_count(5)


def test_reference_filter_by_lookup(web_app: WebApp, signed_in_page: Callable[..., Page],
                                    shoot: Callable[[Page, str], object]) -> None:
    seeded = seed(web_app)
    web_app.add_user("admin", ("admin",), "head_office")
    dealer = web_app.runtime.records.get(SYSTEM_ACTOR, "dealer", seeded.dealers[BJ])
    page = signed_in_page("admin")
    page.goto(LOANS)

    lookup = page.locator(".list-reference[data-name=dealer] .list-lookup-input")
    lookup.fill(dealer["name"])
    option = page.locator(".list-reference[data-name=dealer] .list-lookup-options [data-id]").first
    expect(option).to_contain_text(dealer["name"])
    shoot(page, "lookup")
    option.click()
    expect(page).to_have_url(re.compile(rf"dealer={seeded.dealers[BJ]}"))
    expect(page.locator("#list-results tbody tr")).to_have_count(3)
    expect(page.locator(".list-reference[data-name=dealer] .list-chip")).to_contain_text(dealer["name"])

    # Ids typed into the box work too, and unticking a chip removes its filter.
    lookup.fill(f"{seeded.dealers[SH]}")
    lookup.press("Enter")
    expect(page.locator("#list-results tbody tr")).to_have_count(5)
    page.locator(f".list-chip input[value='{seeded.dealers[BJ]}']").uncheck()
    expect(page.locator("#list-results tbody tr")).to_have_count(2)


def test_bulk_delete_asks_first(web_app: WebApp, signed_in_page: Callable[..., Page]) -> None:
    seed(web_app)
    web_app.add_user("admin", ("admin",), "head_office")
    page = signed_in_page("admin")
    page.goto(LOANS)

    page.locator("input[name=selected]").nth(0).check()
    page.locator("input[name=selected]").nth(1).check()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#list-bulk button[type=submit]").click()
    expect(page.locator("#list-results tbody tr")).to_have_count(5)

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#list-bulk button[type=submit]").click()
    expect(page.locator(".list-notice")).to_contain_text("已删除 2 条记录")
    expect(page.locator("#list-results tbody tr")).to_have_count(3)

    page.locator(".list-select-all").check()
    expect(page.locator("input[name=selected]:checked")).to_have_count(3)


def test_phone_width_scrolls_table(web_app: WebApp, signed_in_page: Callable[..., Page],
                                   shoot: Callable[[Page, str], object]) -> None:
    seed(web_app)
    web_app.add_user("admin", ("admin",), "head_office")
    page = signed_in_page("admin")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(LOANS)

    wrap = page.locator(".list-table-wrap")
    expect(wrap).to_be_visible()
    sizes = wrap.evaluate("element => [element.scrollWidth, element.clientWidth, document.documentElement.scrollWidth]")
    assert sizes[0] > sizes[1]
    assert sizes[2] <= 375
    shoot(page, "phone")
