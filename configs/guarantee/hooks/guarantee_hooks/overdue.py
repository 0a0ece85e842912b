"""Days past due (逾期天数) and the collection bucket of a loan, from its instalments.

Days past due are the business date minus the due date of the oldest instalment not fully
paid, never negative. Buckets: M1 is 1 to 30 days, M2 31 to 60, M3 61 to 90, M3+ beyond.
"""

from __future__ import annotations

import datetime
from typing import Any, Mapping, Sequence

from .money import decimal_of

#: (bucket, the most days past due it holds), in order.
BUCKETS = (("M1", 30), ("M2", 60), ("M3", 90))
#: The bucket beyond M3 (M3+); its stored value is "M4" because choice values allow no "+".
BEYOND_LAST = "M4"


def days_past_due(instalments: Sequence[Mapping[str, Any]], today: datetime.date) -> int:
    """Return the days past due on `today`: 0 when nothing due is unpaid."""
    unpaid = [row["due_date"] for row in instalments
              if isinstance(row.get("due_date"), datetime.date) and decimal_of(row.get("paid_amount")) < decimal_of(row.get("amount"))]
    if not unpaid:
        return 0
    oldest: datetime.date = min(unpaid)
    return max(0, (today - oldest).days)


def bucket(days: int) -> str | None:
    """Return the collection bucket of a number of days past due, or None when the loan is current."""
    if days <= 0:
        return None
    return next((name for name, most in BUCKETS if days <= most), BEYOND_LAST)
