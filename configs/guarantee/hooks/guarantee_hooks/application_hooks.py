"""Hooks of submitting an application: its number, and its monthly payment and annualized rate."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Mapping

from runtime.hooks import HookContext, HookError, hook

from .context import created_day, records_of, required_reference
from .money import decimal_of, to_fen
from .numbering import application_number
from .repayment import loan_cost
from .schedule import LoanTerms

logger = logging.getLogger(__name__)


@hook("guarantee.assign_application_no")
def assign_application_no(context: HookContext) -> dict[str, Any] | None:
    """Give the application its number on first submission; a number it already has is kept."""
    if context.record.get("application_no"):
        return None
    return {"application_no": application_number(int(context.record["id"]), created_day(context.record))}


def loan_terms(record: Mapping[str, Any], product: Mapping[str, Any], principal: Decimal | None = None) -> LoanTerms:
    """Return the terms of the application's loan under its product; raise HookError for a term the product does not offer."""
    term = int(record.get("term_months") or 0)
    offered = product.get("terms")
    if isinstance(offered, list) and offered and term not in offered:
        listed = ", ".join(str(item) for item in offered)
        raise HookError(f"The product offers terms of {listed} months, not {term}", f"该产品可选期限为 {listed} 个月，不含 {term} 个月",
                        field="term_months")
    return LoanTerms(
        principal=principal if principal is not None else decimal_of(record.get("loan_amount")),
        term_months=term,
        method=str(product.get("repayment_method")),
        annual_rate=decimal_of(product.get("annual_rate")),
        fee_rate=decimal_of(product.get("fee_rate")),
        fee_collection=str(product.get("fee_collection") or "per_period"),
        rounding=str(product.get("rounding") or "half_up"),
    )


@hook("guarantee.compute_repayment")
def compute_repayment(context: HookContext) -> dict[str, Any]:
    """Compute the monthly payment and the annualized rate, the guarantee fee counting as paid by the borrower up front."""
    product = records_of(context).get("loan_product", required_reference(context, "product", "loan product", "贷款产品"))
    terms = loan_terms(context.record, product)
    guarantee_fee = to_fen(terms.principal * decimal_of(product.get("guarantee_fee_rate")), terms.rounding)
    try:
        cost = loan_cost(terms, guarantee_fee)
    except ValueError as problem:
        raise HookError(f"The repayment cannot be computed: {problem}", f"无法计算还款额：{problem}", field="loan_amount") from None
    logger.info("loan_application %s: %s monthly payment %s, APR %s", context.record.get("id"), terms.method, cost.monthly_payment, cost.apr)
    return {"monthly_payment": cost.monthly_payment, "apr": cost.apr}
