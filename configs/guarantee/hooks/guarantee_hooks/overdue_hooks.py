"""The daily overdue schedule: days past due and the collection bucket of every loan in repayment."""

from __future__ import annotations

import logging

from runtime.hooks import HookContext, hook
from runtime.record_query import Condition, ListQuery

from .context import records_of, today
from .overdue import bucket, days_past_due

logger = logging.getLogger(__name__)

#: Loans read per page.
PAGE_SIZE = 200


@hook("guarantee.compute_overdue")
def compute_overdue(context: HookContext) -> None:
    """Set days_past_due and overdue_bucket on each repaying loan whose values changed since the last run."""
    records = records_of(context)
    business_date = today() if "today" not in context.extra else context.extra["today"]
    checked = changed = 0
    cursor: str | None = None
    while True:
        page = records.list("loan_application", ListQuery(where=Condition("state", "eq", "repaying"), limit=PAGE_SIZE, after=cursor,
                                                          fields=("days_past_due", "overdue_bucket")))
        for row in page.rows:
            loan = records.get("loan_application", int(row["id"]))
            days = days_past_due(loan.get("instalments") or [], business_date)
            values = {"days_past_due": days, "overdue_bucket": bucket(days)}
            checked += 1
            if any(loan.get(name) != value for name, value in values.items()):
                records.update("loan_application", int(row["id"]), values, version=int(loan["version"]))
                changed += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    logger.info("overdue: %s loans in repayment checked on %s, %s changed", checked, business_date, changed)
