"""Loan applications of configs/guarantee moved from draft to release through the runtime, as the users of each role."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from runtime.errors import NotFound, ValidationFailed

from guarantee_world import ADVANCE, World, after_approval, card_number, compute_overdue, messages, pay_all, to_approved_standard


def test_standard_flow_draft_to_release(world: World) -> None:
    record = world.application(world.product())
    record = world.fire(record, "submit", "dealer")
    assert record["application_no"].startswith("GA")
    assert record["application_no"].endswith(f"-{record['id']:06d}")
    assert record["monthly_payment"] == Decimal("3650.63")
    assert record["apr"] > Decimal("0.06")

    record = world.fire(record, "forward", "dealer")
    assert record["state"] == "received"
    seen = world.read(record, "risk")
    assert "一致" in seen["identity_check_result"]
    assert seen["anti_fraud_score"] is not None

    record = world.fire(record, "start_credit_review", "credit")
    seen = world.read(record, "risk")
    assert seen["credit_report_id"]
    assert seen["credit_current_overdue_count"] == 0

    record = world.fire(world.home_visit(record), "credit_approve", "credit")
    seen = world.read(record, "risk")
    assert seen["risk_level"] == "low"
    assert seen["scorecard_score"] >= 650

    record = world.fire(record, "risk_approve", "risk")
    record = world.fire(record, "bank_approve", "bank")
    record = after_approval(world, record)
    assert record["state"] == "repaying"
    loan = world.read(record)
    assert loan["advance_payment_status"] == "succeeded"
    assert loan["advance_bank_reference"].startswith("SBX")
    assert loan["signing_status"] == "signed"
    assert loan["signing_envelope_id"]
    assert loan["mortgage_registered_on"] == datetime.date(2026, 3, 5)
    assert loan["gps_installed"] is True
    assert loan["deducted_amount"] == Decimal("120000.00")
    instalments = loan["instalments"]
    assert len(instalments) == 36
    assert instalments[0]["due_date"] == datetime.date(2026, 4, 30)
    assert instalments[10]["due_date"] == datetime.date(2027, 2, 28)
    assert sum(row["principal"] for row in instalments) == Decimal("120000.00")

    refused = pytest.raises(ValidationFailed, world.fire, record, "settle", "finance")
    assert "36 instalment(s) are not fully paid" in messages(refused.value)

    record = pay_all(world, record)
    record = world.fire(record, "settle", "finance")
    assert record["settled_on"] == datetime.date(2029, 3, 30)
    record = world.fire(record, "release_mortgage", "operations")
    assert record["state"] == "released"


def test_fast_track_approves_by_rule(world: World) -> None:
    record = world.application(world.product("fast_track"))
    record = world.fire(record, "submit", "dealer")
    record = world.fire(record, "forward", "dealer")
    loan = world.read(record, "risk")
    assert loan["state"] == "approved"
    assert loan["risk_level"] == "low"
    record = after_approval(world, world.read(record, "bank"))
    assert record["state"] == "repaying"
    record = pay_all(world, record)
    assert world.fire(record, "settle", "finance")["state"] == "settled"


def test_fast_track_rejects_low_score(world: World) -> None:
    customer = world.customer(monthly_income=Decimal("3000"), birth_date=datetime.date(1965, 1, 1))
    dealer = world.dealer(rating="D")
    record = world.application(world.product("fast_track"), customer=customer, dealer=dealer, loan_amount="140000")
    record = world.fire(record, "submit", "dealer")
    record = world.fire(record, "forward", "dealer")
    assert world.read(record, "risk")["state"] == "rejected"


def test_fast_track_manual_review(world: World) -> None:
    dealer = world.dealer(rating="C")
    record = world.application(world.product("fast_track"), dealer=dealer)
    record = world.fire(record, "submit", "dealer")
    record = world.fire(record, "forward", "dealer")
    record = world.read(record, "risk")
    assert record["state"] == "received"
    assert "关注名单" in record["anti_fraud_warnings"]
    record = world.fire(record, "start_risk_review", "risk")
    record = world.fire(record, "return_to_dealer", "risk", comment="补充收入证明")
    assert record["state"] == "returned"
    record = world.fire(world.read(record, "dealer"), "resubmit", "dealer")
    record = world.fire(record, "forward", "dealer")
    record = world.fire(world.read(record, "risk"), "start_risk_review", "risk")
    record = world.fire(record, "risk_approve", "risk2")
    assert record["state"] == "approved"


STANDARD_STEPS = [("start_credit_review", "credit", None), ("credit_approve", "credit", None),
                  ("refer_to_committee", "risk", None), ("committee_approve", "committee1", None),
                  ("committee_approve", "committee2", None)]


#: After each number of steps: the state the loan is in, and who returns or rejects it there.
REVIEW_STOPS = [("received", "credit"), ("credit_review", "credit"), ("risk_review", "risk"), ("committee_review", "committee1"),
                ("committee_review", "committee2"), ("bank_review", "bank")]


@pytest.mark.parametrize("steps", range(len(REVIEW_STOPS)))
@pytest.mark.parametrize("ending", ["return_to_dealer", "reject"])
def test_standard_returns_and_rejections(world: World, steps: int, ending: str) -> None:
    record = world.application(world.product(), loan_amount="130000")
    # A loan above 200,000 goes to the committee.
    if steps >= 3:
        record = world.users.update(world.actor("dealer"), "loan_application", record["id"],
                                    {"vehicle_price": Decimal("400000"), "down_payment": Decimal("150000"),
                                     "loan_amount": Decimal("250000")}, version=record["version"])
    record = world.fire(world.fire(record, "submit", "dealer"), "forward", "dealer")
    for name, user, values in STANDARD_STEPS[:steps]:
        if name == "credit_approve":
            record = world.home_visit(record)
        record = world.fire(record, name, user, values=values, comment="同意" if name == "committee_approve" else None)
    state, user = REVIEW_STOPS[steps]
    assert record["state"] == state
    record = world.fire(record, ending, user, comment="资料不全")
    assert record["state"] == ("returned" if ending == "return_to_dealer" else "rejected")
    if ending == "return_to_dealer":
        record = world.fire(world.read(record, "dealer"), "resubmit", "dealer")
        assert record["state"] == "submitted"


def test_blacklisted_customer_stopped(world: World) -> None:
    customer = world.customer(blacklisted=True, blacklist_reason="骗贷")
    record = world.fire(world.application(world.product(), customer=customer), "submit", "dealer")
    refused = pytest.raises(ValidationFailed, world.fire, record, "forward", "dealer")
    assert "did not pass the guarantor's anti-fraud screening" in messages(refused.value)
    assert world.read(record, "dealer")["state"] == "submitted"


def test_advance_to_other_account_refused(world: World) -> None:
    dealer = world.dealer(account_name="王某某个人账户")
    record = to_approved_standard(world, world.application(world.product(), dealer=dealer))
    record = world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(998)})
    refused = pytest.raises(ValidationFailed, world.fire, record, "advance", "finance", values=ADVANCE)
    assert "advances are paid only to the dealer's own company account" in messages(refused.value)
    assert world.read(record)["state"] == "card_issued"
    assert world.read(record)["advance_bank_reference"] is None


def test_advance_to_shared_account_refused(world: World) -> None:
    first = world.dealer()
    account = world.runtime.records.get(world.actor("finance").__class__(id="x", roles=("system",)), "dealer", first)["bank_account"]
    second = world.dealer(bank_account=account)
    record = to_approved_standard(world, world.application(world.product(), dealer=second))
    record = world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(998)})
    refused = pytest.raises(ValidationFailed, world.fire, record, "advance", "finance", values=ADVANCE)
    assert "also registered to" in messages(refused.value)


def test_other_dealer_gets_not_found(world: World) -> None:
    record = world.application(world.product())
    with pytest.raises(NotFound):
        world.read(record, "other_dealer")


def test_overdue_schedule_sets_days(world: World) -> None:
    record = to_approved_standard(world, world.application(world.product()))
    record = after_approval(world, record)
    rows = world.read(record)["instalments"]
    rows[0] = {**rows[0], "paid_on": rows[0]["due_date"], "paid_amount": rows[0]["amount"]}
    world.users.update(world.actor("finance"), "loan_application", record["id"], {"instalments": rows}, version=record["version"])
    compute_overdue(world, datetime.date(2026, 7, 1))
    loan = world.read(record)
    assert loan["days_past_due"] == 32
    assert loan["overdue_bucket"] == "M2"
