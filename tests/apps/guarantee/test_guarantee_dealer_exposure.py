"""A dealer's exposure (垫资余额): the advances paid or processing and not yet deducted, kept within its credit quota."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from runtime.catalogs import sync_catalogs
from runtime.errors import ValidationFailed
from runtime.seed import DemoSeeder

from guarantee_world import (ADVANCE, SYSTEM, World, card_number, collateral, deduction_values, disbursement_values, hooks_module,
                             messages, to_approved_standard)
from test_guarantee_advance_records import SLOW_ADVANCE, action, report_result, settle_sandbox


def card_issued(world: World, product: int, dealer: int) -> dict[str, Any]:
    record = to_approved_standard(world, world.application(product, dealer=dealer))
    return world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(995)})


def exposure(world: World, dealer: int) -> Decimal:
    return Decimal(world.runtime.records.get(SYSTEM, "dealer", dealer)["exposure"])


def outstanding(world: World, dealer: int) -> Decimal:
    """Sum the dealer's advances as the records show them, independently of the hooks: paid or processing, not deducted."""
    payments = [row for row in world.runtime.records.list(SYSTEM, "advance_payment").rows if _id(row["dealer"]) == dealer]
    deducted = {_id(row["advance_payment"]) for row in world.runtime.records.list(SYSTEM, "deduction").rows}
    return sum((Decimal(row["amount"]) for row in payments
                if row["status"] in ("processing", "succeeded") and int(row["id"]) not in deducted), Decimal(0))


def _id(value: Any) -> int:
    return int(value["id"]) if isinstance(value, dict) else int(value)


def consistent(world: World, dealer: int, expected: str) -> None:
    assert exposure(world, dealer) == outstanding(world, dealer) == Decimal(expected)


def test_exposure_follows_loans_of_one_dealer(world: World) -> None:
    dealer = world.dealer(quota=Decimal("300000"))
    product = world.product()
    first, second, third = (card_issued(world, product, dealer) for _ in range(3))
    consistent(world, dealer, "0")

    first = world.fire(first, "advance", "finance", values=ADVANCE)
    consistent(world, dealer, "120000")
    second = world.fire(second, "advance", "finance", values=SLOW_ADVANCE)
    assert second["advance_payment_status"] == "processing"
    consistent(world, dealer, "239999.99")

    with pytest.raises(ValidationFailed) as error:
        world.fire(third, "advance", "finance", values=ADVANCE)
    assert ("would take the dealer 经销商" in messages(error.value) and "exposure from 239,999.99 to 359,999.99 yuan, above its "
            "credit quota of 300,000.00" in messages(error.value))
    assert "授信额度为 300,000.00 元，当前垫资余额 239,999.99 元，本笔垫资 120,000.00 元" in messages(error.value, "zh")
    assert "advance_amount" in error.value.errors
    consistent(world, dealer, "239999.99")

    # The bank fails the processing payment: its amount comes back within the quota, and the third advance fits.
    report_result(world, f"{second['application_no']}-ADV1", succeeded=False)
    consistent(world, dealer, "120000")
    third = world.fire(world.read(third), "advance", "finance", values=ADVANCE)
    consistent(world, dealer, "240000")
    # Paying the failed advance again would exceed the quota as any advance would.
    with pytest.raises(ValidationFailed) as again:
        action(world, second, "pay_advance_again")
    assert "above its credit quota of 300,000.00" in messages(again.value)

    # The first loan's advance is deducted from the bank's disbursement: the quota frees up.
    first = world.fire(collateral(world, first), "register_mortgage", "operations")
    first = world.fire(first, "disburse", "bank", values=disbursement_values(first))
    consistent(world, dealer, "240000")
    world.fire(first, "deduct", "finance", values=deduction_values(first))
    consistent(world, dealer, "120000")

    second = action(world, second, "pay_advance_again")
    assert second["advance_payment_status"] == "processing"
    consistent(world, dealer, "239999.99")
    settle_sandbox(world)
    action(world, second, "refresh_advance")
    consistent(world, dealer, "239999.99")


def test_exposure_is_per_dealer(world: World) -> None:
    product = world.product()
    small, other = world.dealer(quota=Decimal("100000")), world.dealer()
    refused = card_issued(world, product, small)
    world.fire(card_issued(world, product, other), "advance", "finance", values=ADVANCE)
    consistent(world, other, "120000")
    with pytest.raises(ValidationFailed) as error:
        world.fire(refused, "advance", "finance", values=ADVANCE)
    assert "from 0.00 to 120,000.00 yuan, above its credit quota of 100,000.00" in messages(error.value)
    consistent(world, small, "0")


def test_dealer_without_quota_gets_no_advance(world: World) -> None:
    dealer = world.dealer(quota=None)
    record = card_issued(world, world.product(), dealer)
    with pytest.raises(ValidationFailed) as error:
        world.fire(record, "advance", "finance", values=ADVANCE)
    assert "has no credit quota, so no advance is paid to it" in messages(error.value)
    assert "未设置授信额度" in messages(error.value, "zh")


def test_quota_refusal_and_outstanding_sum() -> None:
    exposure_rules = hooks_module("exposure")
    assert exposure_rules.quota_refusal("甲", Decimal("100"), Decimal("40"), Decimal("60")) is None
    refusal = exposure_rules.quota_refusal("甲", Decimal("100"), Decimal("40"), Decimal("60.01"))
    assert refusal is not None and refusal.field == "advance_amount"
    rows = [{"id": 1, "amount": Decimal("10"), "status": "succeeded"}, {"id": 2, "amount": Decimal("20"), "status": "processing"},
            {"id": 3, "amount": Decimal("40"), "status": "failed"}, {"id": 4, "amount": Decimal("80"), "status": "succeeded"}]
    assert exposure_rules.outstanding(rows, {4}) == Decimal("30")


def test_demo_data_keeps_exposure(world: World) -> None:
    sync_catalogs(world.runtime.records)
    seeder = DemoSeeder(world.runtime, count=60)
    report = seeder.run(seeder.plan())
    loans = next(item for item in report.entities if item.entity == "loan_application")
    # No demo loan stops at the advance, for its quota or anything else.
    assert "advance" not in loans.stopped
    assert sum(loans.states[state] for state in ("advanced", "mortgaged", "disbursed", "repaying", "settled", "released")) > 0
    dealers = world.runtime.records.list(SYSTEM, "dealer").rows
    assert any(exposure(world, int(row["id"])) > 0 for row in dealers)
    for row in dealers:
        assert exposure(world, int(row["id"])) == outstanding(world, int(row["id"]))
        assert exposure(world, int(row["id"])) <= Decimal(row["quota"])
