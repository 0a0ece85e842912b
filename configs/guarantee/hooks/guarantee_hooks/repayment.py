"""The monthly payment and the annualized rate (年化利率) of a loan, from its schedule.

The annualized rate is the internal rate of return over the borrower's cash flows, as the
PBOC requires it disclosed (announcement No. 3 of 2021): at the start the borrower receives
the loan less what they pay up front (the guarantee fee, when they pay it), then they pay
each instalment a month apart. pyxirr finds the monthly IRR. The disclosed rate compounds
it over twelve months, (1 + m)^12 − 1, which gives the announcement's 13.58% for 100,000
lent with a 1,000 fee up front and 12 payments of 8,833.30. The nominal rate m × 12 (12.80%
there) may be shown only labelled as a simple rate, so `LoanCost` keeps it apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

import pyxirr

from .schedule import Instalment, LoanTerms, build_schedule

#: Places of a stored rate: 0.1358 is 13.58%.
RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class LoanCost:
    #: The regular monthly amount: the fixed payment, the first month's for equal principal, and for a card
    #: instalment whose whole fee comes with the first instalment, that instalment less the fee.
    monthly_payment: Decimal
    #: The disclosed annualized rate: the monthly IRR compounded over a year, 4 places.
    apr: Decimal
    #: The monthly IRR times 12, 4 places; only ever shown labelled as a simple rate.
    nominal_rate: Decimal
    total_interest: Decimal
    total_fees: Decimal


def monthly_irr(received: Decimal, payments: Sequence[Decimal]) -> Decimal:
    """Return the monthly internal rate of return of receiving `received` now and paying `payments` monthly."""
    if received <= 0:
        raise ValueError(f"the amount received must be more than 0, not {received}")
    flows = [float(received)] + [-float(payment) for payment in payments]
    rate = pyxirr.irr(flows)
    if rate is None:
        raise ValueError("the cash flows have no internal rate of return")
    return Decimal(repr(rate))


def annualized(monthly: Decimal) -> tuple[Decimal, Decimal]:
    """Return the compounded and the nominal annual rate of a monthly rate, each to 4 places."""
    compounded = (1 + monthly) ** 12 - 1
    return compounded.quantize(RATE_PLACES, ROUND_HALF_UP), (monthly * 12).quantize(RATE_PLACES, ROUND_HALF_UP)


def loan_cost(terms: LoanTerms, upfront_costs: Decimal = Decimal(0), schedule: list[Instalment] | None = None) -> LoanCost:
    """Return the monthly payment and the annualized rate of a loan; `upfront_costs` are what the borrower pays at the start."""
    instalments = schedule if schedule is not None else build_schedule(terms)
    monthly = monthly_irr(terms.principal - upfront_costs, [item.amount for item in instalments])
    apr, nominal = annualized(monthly)
    first = instalments[0]
    regular = first.amount - first.fee if terms.method == "card_instalment" and terms.fee_collection == "upfront" else first.amount
    return LoanCost(regular, apr, nominal, sum((item.interest for item in instalments), Decimal("0.00")),
                    sum((item.fee for item in instalments), Decimal("0.00")) + upfront_costs)
