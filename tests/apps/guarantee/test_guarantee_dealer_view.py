"""Dealer staff see their applications without the guarantor's risk data: checks, credit report and scores."""

from __future__ import annotations

from guarantee_world import World

RISK_FIELDS = ("identity_check_result", "anti_fraud_score", "anti_fraud_warnings", "credit_report_id",
               "credit_current_overdue_count", "credit_overdue_count_24m", "credit_max_overdue_months",
               "scorecard_score", "risk_level")


def test_dealer_sees_no_risk_data(world: World) -> None:
    record = world.application(world.product())
    for transition, user in (("submit", "dealer"), ("forward", "dealer"), ("start_credit_review", "credit")):
        record = world.fire(record, transition, user)
    record = world.fire(world.home_visit(record), "credit_approve", "credit")

    guarantor = world.read(record, "risk")
    assert guarantor["identity_check_result"]
    assert guarantor["credit_report_id"]
    assert guarantor["scorecard_score"] is not None
    dealer = world.read(record, "dealer")
    assert [name for name in RISK_FIELDS if name in dealer] == []
    assert dealer["loan_amount"] == guarantor["loan_amount"]
