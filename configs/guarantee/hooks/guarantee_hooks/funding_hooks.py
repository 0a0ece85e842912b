"""Hooks of the money steps: the advance to the dealer, contract signing, the repayment schedule, deduction and settlement."""

from __future__ import annotations

import html
import logging
from typing import Any, Mapping

from integrations.bank import PaymentInstruction, masked_account
from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, ListQuery

from .application_hooks import loan_terms
from .context import providers_of, records_of, reference_id, required_reference, system_records, today
from .funding import Refusal, dealer_payee, deduction_refusal, last_paid_on, settlement_refusal
from .money import decimal_of
from .schedule import build_schedule

logger = logging.getLogger(__name__)

#: The e-signature provider's statuses that end signing without a signed contract.
SIGNING_FAILED = {"declined": ("declined to sign", "拒绝签署"), "expired": ("let the signing expire", "未在期限内签署")}


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


def contract_pdf(record: Mapping[str, Any], signers: list[tuple[str, str, str]]) -> bytes:
    """Render the guarantee contract's summary page as PDF with WeasyPrint."""
    from weasyprint import HTML

    rows = [("申请编号", _number(record)), ("贷款金额（元）", f"{decimal_of(record.get('loan_amount')):,.2f}"),
            ("期限（月）", str(record.get("term_months") or "")), ("月还款额（元）", f"{decimal_of(record.get('monthly_payment')):,.2f}"),
            ("年化利率", f"{decimal_of(record.get('apr')) * 100:.2f}%"), ("签署人", "、".join(name for name, _, _ in signers))]
    cells = "".join(f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>" for label, value in rows)
    page = f"<html><body><h1>汽车按揭担保合同</h1><table>{cells}</table></body></html>"
    return bytes(HTML(string=page).write_pdf())


@hook("guarantee.sign_contracts")
def sign_contracts(context: HookContext) -> dict[str, Any]:
    """Send the contract to the borrower (and co-borrower) for e-signature and store the envelope and its status."""
    record = context.record
    reader = system_records(context)
    people = [reader.get("customer", required_reference(context, "customer", "borrower", "借款人"))]
    co_borrower = reference_id(record.get("co_borrower"))
    if co_borrower is not None:
        people.append(reader.get("customer", co_borrower))
    signers = [(str(person["name"]), str(person["id_number"]), str(person["phone"])) for person in people]
    envelope = providers_of(context)["e_signature"].create_envelope(contract_pdf(record, signers), f"{_number(record)}.pdf", signers,
                                                                 title=f"汽车按揭担保合同 {_number(record)}")
    if envelope.status in SIGNING_FAILED:
        en, zh = SIGNING_FAILED[envelope.status]
        raise HookError(f"A signer {en}, so the contracts are not signed (envelope {envelope.envelope_id}); send them again",
                        f"签署人{zh}，合同未签署（签约编号 {envelope.envelope_id}）；请重新发起签署")
    return {"signing_envelope_id": envelope.envelope_id, "signing_status": envelope.status}


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
