"""The personal guarantor (保证人) of a loan application: checked like the borrower, queried at the credit bureau, party to the
guarantee contract."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.errors import ValidationFailed

from guarantee_world import SYSTEM, World, messages
from test_guarantee_anti_fraud import (STOPPED_EN, STOPPED_ZH, birth_date_for_age, forwarded, rejected_forward, submitted, warning_lines,
                                      withdraw_consent)
from test_guarantee_collateral import advanced, contracts, pdf_text
from test_guarantee_review_records import checks_of, in_credit_review


def name_of(world: World, customer: int) -> str:
    return str(world.runtime.records.get(SYSTEM, "customer", customer)["name"])


def test_blacklisted_guarantor_stops_forward(world: World) -> None:
    guarantor = world.customer(sequence=600, blacklisted=True, blacklist_reason="恶意逃废债务")
    record = submitted(world, guarantor=guarantor)
    rejected = rejected_forward(world, record)
    name = name_of(world, guarantor)
    assert messages(rejected) == f"guarantor: {name} {STOPPED_EN}"
    assert messages(rejected, "zh-CN") == f"guarantor: {name} {STOPPED_ZH}"
    assert world.read(record, "risk")["state"] == "submitted"


def test_blacklisted_guarantor_rejects_fast_track_application(world: World) -> None:
    guarantor = world.customer(sequence=600, blacklisted=True, blacklist_reason="恶意逃废债务")
    record = world.fire(world.application(world.product("fast_track"), guarantor=guarantor), "submit", "dealer")
    record = world.fire(record, "forward", "dealer")
    stored = world.read(record, "risk")
    assert (stored["anti_fraud_stopped"], stored["state"]) == (True, "rejected")


def test_credit_report_queried_for_the_guarantor(world: World) -> None:
    co_borrower, guarantor = world.customer(sequence=700), world.customer(sequence=600)
    record = in_credit_review(world, co_borrower=co_borrower, guarantor=guarantor)
    checks = checks_of(world, record, "credit")
    assert [(row["party"], row["person"]) for row in checks] == [
        ("borrower", world.read(record)["customer"]), ("co_borrower", co_borrower), ("guarantor", guarantor)]
    assert checks[2]["consent"].startswith(f"C{guarantor}-")


def test_guarantor_without_consent_is_not_queried(world: World) -> None:
    guarantor = world.customer(sequence=600)
    record = world.fire(world.fire(world.application(world.product(), guarantor=guarantor), "submit", "dealer"), "forward", "dealer")
    withdraw_consent(world, guarantor)
    with pytest.raises(ValidationFailed) as error:
        world.fire(record, "start_credit_review", "credit")
    assert messages(error.value).startswith(f"guarantor: {name_of(world, guarantor)} has not signed the personal information consent")
    assert checks_of(world, record, "credit") == []


def test_guarantor_age_at_term_end_is_warned(world: World) -> None:
    # 63 now: 66 at the end of the 36 months' term, above the rule's 65.
    guarantor = world.customer(sequence=600, birth_date=birth_date_for_age(63, 0))
    record = forwarded(world, guarantor=guarantor)
    name = name_of(world, guarantor)
    assert record["state"] == "received"
    lines = [line for line in warning_lines(record) if name in line]
    assert len(lines) == 1
    assert lines[0].startswith(f"保证人 {name} 在贷款到期时")
    assert "不在 18 至 65 周岁之间" in lines[0]


def test_guarantor_must_be_another_person(world: World) -> None:
    borrower = world.customer()
    with pytest.raises(ValidationFailed) as error:
        world.application(world.product(), customer=borrower, guarantor=borrower)
    assert "guarantor: The personal guarantor must be someone other than the borrower and the co-borrower" in messages(error.value)
    co_borrower = world.customer(sequence=700)
    with pytest.raises(ValidationFailed):
        world.application(world.product(), co_borrower=co_borrower, guarantor=co_borrower)


def test_guarantee_contract_names_guarantor(world: World) -> None:
    guarantor = world.customer(sequence=600)
    person = world.runtime.records.get(SYSTEM, "customer", guarantor)
    record: dict[str, Any] = advanced(world, guarantor=guarantor)
    borrower = name_of(world, record["customer"])
    sent = contracts(world, world.users.run_action(world.actor("operations"), "loan_application", record["id"], "send_contracts",
                                                   version=record["version"]))
    text = pdf_text(world, sent["guarantee"]["document"])
    assert f"丙方（反担保保证人）{person['name']}身份证号{person['id_number']}" in text
    assert "向乙方提供连带责任保证反担保" in text
    assert "一式四份" in text
    assert sent["guarantee"]["signers"] == f"{borrower}、{person['name']}"
    # The mortgage contract and the deduction authorization are the borrower's alone.
    assert person["name"] not in pdf_text(world, sent["mortgage"]["document"])
    assert sent["mortgage"]["signers"] == sent["deduction_authorization"]["signers"] == borrower


def test_guarantee_contract_without_guarantor_has_two_parties(world: World) -> None:
    record = advanced(world)
    sent = contracts(world, world.users.run_action(world.actor("operations"), "loan_application", record["id"], "send_contracts",
                                                   version=record["version"]))
    text = pdf_text(world, sent["guarantee"]["document"])
    assert "丙方" not in text
    assert "一式三份" in text
