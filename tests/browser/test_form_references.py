"""A reference control in a real browser after a failed save: searching, choosing, and typing elsewhere keep the choice."""

from __future__ import annotations

from typing import Callable

from playwright.sync_api import Page, expect

from runtime.access import SYSTEM_ACTOR
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp


def test_reference_search_after_failed_save(web_app: WebApp, signed_in_page: Callable[..., Page],
                                            shoot: Callable[[Page, str], object]) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    seeder = Seeder(web_app.runtime.records)
    unit = "dealer_bj_yizhuang"
    bank = seeder.bank("system", "head_office")
    refs = {"customer": seeder.customer("system", unit), "dealer": seeder.dealer("system", unit),
            "product": seeder.loan_product("system", "head_office", bank), "vehicle": seeder.vehicle("system", unit)}
    application = seeder.loan_application("system", unit, refs)
    partner = seeder.customer("system", unit)
    partner_name = web_app.runtime.records.get(SYSTEM_ACTOR, "customer", partner)["name"]
    page = signed_in_page("dealer1")

    page.goto(f"/records/loan_application/{application}/edit")
    page.fill("input[name=down_payment]", "300000")
    page.locator("#record-form button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()
    shoot(page, "failed-save")

    # Searching a reference: the lookup response and the rule checks leave the focus in the search box.
    search = page.locator("#in-field-co_borrower")
    search.click()
    page.keyboard.type(partner_name)
    expect(page.locator(f"#field-co_borrower .ref-option[data-id='{partner}']")).to_be_visible()
    page.wait_for_timeout(600)
    expect(search).to_be_focused()
    expect(search).to_have_value(partner_name)
    page.keyboard.press("Enter")
    expect(page.locator("#field-co_borrower input.ref-value")).to_have_value(str(partner))

    # Typing in another field runs the rule checks, and every chosen record stays chosen.
    page.locator("input[name=down_payment]").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("60000")
    page.wait_for_timeout(900)
    expect(page.locator("input[name=down_payment]")).to_be_focused()
    for name, value in {**refs, "co_borrower": partner}.items():
        expect(page.locator(f"#field-{name} input.ref-value")).to_have_value(str(value))
        expect(page.locator(f"#in-field-{name}")).not_to_have_value("")
    shoot(page, "after-typing")
