"""The loan formulas of the guarantee app's hooks against the figures of the business rules."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from guarantee_world import hooks_module

schedule = hooks_module("schedule")
repayment = hooks_module("repayment")
overdue = hooks_module("overdue")
numbering = hooks_module("numbering")

LOAN = Decimal("100000")


def terms(method: str, **extra: object) -> object:
    return schedule.LoanTerms(LOAN, 36, method, annual_rate=Decimal("0.06"), **extra)


def test_equal_instalment_payment() -> None:
    rows = schedule.build_schedule(terms("equal_instalment"))
    assert rows[0].amount == Decimal("3042.19")
    assert all(row.amount == Decimal("3042.19") for row in rows[:-1])
    assert sum(row.principal for row in rows) == LOAN
    assert abs(rows[-1].amount - Decimal("3042.19")) < Decimal("0.50")


def test_equal_principal_figures() -> None:
    rows = schedule.build_schedule(terms("equal_principal"))
    assert rows[0].amount == Decimal("3277.78")
    assert rows[-1].amount == Decimal("2791.67")
    assert sum(row.interest for row in rows) == Decimal("9250.00")
    assert sum(row.principal for row in rows) == LOAN
    assert all(abs(row.principal - LOAN / 36) < Decimal("0.01") for row in rows)


def test_interest_first() -> None:
    rows = schedule.build_schedule(terms("interest_first"))
    assert [row.amount for row in rows[:2]] == [Decimal("500.00"), Decimal("500.00")]
    assert rows[-1].amount == Decimal("100500.00")


def test_card_instalment_fees() -> None:
    per_period = schedule.build_schedule(schedule.LoanTerms(LOAN, 36, "card_instalment", fee_rate=Decimal("0.0035")))
    assert per_period[0].amount == Decimal("3127.78")
    # The last instalment takes the principal's rounding remainder: 100,000 − 35 × 2,777.78.
    assert per_period[-1].principal == Decimal("2777.70")
    upfront = schedule.build_schedule(schedule.LoanTerms(LOAN, 36, "card_instalment", fee_rate=Decimal("0.0035"), fee_collection="upfront"))
    assert upfront[0].fee == Decimal("12600.00")
    assert upfront[1].fee == Decimal("0.00")


def test_rounding_down_remainder_on_last() -> None:
    rows = schedule.build_schedule(schedule.LoanTerms(Decimal("1000"), 3, "card_instalment", rounding="down"))
    assert [row.principal for row in rows] == [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")]


def test_due_dates_clamp_month_end() -> None:
    assert schedule.due_dates(datetime.date(2026, 1, 31), 4) == [
        datetime.date(2026, 1, 31), datetime.date(2026, 2, 28), datetime.date(2026, 3, 31), datetime.date(2026, 4, 30)]
    assert schedule.add_months(datetime.date(2027, 12, 31), 2) == datetime.date(2028, 2, 29)


def test_pboc_example_apr() -> None:
    monthly = repayment.monthly_irr(Decimal("99000"), [Decimal("8833.30")] * 12)
    apr, nominal = repayment.annualized(monthly)
    assert apr == Decimal("0.1358")
    assert nominal == Decimal("0.1280")


def test_apr_counts_guarantee_fee() -> None:
    plain = repayment.loan_cost(terms("equal_instalment"))
    with_fee = repayment.loan_cost(terms("equal_instalment"), Decimal("1500"))
    assert plain.apr == Decimal("0.0617")
    assert with_fee.apr > plain.apr


def test_unknown_method_rejected() -> None:
    with pytest.raises(ValueError, match="unknown repayment method 'balloon'"):
        schedule.build_schedule(terms("balloon"))


def test_days_past_due_and_buckets() -> None:
    rows = [{"due_date": datetime.date(2026, 1, 31), "amount": Decimal("10"), "paid_amount": Decimal("10")},
            {"due_date": datetime.date(2026, 2, 28), "amount": Decimal("10"), "paid_amount": None}]
    assert overdue.days_past_due(rows, datetime.date(2026, 2, 27)) == 0
    assert overdue.days_past_due(rows, datetime.date(2026, 3, 30)) == 30
    assert [overdue.bucket(days) for days in (0, 1, 30, 31, 61, 91)] == [None, "M1", "M1", "M2", "M3", "M4"]


def test_application_number_pattern() -> None:
    assert numbering.application_number(42, datetime.date(2026, 12, 5)) == "GA20261205-000042"
