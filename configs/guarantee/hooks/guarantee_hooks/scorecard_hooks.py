"""The scorecard hook: the application's characteristics scored with scorecard.yaml."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from runtime.hooks import HookContext, hook

from .anti_fraud import age_on
from .context import DATA_FOLDER, birth_date_of, created_day, required_reference, system_records
from .money import decimal_of
from .review_hooks import ltv_base
from .scorecard import read_scorecard, score

logger = logging.getLogger(__name__)

SCORECARD = read_scorecard(DATA_FOLDER / "scorecard.yaml")


def ratio(numerator: Any, denominator: Any) -> Decimal | None:
    """Return numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or decimal_of(denominator) == 0:
        return None
    return decimal_of(numerator) / decimal_of(denominator)


@hook("guarantee.compute_scorecard")
def compute_scorecard(context: HookContext) -> dict[str, Any]:
    """Score the application and set scorecard_score and risk_level."""
    record = context.record
    reader = system_records(context)
    borrower = reader.get("customer", required_reference(context, "customer", "borrower", "借款人"))
    dealer = reader.get("dealer", required_reference(context, "dealer", "dealer", "经销商"))
    birth = birth_date_of(borrower)
    values = {
        "age": age_on(birth, created_day(record)) if birth is not None else None,
        "payment_to_income": ratio(record.get("monthly_payment"), borrower.get("monthly_income")),
        "current_overdue_count": record.get("credit_current_overdue_count"),
        "overdue_count_24m": record.get("credit_overdue_count_24m"),
        "ltv": ratio(record.get("loan_amount"), ltv_base(record, reader.get("vehicle", required_reference(context, "vehicle", "vehicle", "车辆")))),
        "down_payment_ratio": ratio(record.get("down_payment"), record.get("vehicle_price")),
        "dealer_rating": dealer.get("rating"),
    }
    result = score(SCORECARD, values)
    logger.info("loan_application %s: scorecard %s (%s) from %s", record.get("id"), result.score, result.risk_level, dict(result.points))
    return {"scorecard_score": result.score, "risk_level": result.risk_level}
