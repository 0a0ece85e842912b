"""Hooks of the steps after the advance: contract signing and settlement (the advance and the ledger records have their own modules)."""

from __future__ import annotations

import html
import logging
from typing import Any, Mapping

from runtime.hooks import HookContext, HookError, hook

from .context import providers_of, reference_id, required_reference, system_records, today
from .funding import Refusal, last_paid_on, settlement_refusal
from .money import decimal_of

logger = logging.getLogger(__name__)

#: The e-signature provider's statuses that end signing without a signed contract.
SIGNING_FAILED = {"declined": ("declined to sign", "拒绝签署"), "expired": ("let the signing expire", "未在期限内签署")}


def _stop(refusal: Refusal) -> HookError:
    return HookError(refusal.en, refusal.zh, field=refusal.field)


def _number(record: Mapping[str, Any]) -> str:
    return str(record.get("application_no") or f"LA{record['id']}")


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


@hook("guarantee.post_settlement")
def post_settlement(context: HookContext) -> dict[str, Any]:
    """Settle the loan when every instalment is paid in full."""
    instalments = list(context.record.get("instalments") or [])
    refusal = settlement_refusal(instalments)
    if refusal is not None:
        raise _stop(refusal)
    return {"settled_on": last_paid_on(instalments) or today(), "days_past_due": 0, "overdue_bucket": None}
