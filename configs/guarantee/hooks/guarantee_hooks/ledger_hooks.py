"""Hooks of the bank's disbursement and the deduction of the advance, each kept as a record of its own.

The bank liaison enters the bank's disbursement notice on the "银行放款" step. The hook
records it as a `disbursement`, and the repayment schedule is built from that record.
Finance's deduction takes back exactly the advance the bank confirmed paid, and records
it as a `deduction` with the difference between the two, which is 0 when every yuan came back.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, ListQuery

from .advance import SUCCEEDED, latest_attempt
from .advance_hooks import application_number, attempts_of, stop
from .application_hooks import loan_terms
from .context import records_of, required_reference, system_records, today, unit_writer
from .exposure import payment_dealer, refresh_exposure
from .funding import deduction_refusal
from .money import decimal_of
from .schedule import build_schedule

logger = logging.getLogger(__name__)


def disbursement_of(context: HookContext) -> dict[str, Any] | None:
    """Return the application's latest disbursement notice, read as the system."""
    query = ListQuery(where=Condition("application", "eq", int(context.record["id"])), sort=("-id",), limit=1)
    rows = system_records(context).list("disbursement", query).rows
    return rows[0] if rows else None


@hook("guarantee.record_disbursement")
def record_disbursement(context: HookContext) -> None:
    """Record the bank's disbursement notice the bank liaison entered on the step."""
    record = context.record
    disbursed, loan = decimal_of(record.get("disbursed_amount")), decimal_of(record.get("loan_amount"))
    if disbursed > loan:
        raise HookError(f"The bank disbursed {disbursed:,.2f} yuan, more than the loan amount of {loan:,.2f}; check the amount",
                        f"银行放款 {disbursed:,.2f} 元，超过贷款金额 {loan:,.2f} 元；请核对放款金额", field="disbursed_amount")
    first_due, disbursed_on = record.get("first_due_date"), record.get("disbursed_on")
    if first_due is None or (disbursed_on is not None and first_due <= disbursed_on):
        raise HookError("The first due date must come after the disbursement date", "首期还款日须晚于放款日期", field="first_due_date")
    notice = str(record.get("disbursement_notice_no") or "").strip()
    values = {"application": int(record["id"]), "notice_no": notice, "amount": disbursed, "disbursed_on": disbursed_on,
              "first_due_date": first_due}
    unit_writer(context, "disbursement notice").create("disbursement", values)
    logger.info("loan_application %s: disbursement notice %s of %s recorded", record.get("id"), notice, disbursed)


@hook("guarantee.build_repayment_schedule")
def build_repayment_schedule(context: HookContext) -> dict[str, Any]:
    """Write the instalments of the disbursed loan from its disbursement notice, due monthly from the first due date."""
    notice = disbursement_of(context)
    if notice is None:
        raise HookError("Record the bank's disbursement notice before building the repayment schedule",
                        "请先登记银行放款通知，再生成还款计划", field="disbursement_notice_no")
    product = records_of(context).get("loan_product", required_reference(context, "product", "loan product", "贷款产品"))
    schedule = build_schedule(loan_terms(context.record, product, principal=decimal_of(notice["amount"])), notice["first_due_date"])
    rows = [{"period": item.period, "due_date": item.due_date, "principal": item.principal, "interest": item.interest,
             "fee": item.fee, "amount": item.amount} for item in schedule]
    return {"instalments": rows}


def _id(row: Mapping[str, Any] | None) -> int | None:
    return int(row["id"]) if row is not None else None


@hook("guarantee.post_deduction")
def post_deduction(context: HookContext) -> dict[str, Any]:
    """Deduct the advance paid from the bank's disbursement, in full, and record the deduction."""
    record = context.record
    payment = latest_attempt(attempts_of(system_records(context), int(record["id"])))
    notice = disbursement_of(context)
    if notice is None:
        raise HookError("Record the bank's disbursement notice before deducting the advance", "请先登记银行放款通知，再划扣垫款")
    paid = decimal_of(payment.get("amount")) if payment is not None and payment.get("status") == SUCCEEDED else None
    refusal = deduction_refusal(paid, notice.get("amount"), str(payment.get("status")) if payment is not None else None)
    if refusal is not None:
        raise stop(refusal)
    payment_id, notice_id = _id(payment), _id(notice)
    if paid is None or payment_id is None or notice_id is None:
        raise HookError("The advance has not been paid, so there is nothing to deduct", "垫资款尚未付款成功，无可划扣的垫款")
    reference = str(record.get("deduction_bank_reference") or "").strip()
    day = today()
    unit_writer(context, "deduction").create("deduction", {"application": int(record["id"]), "advance_payment": payment_id,
                                                           "disbursement": notice_id, "advance_paid": paid, "amount": paid,
                                                           "deducted_on": day, "bank_reference": reference})
    refresh_exposure(system_records(context), payment_dealer(payment))
    logger.info("loan_application %s: advance %s of %s deducted, bank reference %s", record.get("id"),
                application_number(record), paid, reference)
    return {"deducted_amount": paid, "deducted_on": day}
