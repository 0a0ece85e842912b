"""Hooks the demo data runs (seed.yaml `steps`) in place of work users do over months."""

from __future__ import annotations

import datetime
from typing import Any

from runtime.hooks import HookContext, hook

from .context import today


@hook("guarantee.demo_pay_off")
def demo_pay_off(context: HookContext) -> dict[str, Any]:
    """Record the loan paid off: instalments due by today paid on their due date, the rest paid early today."""
    paid_day = today()
    rows = []
    for row in context.record.get("instalments") or []:
        due = row.get("due_date")
        paid_on = due if isinstance(due, datetime.date) and due <= paid_day else paid_day
        rows.append({key: value for key, value in row.items() if key != "id"} | {"paid_on": paid_on, "paid_amount": row.get("amount")})
    return {"instalments": rows}
