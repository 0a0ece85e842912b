"""Hooks of the loan's contracts: generate and send them for e-signature, and record how the signing ended.

The "send contracts" action prints each contract from its template, stores the PDF on a
`contract` record and sends it in an envelope of its own. The provider reports the outcome
by callback (`record_signing_event`), or the "refresh signing status" action asks for it.
A signed contract keeps the signed PDF the provider returns, with the digest it was checked
against. Contract records are written as the system: users read them, the hooks keep them.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Mapping

from integrations.e_signature import Envelope, EnvelopeStatus
from runtime.hook_records import HookRecords
from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, ListQuery

from .collateral import CONTRACT_KINDS, RESENDABLE, ContractKind, contract_number, signing_summary
from .context import providers_of, records_of, reference_id, required_reference, system_records

logger = logging.getLogger(__name__)

#: The reason written to the audit log with the contract changes of these hooks.
REASON = "e-signature of the loan's contracts"
#: The outcomes of an envelope that a callback may report.
SETTLED = ("signed", "declined", "expired")


def contracts_of(reader: HookRecords, application_id: int) -> dict[str, dict[str, Any]]:
    """Return the live contracts of an application by kind."""
    page = reader.list("contract", ListQuery(where=Condition("application", "eq", application_id), sort=("id",), limit=20))
    return {str(row["kind"]): dict(row) for row in page.rows}


def loan_summary(contracts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Return the loan's signing summary fields from its contracts."""
    guarantee = contracts.get("guarantee") or {}
    return {"signing_status": signing_summary([str(row.get("status")) for row in contracts.values()]),
            "signing_envelope_id": guarantee.get("envelope_id")}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


#: The contracts the personal guarantor signs besides the borrowers: the guarantee contract, where the guarantor is a party.
GUARANTOR_SIGNS = ("guarantee",)


def _signers(context: HookContext, reader: HookRecords, kind: ContractKind) -> list[tuple[str, str, str]]:
    """Return the borrower, the co-borrower if any and, on the guarantee contract, the personal guarantor if any, as
    e-signature signers with their full ID and mobile numbers."""
    people = [reader.get("customer", required_reference(context, "customer", "borrower", "借款人"))]
    for field in ("co_borrower", "guarantor") if kind.name in GUARANTOR_SIGNS else ("co_borrower",):
        person = reference_id(context.record.get(field))
        if person is not None:
            people.append(reader.get("customer", person))
    return [(str(person["name"]), str(person["id_number"]), str(person["phone"])) for person in people]


def _send(context: HookContext, reader: HookRecords, kind: ContractKind, contract: dict[str, Any] | None,
          signers: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Generate one contract from its template, store the PDF, send it in a new envelope; return the contract."""
    record = context.record
    application_id = int(record["id"])
    number = contract_number(str(record.get("application_no") or f"LA{application_id}"), kind)
    if contract is None:
        contract = reader.create("contract", {"contract_no": number, "application": application_id, "kind": kind.name,
                                              "status": "draft"}, reason=REASON)

    pdf = reader.print_pdf("loan_application", application_id, kind.template)
    filename = f"{number}.pdf"
    contract = reader.attach("contract", int(contract["id"]), "document", pdf, filename=filename, version=int(contract["version"]),
                             reason=REASON)
    envelope: Envelope = providers_of(context)["e_signature"].create_envelope(pdf, filename, signers, title=f"{kind.zh} {number}")
    values = {"envelope_id": envelope.envelope_id, "status": "sent", "sent_at": _now(),
              "send_count": int(contract.get("send_count") or 0) + 1, "signers": "、".join(name for name, _, _ in signers),
              "signed_at": None, "signed_document": None, "signed_digest": None, "failure_reason": None}
    contract = reader.update("contract", int(contract["id"]), values, version=int(contract["version"]), reason=REASON)
    logger.info("loan_application %s: %s %s sent in envelope %s (%s)", application_id, kind.name, number, envelope.envelope_id,
                envelope.status)
    # A provider may settle an envelope at once (the sandbox does); its outcome is then recorded now.
    if envelope.status != "sent":
        contract = settle(context, reader, contract, EnvelopeStatus(envelope.envelope_id, envelope.status))
    return contract


def settle(context: HookContext, reader: HookRecords, contract: dict[str, Any], outcome: EnvelopeStatus) -> dict[str, Any]:
    """Record a settled envelope on its contract: the signed PDF and its digest, or why it was not signed."""
    if outcome.status == "sent" or contract.get("status") != "sent":
        return contract
    values: dict[str, Any] = {"status": outcome.status}
    if outcome.status == "signed":
        signed = providers_of(context)["e_signature"].download(outcome.envelope_id)
        contract = reader.attach("contract", int(contract["id"]), "signed_document", signed.content,
                                 filename=f"{contract['contract_no']}-signed.pdf", version=int(contract["version"]), reason=REASON)
        values.update(signed_at=_now(), signed_digest=f"{signed.digest_algorithm}:{signed.digest}")
    else:
        values["failure_reason"] = (outcome.reason or outcome.status)[:200]
    logger.info("contract %s (%s): envelope %s %s", contract["id"], contract.get("contract_no"), outcome.envelope_id, outcome.status)
    return reader.update("contract", int(contract["id"]), values, version=int(contract["version"]), reason=REASON)


def contract_writer(context: HookContext) -> HookRecords:
    """Return the record service as the system, creating contracts in the loan's org unit, where its dealer staff read them."""
    unit = context.record.get("org_unit")
    return records_of(context).as_system(f"contracts of loan_application {context.record.get('id')}",
                                         org_unit=str(unit) if unit else None)


@hook("guarantee.send_contracts")
def send_contracts(context: HookContext) -> dict[str, Any]:
    """Generate and send the contracts not sent yet, or sent and then declined or expired; signed and pending ones stay."""
    reader = contract_writer(context)
    application_id = int(context.record["id"])
    contracts = contracts_of(reader, application_id)
    due = [kind for kind in CONTRACT_KINDS if contracts.get(kind.name, {}).get("status", "draft") in RESENDABLE]
    if not due:
        raise HookError("Every contract is signed or awaiting signature; use “Refresh signing status” to see whether the "
                        "pending ones are signed", "合同均已签署或正在等待签署；可点击“刷新签署状态”查看待签合同的最新状态")
    for kind in due:
        contracts[kind.name] = _send(context, reader, kind, contracts.get(kind.name), _signers(context, reader, kind))
    return loan_summary(contracts)


@hook("guarantee.refresh_signing")
def refresh_signing(context: HookContext) -> dict[str, Any]:
    """Ask the e-signature provider for the status of each pending contract's envelope, and record the settled ones."""
    reader = system_records(context)
    contracts = contracts_of(reader, int(context.record["id"]))
    pending = [contracts[kind.name] for kind in CONTRACT_KINDS
               if contracts.get(kind.name, {}).get("status") == "sent" and contracts[kind.name].get("envelope_id")]
    if not pending:
        raise HookError("No contract is awaiting signature; send the contracts first", "没有待签署的合同，请先生成并发起签署")
    provider = providers_of(context)["e_signature"]
    for contract in pending:
        outcome = provider.status(str(contract["envelope_id"]))
        contracts[str(contract["kind"])] = settle(context, reader, contract, outcome)
    return loan_summary(contracts)


@hook("guarantee.record_signing_event")
def record_signing_event(context: HookContext) -> None:
    """Record an envelope's outcome that the e-signature provider reported by callback, on its contract and loan.

    An envelope no contract refers to any more (its contract was sent again since) is ignored, as
    is the outcome of one already settled.
    """
    payload = context.extra.get("payload") or {}
    envelope_id, status = str(payload.get("envelope_id") or ""), str(payload.get("status") or "")
    reader = system_records(context)
    page = reader.list("contract", ListQuery(where=Condition("envelope_id", "eq", envelope_id), limit=2))
    if not page.rows:
        logger.info("e-signature callback for envelope %s, which no contract refers to now; ignored", envelope_id)
        return
    contract = dict(page.rows[0])
    if contract.get("status") != "sent" or status not in SETTLED:
        logger.info("e-signature callback %s for contract %s, which is %s; ignored", status, contract["id"], contract.get("status"))
        return
    settle(context, reader, contract, EnvelopeStatus(envelope_id, status, payload.get("reason")))

    application_id = reference_id(contract.get("application"))
    if application_id is None:
        return
    loan = reader.get("loan_application", application_id)
    reader.update("loan_application", application_id, loan_summary(contracts_of(reader, application_id)), version=int(loan["version"]),
                  reason=REASON)
