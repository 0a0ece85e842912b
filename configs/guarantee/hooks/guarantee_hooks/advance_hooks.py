"""Hooks of the advance to the dealer: each payment attempt as an `advance_payment` record, and the bank's results for it.

The advance step pays the first attempt. Finance asks the bank for the result of a payment
still processing ("查询垫资结果"), or the bank reports it as a callback; either way the
attempt and the application's summary fields change together. After a failed payment,
finance pays again, to the dealer's account as registered at that moment. The mortgage
step waits until the bank confirmed the current attempt paid.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Mapping

from integrations.bank import PaymentInstruction, PaymentReceipt, masked_account
from runtime.hook_records import HookRecords
from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, ListQuery

from .advance import (FAILED, latest_attempt, mortgage_refusal, payment_reference, refresh_refusal, result_changes, retry_refusal,
                      summary)
from .context import providers_of, records_of, reference_id, required_reference, system_records, unit_writer
from .exposure import dealer_exposure, payment_dealer, quota_refusal, refresh_exposure
from .funding import Refusal, dealer_payee
from .money import decimal_of

logger = logging.getLogger(__name__)

#: More attempts than any application needs; the list of attempts is read whole.
MAX_ATTEMPTS = 100


def stop(refusal: Refusal) -> HookError:
    return HookError(refusal.en, refusal.zh, field=refusal.field)


def application_number(record: Mapping[str, Any]) -> str:
    return str(record.get("application_no") or f"LA{record['id']}")


def attempts_of(reader: HookRecords, application_id: int) -> list[dict[str, Any]]:
    """Return the application's advance payments, read as the system so that every attempt counts."""
    query = ListQuery(where=Condition("application", "eq", application_id), sort=("-attempt",), limit=MAX_ATTEMPTS)
    return reader.list("advance_payment", query).rows


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _pay(context: HookContext, attempt: int) -> dict[str, Any]:
    """Pay attempt number `attempt` of the application's advance to the dealer's registered account and record it."""
    record = context.record
    reader = system_records(context)
    dealer_id = required_reference(context, "dealer", "dealer", "经销商")
    dealer = reader.get("dealer", dealer_id)
    if dealer.get("cooperation_status") != "active":
        raise HookError(f"The dealer {dealer.get('name')} is not active, so no advance is paid to it",
                        f"经销商 {dealer.get('name')} 不在合作状态，不能向其支付垫资款", field="dealer")
    account = str(dealer.get("bank_account") or "").replace(" ", "")
    sharing = reader.list("dealer", ListQuery(where=Condition("bank_account", "eq", account), limit=20, fields=("name",))).rows if account else []
    payee = dealer_payee(dealer, [str(row["name"]) for row in sharing if int(row["id"]) != dealer_id])
    if isinstance(payee, Refusal):
        raise stop(payee)

    amount = decimal_of(record.get("advance_amount"))
    over_quota = quota_refusal(str(dealer.get("name")), dealer.get("quota"), dealer_exposure(reader, dealer_id), amount)
    if over_quota is not None:
        raise stop(over_quota)
    reference = payment_reference(application_number(record), attempt)
    instruction = PaymentInstruction(reference, payee.account, payee.name, payee.bank, amount, purpose=f"垫资 {application_number(record)}")
    requested_at = _now()
    receipt = providers_of(context)["bank"].pay_advance(instruction)
    if receipt.reference != reference:
        raise HookError(f"The bank reported payment {receipt.reference}, not {reference}; check with the bank before paying again",
                        f"银行回报的付款编号为 {receipt.reference}，而不是 {reference}；请先向银行核实，不要重复付款")
    values = {"application": int(record["id"]), "attempt": attempt, "reference": reference, "dealer": dealer_id, "amount": amount,
              "payee_name": payee.name, "payee_bank": payee.bank, "payee_account": payee.account,
              "bank_reference": receipt.bank_reference, "status": receipt.status, "requested_at": requested_at,
              "paid_at": requested_at if receipt.status == "succeeded" else None,
              "failure_reason": (receipt.reason or "银行未说明原因 (no reason given)")[:200] if receipt.status == FAILED else None}
    payment = unit_writer(context, "advance payment").create("advance_payment", values)
    refresh_exposure(reader, dealer_id)
    logger.info("loan_application %s: advance %s of %s paid to %s, bank reference %s (%s)", record.get("id"), reference, amount,
                masked_account(payee.account), receipt.bank_reference, receipt.status)
    return summary({**values, "id": payment["id"]})


@hook("guarantee.post_advance")
def post_advance(context: HookContext) -> dict[str, Any]:
    """Pay the advance to the dealer's registered company account, and to no other, as a new payment record.

    A payment the bank fails at once is recorded too. The application then waits for finance
    to pay again, as after a payment that fails later.
    """
    previous = latest_attempt(attempts_of(system_records(context), int(context.record["id"])))
    return _pay(context, int(previous["attempt"]) + 1 if previous is not None else 1)


@hook("guarantee.pay_advance_again")
def pay_advance_again(context: HookContext) -> dict[str, Any]:
    """Pay the advance again after the latest payment failed, as a new attempt with its own reference."""
    previous = latest_attempt(attempts_of(system_records(context), int(context.record["id"])))
    refusal = retry_refusal(previous)
    if refusal is not None or previous is None:
        raise stop(refusal or Refusal("The advance has not been paid yet", "垫资款尚未付款"))
    return _pay(context, int(previous["attempt"]) + 1)


def take_result(reader: HookRecords, payment: Mapping[str, Any], receipt: PaymentReceipt) -> dict[str, Any]:
    """Write the bank's result for an attempt, as the system, and return the attempt as it is now."""
    changes = result_changes(payment, receipt.status, receipt.reason, _now())
    if isinstance(changes, Refusal):
        raise stop(changes)
    if receipt.bank_reference and receipt.bank_reference != payment.get("bank_reference"):
        changes["bank_reference"] = receipt.bank_reference
    if not changes:
        return dict(payment)
    logger.info("advance_payment %s (%s): the bank reports %s", payment["id"], payment.get("reference"), receipt.status)
    updated = reader.update("advance_payment", int(payment["id"]), changes, version=int(payment["version"]))
    refresh_exposure(reader, payment_dealer(updated))
    return updated


@hook("guarantee.refresh_advance")
def refresh_advance(context: HookContext) -> dict[str, Any]:
    """Ask the bank for the result of the advance payment still processing, and record it."""
    reader = system_records(context)
    payment = latest_attempt(attempts_of(reader, int(context.record["id"])))
    refusal = refresh_refusal(payment)
    if refusal is not None or payment is None:
        raise stop(refusal or Refusal("The advance has not been paid yet", "垫资款尚未付款"))
    receipt = providers_of(context)["bank"].payment_status(str(payment["reference"]))
    return summary(take_result(reader, payment, receipt))


@hook("guarantee.require_advance_paid")
def require_advance_paid(context: HookContext) -> None:
    """Refuse the mortgage step until the bank confirmed the application's advance paid."""
    payment = latest_attempt(attempts_of(system_records(context), int(context.record["id"])))
    refusal = mortgage_refusal(payment)
    if refusal is not None:
        raise stop(refusal)


@hook("guarantee.bank_callback")
def bank_callback(context: HookContext) -> None:
    """Take the bank's report of a payment's result; disbursement notices are recorded by the bank liaison instead."""
    kind, payload = context.event.removeprefix("callback:"), context.extra.get("payload") or {}
    if kind != "bank_payment_result":
        logger.info("bank callback %s of kind %s needs no action", context.extra.get("event_id"), kind)
        return
    reader = records_of(context)
    reference = str(payload.get("reference"))
    found = reader.list("advance_payment", ListQuery(where=Condition("reference", "eq", reference), limit=1)).rows
    if not found:
        raise HookError(f"The bank reports payment {reference}, which no advance payment has; check the reference with the bank",
                        f"银行报告的付款 {reference} 不对应任何垫资付款记录；请向银行核对付款编号")
    payment = found[0]
    if decimal_of(payload.get("amount")) != decimal_of(payment.get("amount")):
        raise HookError(f"The bank reports payment {reference} of {payload.get('amount')} yuan, but {payment.get('amount')} was "
                        "instructed; check the payment with the bank",
                        f"银行报告付款 {reference} 金额为 {payload.get('amount')} 元，而付款指令金额为 {payment.get('amount')} 元；请向银行核实")
    receipt = PaymentReceipt(reference, payload.get("bank_reference"), str(payload.get("status")), payload.get("reason"))
    updated = take_result(reader, payment, receipt)

    application_id = reference_id(payment.get("application"))
    if application_id is None:
        return
    current = latest_attempt(attempts_of(reader, application_id))
    if current is None or int(current["id"]) != int(updated["id"]):
        return
    application = reader.get("loan_application", application_id)
    changes = {name: value for name, value in summary(updated).items() if application.get(name) != value}
    if changes:
        reader.update("loan_application", application_id, changes, version=int(application["version"]),
                      reason=f"银行回调 {context.extra.get('event_id')} (bank callback)")
