"""Hooks of the settlement step (the advance, the ledger records and the contracts have their own modules)."""

from __future__ import annotations

from typing import Any

from runtime.hooks import HookContext, HookError, hook

from .context import today
from .funding import Refusal, last_paid_on, settlement_refusal


def _stop(refusal: Refusal) -> HookError:
    return HookError(refusal.en, refusal.zh, field=refusal.field)


@hook("guarantee.post_settlement")
def post_settlement(context: HookContext) -> dict[str, Any]:
    """Settle the loan when every instalment is paid in full."""
    instalments = list(context.record.get("instalments") or [])
    refusal = settlement_refusal(instalments)
    if refusal is not None:
        raise _stop(refusal)
    return {"settled_on": last_paid_on(instalments) or today(), "days_past_due": 0, "overdue_bucket": None}
