"""The fast-track flow's decisions (configs/guarantee/flows/loan_fast_track.yaml), and the repayment computed again on resubmission.

After forwarding, the rules decide first. With the standard risk strategy
(hooks/risk_strategies.yaml), auto_approve needs a scorecard score of at least 650 with risk
level low, at most 150,000 yuan, a loan-to-value of at most 0.70 and a dealer rated A or B. auto_reject takes a score below 450. Anything else waits in `received` for a
risk officer, who may return it, reject it or review it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from runtime.errors import PermissionDenied, ValidationFailed
from runtime.history import record_history

from guarantee_world import World, hooks_module, messages

schedule = hooks_module("schedule")
repayment = hooks_module("repayment")


def forwarded(world: World, **values: Any) -> dict[str, Any]:
    """Submit and forward a fast-track application; return it as the risk officer reads it, after any automatic decision."""
    record = world.application(world.product("fast_track"), **values)
    record = world.fire(world.fire(record, "submit", "dealer"), "forward", "dealer")
    return world.read(record, "risk")


def waiting(world: World) -> dict[str, Any]:
    """Return a forwarded application that the rules leave to a risk officer: its dealer is rated C."""
    record = forwarded(world, dealer=world.dealer(rating="C"))
    assert record["state"] == "received"
    return record


def transitions(world: World, record: dict[str, Any]) -> list[tuple[str | None, str | None, str | None]]:
    """Return the record's transitions, oldest first, as (transition, actor, comment)."""
    entries = record_history(world.users, world.actor("risk"), "loan_application", record["id"])
    return [(entry.transition, entry.actor, entry.reason) for entry in reversed(entries) if entry.transition]


def test_auto_approve_small_high_score(world: World) -> None:
    record = forwarded(world, vehicle_price=Decimal("260000"), down_payment=Decimal("100000"), loan_amount=Decimal("150000"))

    assert record["state"] == "approved"
    assert record["scorecard_score"] >= 650
    assert record["risk_level"] == "low"
    automatic = transitions(world, record)[-1]
    assert automatic[0] == "auto_approve"
    assert automatic[1] not in ("dealer", "risk")


def test_amount_above_limit_waits(world: World) -> None:
    record = forwarded(world, vehicle_price=Decimal("260000"), down_payment=Decimal("100000"), loan_amount=Decimal("150000.01"))

    assert record["state"] == "received"
    assert record["risk_level"] == "low"
    assert record["scorecard_score"] >= 650


def test_medium_score_waits(world: World) -> None:
    # 25 years old, payment 42% of income, loan-to-value 0.70 and a B dealer: a medium score, neither approved nor rejected.
    today = datetime.date.today()
    customer = world.customer(birth_date=today.replace(year=today.year - 25) - datetime.timedelta(days=40),
                              monthly_income=Decimal("10000"))
    record = forwarded(world, customer=customer, dealer=world.dealer(rating="B"), loan_amount="140000")

    assert record["state"] == "received"
    assert record["risk_level"] == "medium"
    assert 450 <= record["scorecard_score"] < 650


@pytest.mark.parametrize(("transition", "state", "comment"), [
    ("return_to_dealer", "returned", "补充收入证明"),
    ("reject", "rejected", "收入证明系伪造"),
])
def test_decision_from_received(world: World, transition: str, state: str, comment: str) -> None:
    record = waiting(world)
    with pytest.raises(ValidationFailed):
        world.fire(record, transition, "risk")

    record = world.fire(record, transition, "risk", comment=comment)

    assert record["state"] == state
    assert transitions(world, record)[-1] == (transition, "risk", comment)


def test_returned_forwarded_again(world: World) -> None:
    record = world.fire(waiting(world), "return_to_dealer", "risk", comment="补充收入证明")
    record = world.fire(world.read(record, "dealer"), "resubmit", "dealer")
    record = world.fire(record, "forward", "dealer")
    assert world.read(record, "risk")["state"] == "received"


def test_reject_from_risk_review(world: World) -> None:
    record = world.fire(waiting(world), "start_risk_review", "risk")
    assert record["state"] == "risk_review"

    record = world.fire(record, "reject", "risk", comment="下户调查发现车辆用途不符")

    assert record["state"] == "rejected"
    assert [name for name, _, _ in transitions(world, record)][-2:] == ["start_risk_review", "reject"]


def test_dealer_cannot_reject(world: World) -> None:
    record = waiting(world)
    with pytest.raises(PermissionDenied):
        world.fire(world.read(record, "dealer"), "reject", "dealer", comment="撤回")
    assert world.read(record, "risk")["state"] == "received"


def returned_standard(world: World) -> dict[str, Any]:
    record = world.fire(world.application(world.product()), "submit", "dealer")
    assert record["monthly_payment"] == Decimal("3650.63")
    record = world.fire(record, "forward", "dealer")
    return world.fire(record, "return_to_dealer", "credit", comment="请调整贷款金额与期限")


def test_resubmit_recomputes_repayment(world: World) -> None:
    record = returned_standard(world)
    before = world.read(record, "dealer")
    record = world.users.update(world.actor("dealer"), "loan_application", record["id"],
                                {"loan_amount": Decimal("100000"), "term_months": 24}, version=record["version"])

    record = world.fire(record, "resubmit", "dealer")

    assert record["state"] == "submitted"
    assert record["application_no"] == before["application_no"]
    assert record["monthly_payment"] == Decimal("4432.06")
    terms = schedule.LoanTerms(Decimal("100000"), 24, "equal_instalment", annual_rate=Decimal("0.06"))
    # The guarantee fee, 1.5% of the new amount, counts as paid up front.
    assert record["apr"] == repayment.loan_cost(terms, Decimal("1500.00")).apr
    assert record["apr"] != before["apr"]


def test_resubmit_term_not_offered(world: World) -> None:
    record = returned_standard(world)
    record = world.users.update(world.actor("dealer"), "loan_application", record["id"], {"term_months": 48},
                                version=record["version"])

    with pytest.raises(ValidationFailed) as rejected:
        world.fire(record, "resubmit", "dealer")

    assert messages(rejected.value) == "term_months: The product offers terms of 12, 24, 36 months, not 48"
    assert messages(rejected.value, "zh-CN") == "term_months: 该产品可选期限为 12, 24, 36 个月，不含 48 个月"
    stored = world.read(record, "dealer")
    assert stored["state"] == "returned"
    assert stored["monthly_payment"] == Decimal("3650.63")
