"""The advance's payment records: which attempt is current, what the bank's result changes, and when the loan may go on.

An application's advance is paid in attempts, one `advance_payment` record each. Only the
latest attempt counts; a new one is allowed only after the latest failed. The bank's
result moves an attempt from "processing" to "succeeded" or "failed", never back and never
from one outcome to the other. The functions here take and return plain values, so the
rules are tested without a database.
"""

from __future__ import annotations

import datetime
from typing import Any, Mapping, Sequence

from .funding import Refusal

PROCESSING, SUCCEEDED, FAILED = "processing", "succeeded", "failed"
#: The Chinese names of the payment statuses, as the screens show them.
STATUS_ZH = {PROCESSING: "处理中", SUCCEEDED: "已付款", FAILED: "付款失败"}


def payment_reference(application_no: str, attempt: int) -> str:
    """Return the bank reference of an attempt: one per attempt, as the bank pays each reference only once."""
    return f"{application_no}-ADV{attempt}"


def latest_attempt(payments: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Return the application's current attempt, the one with the highest number."""
    return max(payments, key=lambda row: int(row["attempt"]), default=None)


def summary(payment: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the application's summary fields that mirror its current attempt."""
    if payment is None:
        return {"advance_payment_status": None, "advance_bank_reference": None}
    return {"advance_payment_status": payment.get("status"), "advance_bank_reference": payment.get("bank_reference")}


def _status_text(payment: Mapping[str, Any] | None) -> tuple[str, str]:
    status = str(payment.get("status")) if payment is not None else ""
    return (status or "none"), STATUS_ZH.get(status, "无")


def mortgage_refusal(payment: Mapping[str, Any] | None) -> Refusal | None:
    """Return why the mortgage may not be registered yet, or None once the bank confirmed the advance paid."""
    if payment is not None and payment.get("status") == SUCCEEDED:
        return None
    en, zh = _status_text(payment)
    if payment is not None and payment.get("status") == FAILED:
        return Refusal(f"The advance to the dealer failed ({payment.get('failure_reason') or 'no reason given'}); "
                       "pay it again with “Pay the advance again” before registering the mortgage",
                       f"垫资款付款失败（{payment.get('failure_reason') or '未说明原因'}），请先“重新支付垫资”，银行确认付款后再办理抵押登记",
                       "advance_payment_status")
    return Refusal(f"The bank has not confirmed the advance paid (payment status: {en}); use “Refresh advance status” "
                   "once the bank has paid, then register the mortgage",
                   f"银行尚未确认垫资款已付款（付款状态：{zh}），不能办理抵押登记；请在银行付款后点击“查询垫资结果”确认",
                   "advance_payment_status")


def retry_refusal(payment: Mapping[str, Any] | None) -> Refusal | None:
    """Return why the advance may not be paid again, or None when the latest attempt failed."""
    if payment is not None and payment.get("status") == FAILED:
        return None
    en, zh = _status_text(payment)
    return Refusal(f"The advance can be paid again only after a failed payment; its payment status is {en}",
                   f"只有付款失败后才能重新支付垫资，当前付款状态为{zh}", "advance_payment_status")


def refresh_refusal(payment: Mapping[str, Any] | None) -> Refusal | None:
    """Return why there is nothing to ask the bank, or None while the latest attempt is processing."""
    if payment is not None and payment.get("status") == PROCESSING:
        return None
    en, zh = _status_text(payment)
    return Refusal(f"There is no payment waiting for the bank's result; the advance's payment status is {en}",
                   f"没有等待银行结果的垫资付款，当前付款状态为{zh}", "advance_payment_status")


def result_changes(payment: Mapping[str, Any], status: str, reason: str | None,
                   now: datetime.datetime) -> dict[str, Any] | Refusal:
    """Return the changes the bank's result makes to an attempt ({} when it changes nothing), or why it cannot be taken.

    A processing result changes nothing. An attempt already settled takes the same outcome
    again without change, and a different outcome is refused: the bank must be asked.
    """
    current = payment.get("status")
    if status == PROCESSING or status == current:
        return {}
    if current != PROCESSING:
        return Refusal(f"The bank reports payment {payment.get('reference')} as {status}, but it was recorded as {current}; "
                       "check the payment with the bank", f"银行报告付款 {payment.get('reference')} 为{STATUS_ZH.get(status, status)}，"
                       f"而系统记录为{STATUS_ZH.get(str(current), str(current))}；请向银行核实该笔付款")
    if status == SUCCEEDED:
        return {"status": SUCCEEDED, "paid_at": now, "failure_reason": None}
    return {"status": FAILED, "failure_reason": (reason or "银行未说明原因 (no reason given)")[:200]}
