"""Hooks of the money steps: the advance to the dealer, the repayment schedule, deduction and settlement."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from integrations.bank import PaymentInstruction, masked_account
from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, ListQuery

from .application_hooks import loan_terms
from .context import providers_of, records_of, required_reference, system_records, today
from .funding import Refusal, dealer_payee, deduction_refusal, last_paid_on, settlement_refusal
from .money import decimal_of
from .schedule import build_schedule

logger = logging.getLogger(__name__)


def _stop(refusal: Refusal) -> HookError:
    return HookError(refusal.en, refusal.zh, field=refusal.field)


def _number(record: Mapping[str, Any]) -> str:
    return str(record.get("application_no") or f"LA{record['id']}")


@hook("guarantee.post_advance")
def post_advance(context: HookContext) -> dict[str, Any]:
    """Pay the advance to the dealer's registered company account, and to no other, and store the bank's reference."""
    record = context.record
    reader = system_records(context)
    dealer_id = required_reference(context, "dealer", "dealer", "经销商")
    dealer = reader.get("dealer", dealer_id)
    account = str(dealer.get("bank_account") or "").replace(" ", "")
    sharing = reader.list("dealer", ListQuery(where=Condition("bank_account", "eq", account), limit=20, fields=("name",))).rows if account else []
    payee = dealer_payee(dealer, [str(row["name"]) for row in sharing if int(row["id"]) != dealer_id])
    if isinstance(payee, Refusal):
        raise _stop(payee)

    reference = f"{_number(record)}-ADV"
    instruction = PaymentInstruction(reference, payee.account, payee.name, payee.bank, decimal_of(record.get("advance_amount")),
                                     purpose=f"垫资 {_number(record)}")
    receipt = providers_of(context)["bank"].pay_advance(instruction)
    if receipt.reference != reference:
        raise HookError(f"The bank reported payment {receipt.reference}, not {reference}; check with the bank before paying again",
                        f"银行回报的付款编号为 {receipt.reference}，而不是 {reference}；请先向银行核实，不要重复付款")
    if receipt.status == "failed":
        raise HookError(f"The bank did not pay the advance: {receipt.reason or 'no reason given'}",
                        f"银行未能支付垫资款：{receipt.reason or '未说明原因'}", field="advance_amount")
    logger.info("loan_application %s: advance %s paid to %s, bank reference %s (%s)", record.get("id"), reference,
                masked_account(payee.account), receipt.bank_reference, receipt.status)
    return {"advance_bank_reference": receipt.bank_reference, "advance_payment_status": receipt.status}


@hook("guarantee.build_repayment_schedule")
def build_repayment_schedule(context: HookContext) -> dict[str, Any]:
    """Write the instalments of the disbursed loan, due monthly from the first due date."""
    record = context.record
    disbursed, loan = decimal_of(record.get("disbursed_amount")), decimal_of(record.get("loan_amount"))
    if disbursed > loan:
        raise HookError(f"The bank disbursed {disbursed:,.2f} yuan, more than the loan amount of {loan:,.2f}; check the amount",
                        f"银行放款 {disbursed:,.2f} 元，超过贷款金额 {loan:,.2f} 元；请核对放款金额", field="disbursed_amount")
    first_due, disbursed_on = record.get("first_due_date"), record.get("disbursed_on")
    if first_due is None or (disbursed_on is not None and first_due <= disbursed_on):
        raise HookError("The first due date must come after the disbursement date", "首期还款日须晚于放款日期", field="first_due_date")
    product = records_of(context).get("loan_product", required_reference(context, "product", "loan product", "贷款产品"))
    schedule = build_schedule(loan_terms(record, product, principal=disbursed), first_due)
    rows = [{"period": item.period, "due_date": item.due_date, "principal": item.principal, "interest": item.interest,
             "fee": item.fee, "amount": item.amount} for item in schedule]
    return {"instalments": rows}


@hook("guarantee.post_deduction")
def post_deduction(context: HookContext) -> dict[str, Any]:
    """Deduct the advance from the bank's disbursement, when the disbursement covers it and the advance was paid."""
    record = context.record
    refusal = deduction_refusal(record.get("advance_amount"), record.get("disbursed_amount"), record.get("advance_payment_status"))
    if refusal is not None:
        raise _stop(refusal)
    return {"deducted_amount": decimal_of(record.get("advance_amount")), "deducted_on": today()}


@hook("guarantee.post_settlement")
def post_settlement(context: HookContext) -> dict[str, Any]:
    """Settle the loan when every instalment is paid in full."""
    instalments = list(context.record.get("instalments") or [])
    refusal = settlement_refusal(instalments)
    if refusal is not None:
        raise _stop(refusal)
    return {"settled_on": last_paid_on(instalments) or today(), "days_past_due": 0, "overdue_bucket": None}
