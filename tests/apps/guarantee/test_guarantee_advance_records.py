"""The money steps as records of their own: advance payments, the bank's disbursement notice and the deduction.

The bank is the sandbox (integrations/bank.py): an amount ending in .99 stays processing
until SANDBOX_SETTLE_SECONDS have passed by its clock, which the tests move forward.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from integrations.bank import SANDBOX_SETTLE_SECONDS, SandboxBank
from runtime.callbacks import CallbackFailed, receive
from runtime.errors import NotFound, ValidationFailed

from guarantee_world import (ADVANCE, SYSTEM, World, card_number, collateral, deduction_values, disbursement_values, messages,
                             to_approved_standard)

#: An advance the sandbox keeps processing.
SLOW_ADVANCE = {**ADVANCE, "advance_amount": Decimal("119999.99")}


def card_issued(world: World) -> dict[str, Any]:
    record = to_approved_standard(world, world.application(world.product()))
    return world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(996)})


def bank(world: World) -> SandboxBank:
    provider = world.runtime.records.providers["bank"]  # type: ignore[index]
    assert isinstance(provider, SandboxBank)
    return provider


def payments(world: World, record: dict[str, Any], user: str = "finance") -> list[dict[str, Any]]:
    rows = world.users.list(world.actor(user), "advance_payment").rows
    return sorted((row for row in rows if _id(row["application"]) == record["id"]), key=lambda row: int(row["attempt"]))


def _id(value: Any) -> int:
    return int(value["id"]) if isinstance(value, dict) else int(value)


def action(world: World, record: dict[str, Any], name: str) -> dict[str, Any]:
    return world.users.run_action(world.actor("finance"), "loan_application", record["id"], name, version=world.read(record)["version"])


def refused(call: Any, *args: Any, **kwargs: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as error:
        call(*args, **kwargs)
    return error.value


def settle_sandbox(world: World) -> None:
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=SANDBOX_SETTLE_SECONDS + 1)
    bank(world).clock = lambda: later


def report_result(world: World, reference: str, *, succeeded: bool) -> None:
    """Deliver the bank's signed payment result to the app's callback handling, as the bank would post it."""
    headers, body = bank(world).payment_result_request(reference, succeeded=succeeded)
    callback = bank(world).parse_callback("POST", "/callbacks/bank", headers, body)
    receive(world.runtime.records, world.runtime.model.integrations["bank"], callback)


def test_advance_records_payment_to_dealer_account(world: World) -> None:
    record = card_issued(world)
    dealer = world.runtime.records.get(SYSTEM, "dealer", _id(record["dealer"]))

    record = world.fire(record, "advance", "finance", values=ADVANCE)

    stored = world.runtime.records.get(SYSTEM, "advance_payment", payments(world, record)[0]["id"])
    assert (stored["payee_account"], stored["payee_name"], stored["payee_bank"]) == (dealer["bank_account"], dealer["name"],
                                                                                      dealer["bank_name"])
    assert (stored["reference"], stored["attempt"], stored["amount"]) == (f"{record['application_no']}-ADV1", 1, Decimal("120000.00"))
    assert (stored["status"], stored["failure_reason"]) == ("succeeded", None)
    assert stored["paid_at"] is not None and stored["requested_at"] is not None
    # The application's summary agrees with the record.
    assert (record["advance_payment_status"], record["advance_bank_reference"]) == ("succeeded", stored["bank_reference"])
    # The dealer's staff see their own advance with the account masked; another dealer's staff do not see it.
    seen = payments(world, record, "dealer")[0]
    assert seen["payee_account"] != dealer["bank_account"]
    assert seen["payee_account"].endswith(dealer["bank_account"][-4:])
    assert payments(world, record, "other_dealer") == []
    with pytest.raises(NotFound):
        world.users.get(world.actor("other_dealer"), "advance_payment", stored["id"])


def test_processing_advance_blocks_mortgage_until_refreshed(world: World) -> None:
    record = world.fire(card_issued(world), "advance", "finance", values=SLOW_ADVANCE)
    assert record["advance_payment_status"] == "processing"

    error = refused(world.fire, collateral(world, record), "register_mortgage", "operations")
    assert messages(error) == ("advance_payment_status: The bank has not confirmed the advance paid (payment status: processing); "
                               "use “Refresh advance status” once the bank has paid, then register the mortgage")
    assert messages(error, "zh-CN") == ("advance_payment_status: 银行尚未确认垫资款已付款（付款状态：处理中），不能办理抵押登记；"
                                        "请在银行付款后点击“查询垫资结果”确认")
    # Asked before the bank settles, the payment is still processing, and the loan still waits.
    assert action(world, record, "refresh_advance")["advance_payment_status"] == "processing"
    assert world.read(record)["state"] == "advanced"

    settle_sandbox(world)
    record = action(world, record, "refresh_advance")

    assert record["advance_payment_status"] == "succeeded"
    assert [(row["status"], row["paid_at"] is not None) for row in payments(world, record)] == [("succeeded", True)]
    refresh_again = refused(action, world, record, "refresh_advance")
    assert "There is no payment waiting for the bank's result; the advance's payment status is succeeded" in messages(refresh_again)
    record = world.fire(world.read(record), "register_mortgage", "operations")
    assert record["state"] == "mortgaged"


def test_bank_callback_confirms_payment(world: World) -> None:
    record = world.fire(card_issued(world), "advance", "finance", values=SLOW_ADVANCE)

    report_result(world, f"{record['application_no']}-ADV1", succeeded=True)

    record = world.read(record)
    assert record["advance_payment_status"] == "succeeded"
    assert payments(world, record)[0]["status"] == "succeeded"
    assert world.fire(collateral(world, record), "register_mortgage", "operations")["state"] == "mortgaged"


def test_failed_payment_paid_again(world: World) -> None:
    record = world.fire(card_issued(world), "advance", "finance", values=SLOW_ADVANCE)
    not_yet = refused(action, world, record, "pay_advance_again")
    assert "The advance can be paid again only after a failed payment; its payment status is processing" in messages(not_yet)

    report_result(world, f"{record['application_no']}-ADV1", succeeded=False)

    record = world.read(record)
    assert record["advance_payment_status"] == "failed"
    error = refused(world.fire, collateral(world, record), "register_mortgage", "operations")
    assert "The advance to the dealer failed (account_frozen)" in messages(error)

    record = action(world, record, "pay_advance_again")

    rows = payments(world, record)
    assert [(row["attempt"], row["reference"], row["status"]) for row in rows] == [
        (1, f"{record['application_no']}-ADV1", "failed"), (2, f"{record['application_no']}-ADV2", "processing")]
    assert (record["advance_payment_status"], record["advance_bank_reference"]) == ("processing", rows[1]["bank_reference"])
    settle_sandbox(world)
    record = action(world, record, "refresh_advance")
    assert record["advance_payment_status"] == "succeeded"
    assert world.fire(record, "register_mortgage", "operations")["state"] == "mortgaged"


def test_contrary_bank_report_waits_for_an_administrator(world: World) -> None:
    record = world.fire(card_issued(world), "advance", "finance", values=ADVANCE)

    with pytest.raises(CallbackFailed) as failed:
        report_result(world, f"{record['application_no']}-ADV1", succeeded=False)

    assert "but it was recorded as succeeded; check the payment with the bank" in failed.value.error
    assert payments(world, record)[0]["status"] == "succeeded"
    assert world.read(record)["advance_payment_status"] == "succeeded"


def test_disbursement_and_deduction_records_agree(world: World) -> None:
    record = world.fire(card_issued(world), "advance", "finance", values=SLOW_ADVANCE)
    settle_sandbox(world)
    record = action(world, record, "refresh_advance")
    record = world.fire(collateral(world, record), "register_mortgage", "operations")
    record = world.fire(record, "disburse", "bank", values=disbursement_values(record))

    notices = world.users.list(world.actor("bank"), "disbursement").rows
    assert [(row["notice_no"], row["amount"], row["disbursed_on"], row["first_due_date"]) for row in notices] == [
        (record["disbursement_notice_no"], record["disbursed_amount"], record["disbursed_on"], record["first_due_date"])]
    # The schedule is built from the notice: its principal adds up to the amount disbursed.
    loan = world.read(record)
    assert sum(row["principal"] for row in loan["instalments"]) == notices[0]["amount"]
    assert loan["instalments"][0]["due_date"] == notices[0]["first_due_date"]

    record = world.fire(record, "deduct", "finance", values=deduction_values(record))

    deductions = world.users.list(world.actor("finance"), "deduction").rows
    assert len(deductions) == 1
    deduction = deductions[0]
    assert (deduction["advance_paid"], deduction["amount"], deduction["difference"]) == (
        Decimal("119999.99"), Decimal("119999.99"), Decimal("0.00"))
    assert (_id(deduction["advance_payment"]), _id(deduction["disbursement"])) == (payments(world, record)[0]["id"], notices[0]["id"])
    assert deduction["bank_reference"] == record["deduction_bank_reference"]
    assert (record["state"], record["deducted_amount"], record["deducted_on"]) == ("repaying", deduction["amount"],
                                                                                  deduction["deducted_on"])


def test_deduction_needs_its_bank_reference(world: World) -> None:
    record = world.fire(card_issued(world), "advance", "finance", values=ADVANCE)
    record = world.fire(collateral(world, record), "register_mortgage", "operations")
    record = world.fire(record, "disburse", "bank", values=disbursement_values(record))

    error = refused(world.fire, record, "deduct", "finance")

    assert messages(error) == "deduction_bank_reference: Deduction bank reference is needed before “Deduct advance”"
    assert world.users.list(world.actor("finance"), "deduction").rows == []


def test_card_upfront_fee_monthly_payment(world: World) -> None:
    product = world.product(method="card_instalment", fee_collection="upfront")

    record = world.fire(world.application(product), "submit", "dealer")

    # 120,000 over 36 months: 3,333.33 a month; the first instalment adds the whole fee of 120,000 × 0.35% × 36 = 15,120.
    assert record["monthly_payment"] == Decimal("3333.33")
    per_period = world.fire(world.application(world.product(method="card_instalment")), "submit", "dealer")
    assert per_period["monthly_payment"] == Decimal("3333.33") + Decimal("420.00")
