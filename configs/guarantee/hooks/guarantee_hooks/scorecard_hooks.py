"""The scorecard hook: the application's characteristics scored with its product's risk strategy (risk_strategies.yaml)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from runtime.hooks import HookContext, HookError, hook

from .anti_fraud import age_on
from .context import DATA_FOLDER, birth_date_of, created_day, required_reference, system_records
from .money import decimal_of
from .review_hooks import ltv_base
from .scorecard import score
from .strategy import decide, read_strategies

logger = logging.getLogger(__name__)

APP_FOLDER = DATA_FOLDER.parent
STRATEGIES = read_strategies(DATA_FOLDER / "risk_strategies.yaml", APP_FOLDER / "entities" / "loan_product.yaml",
                             APP_FOLDER / "catalogs" / "loan_products.yaml")
#: The strategy of a product that names none.
DEFAULT_STRATEGY = "standard"


def ratio(numerator: Any, denominator: Any) -> Decimal | None:
    """Return numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or decimal_of(denominator) == 0:
        return None
    return decimal_of(numerator) / decimal_of(denominator)


@hook("guarantee.compute_scorecard")
def compute_scorecard(context: HookContext) -> dict[str, Any]:
    """Score the application with its product's risk strategy; set the score, the risk level, the strategy and its decision."""
    record = context.record
    reader = system_records(context)
    borrower = reader.get("customer", required_reference(context, "customer", "borrower", "借款人"))
    dealer = reader.get("dealer", required_reference(context, "dealer", "dealer", "经销商"))
    product = reader.get("loan_product", required_reference(context, "product", "loan product", "贷款产品"))
    name = str(product.get("risk_strategy") or DEFAULT_STRATEGY)
    strategy = STRATEGIES.get(name)
    if strategy is None:
        raise HookError(f"The product {product.get('name')} names the risk strategy {name}, which hooks/risk_strategies.yaml does "
                        "not declare; ask an administrator to correct the product",
                        f"产品 {product.get('name')} 的风险策略 {name} 未在 hooks/risk_strategies.yaml 中声明；请联系管理员修正产品",
                        field="product")
    birth = birth_date_of(borrower)
    ltv = ratio(record.get("loan_amount"), ltv_base(record, reader.get("vehicle", required_reference(context, "vehicle", "vehicle", "车辆"))))
    values = {
        "age": age_on(birth, created_day(record)) if birth is not None else None,
        "payment_to_income": ratio(record.get("monthly_payment"), borrower.get("monthly_income")),
        "current_overdue_count": record.get("credit_current_overdue_count"),
        "overdue_count_24m": record.get("credit_overdue_count_24m"),
        "ltv": ltv,
        "down_payment_ratio": ratio(record.get("down_payment"), record.get("vehicle_price")),
        "dealer_rating": dealer.get("rating"),
    }
    result = score(strategy.scorecard, values)
    amount = decimal_of(record.get("loan_amount")) if record.get("loan_amount") is not None else None
    # The limit applies to the loan-to-value as the application shows it, to 4 places.
    shown_ltv = round(ltv, 4) if ltv is not None else None
    decision = decide(strategy, result, amount, shown_ltv, dealer.get("rating"))
    logger.info("loan_application %s: scorecard %s (%s) by strategy %s, decision %s, from %s", record.get("id"), result.score,
                result.risk_level, name, decision, dict(result.points))
    return {"scorecard_score": result.score, "risk_level": result.risk_level, "risk_strategy": name, "strategy_decision": decision}
