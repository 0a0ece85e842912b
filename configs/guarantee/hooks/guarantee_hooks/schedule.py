"""Repayment schedules (还款计划): the instalments of a loan by repayment method, and their due dates.

Every amount is Decimal yuan rounded to the fen with the product's rounding, and the sum of
the principals is exactly the loan amount. The methods:

- equal_instalment (等额本息): a fixed payment M = P·r·(1+r)^n / ((1+r)^n − 1), r the monthly
  rate; each month's interest is charged on the balance left, the rest repays principal, and
  the last instalment repays whatever balance the rounding left.
- equal_principal (等额本金): month k repays P/n and the interest on the balance
  P − (k−1)·P/n. The principals are rounded cumulatively, so each differs from P/n by less
  than a fen and the last one closes the loan exactly.
- interest_first (先息后本): P·r each month, the principal with the last instalment.
- card_instalment (信用卡分期): no interest; P/n plus a fee of P·f each period, or the whole
  fee P·f·n with the first instalment. The last instalment takes the principal's remainder.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from decimal import Decimal

from .money import to_fen

METHODS = ("equal_instalment", "equal_principal", "interest_first", "card_instalment")
FEE_COLLECTIONS = ("per_period", "upfront")


@dataclass(frozen=True)
class LoanTerms:
    """What a schedule needs of a loan and its product."""

    principal: Decimal
    term_months: int
    #: A key of METHODS.
    method: str
    annual_rate: Decimal = Decimal(0)
    #: The fee rate per period of a card instalment.
    fee_rate: Decimal = Decimal(0)
    #: A key of FEE_COLLECTIONS.
    fee_collection: str = "per_period"
    #: A key of money.ROUNDING_MODES.
    rounding: str = "half_up"


@dataclass(frozen=True)
class Instalment:
    """One row of a schedule; `amount` is principal + interest + fee."""

    period: int
    due_date: datetime.date | None
    principal: Decimal
    interest: Decimal
    fee: Decimal
    amount: Decimal


def add_months(first: datetime.date, months: int) -> datetime.date:
    """Return the date `months` after `first`, on the same day, or on the month's last day when it is shorter."""
    index = first.month - 1 + months
    year, month = first.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(first.day, calendar.monthrange(year, month)[1]))


def due_dates(first: datetime.date, count: int) -> list[datetime.date]:
    """Return `count` monthly due dates that keep the first date's day: 31 Jan, 28 or 29 Feb, 31 Mar."""
    return [add_months(first, offset) for offset in range(count)]


def check_terms(terms: LoanTerms) -> None:
    """Raise ValueError naming the value when the terms cannot give a schedule."""
    if terms.method not in METHODS:
        raise ValueError(f"unknown repayment method {terms.method!r}; expected one of {', '.join(METHODS)}")
    if terms.fee_collection not in FEE_COLLECTIONS:
        raise ValueError(f"unknown fee collection {terms.fee_collection!r}; expected one of {', '.join(FEE_COLLECTIONS)}")
    if terms.term_months < 1:
        raise ValueError(f"the term must be at least 1 month, not {terms.term_months}")
    if terms.principal <= 0:
        raise ValueError(f"the principal must be more than 0, not {terms.principal}")
    if terms.annual_rate < 0 or terms.fee_rate < 0:
        raise ValueError(f"rates must not be negative: annual rate {terms.annual_rate}, fee rate {terms.fee_rate}")


def level_payment(terms: LoanTerms) -> Decimal:
    """Return the fixed monthly payment of an equal-instalment loan, rounded to the fen."""
    rate = terms.annual_rate / 12
    if rate == 0:
        return to_fen(terms.principal / terms.term_months, terms.rounding)
    growth = (1 + rate) ** terms.term_months
    return to_fen(terms.principal * rate * growth / (growth - 1), terms.rounding)


def build_schedule(terms: LoanTerms, first_due_date: datetime.date | None = None) -> list[Instalment]:
    """Return the instalments of a loan, dated from `first_due_date` when one is given."""
    check_terms(terms)
    dates: list[datetime.date | None] = list(due_dates(first_due_date, terms.term_months)) if first_due_date else [None] * terms.term_months
    if terms.method == "equal_instalment":
        parts = _equal_instalment(terms)
    elif terms.method == "equal_principal":
        parts = _equal_principal(terms)
    elif terms.method == "interest_first":
        parts = _interest_first(terms)
    else:
        parts = _card_instalment(terms)
    return [Instalment(period, dates[period - 1], principal, interest, fee, principal + interest + fee)
            for period, (principal, interest, fee) in enumerate(parts, start=1)]


def _equal_instalment(terms: LoanTerms) -> list[tuple[Decimal, Decimal, Decimal]]:
    payment = level_payment(terms)
    rate = terms.annual_rate / 12
    balance = terms.principal
    parts = []
    for period in range(1, terms.term_months + 1):
        interest = to_fen(balance * rate, terms.rounding)
        principal = balance if period == terms.term_months else min(balance, payment - interest)
        parts.append((principal, interest, Decimal("0.00")))
        balance -= principal
    return parts


def _equal_principal(terms: LoanTerms) -> list[tuple[Decimal, Decimal, Decimal]]:
    rate = terms.annual_rate / 12
    count = terms.term_months
    repaid = Decimal("0.00")
    parts = []
    for period in range(1, count + 1):
        # Rounding the running total keeps every principal within a fen of P/n and the sum exact.
        total_after = terms.principal if period == count else to_fen(terms.principal * period / count, terms.rounding)
        interest = to_fen((terms.principal - repaid) * rate, terms.rounding)
        parts.append((total_after - repaid, interest, Decimal("0.00")))
        repaid = total_after
    return parts


def _interest_first(terms: LoanTerms) -> list[tuple[Decimal, Decimal, Decimal]]:
    interest = to_fen(terms.principal * terms.annual_rate / 12, terms.rounding)
    zero = Decimal("0.00")
    return [(terms.principal if period == terms.term_months else zero, interest, zero) for period in range(1, terms.term_months + 1)]


def _card_instalment(terms: LoanTerms) -> list[tuple[Decimal, Decimal, Decimal]]:
    count = terms.term_months
    share = to_fen(terms.principal / count, terms.rounding)
    last = terms.principal - share * (count - 1)
    zero = Decimal("0.00")
    if terms.fee_collection == "upfront":
        fees = [to_fen(terms.principal * terms.fee_rate * count, terms.rounding)] + [zero] * (count - 1)
    else:
        fees = [to_fen(terms.principal * terms.fee_rate, terms.rounding)] * count
    return [(share if period < count else last, zero, fees[period - 1]) for period in range(1, count + 1)]
