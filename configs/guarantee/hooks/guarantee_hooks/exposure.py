"""A dealer's quota and exposure (额度与敞口): the advances paid to it and not yet deducted back, against its credit quota.

The exposure (垫资余额) is the sum of the dealer's advance payments that the bank paid or is
still paying and that no deduction has taken back. A failed payment counts for nothing. The
advance step rejects a payment that would take the exposure past the quota. The dealer's
`exposure` field is summed again from the records after each payment, bank result and
deduction, so that it stays equal to what the records show.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator, Mapping

from runtime.hook_records import HookRecords
from runtime.record_query import Condition, Group, ListQuery

from .advance import PROCESSING, SUCCEEDED
from .funding import Refusal
from .money import decimal_of

#: The payment statuses whose amount counts towards the exposure until the deduction.
OUTSTANDING = (PROCESSING, SUCCEEDED)
#: The reason written to the dealer's audit log with each change of its exposure.
REASON = "垫资余额随垫资付款与划扣更新 (exposure follows the advances paid and deducted)"
PAGE = 500


def quota_refusal(dealer_name: str, quota: Any, exposure: Decimal, amount: Decimal) -> Refusal | None:
    """Return why an advance of `amount` may not be paid to a dealer with this quota and exposure, or None when it fits."""
    if quota is None or quota == "":
        return Refusal(f"The dealer {dealer_name} has no credit quota, so no advance is paid to it; the risk department sets the "
                       "dealer's quota first",
                       f"经销商 {dealer_name} 未设置授信额度，不能垫资；请风险管理部先为其核定授信额度", "advance_amount")
    limit = decimal_of(quota)
    if exposure + amount <= limit:
        return None
    return Refusal(f"The advance of {amount:,.2f} yuan would take the dealer {dealer_name}'s exposure from {exposure:,.2f} to "
                   f"{exposure + amount:,.2f} yuan, above its credit quota of {limit:,.2f}; deduct earlier advances or raise the "
                   "quota first",
                   f"经销商 {dealer_name} 的授信额度为 {limit:,.2f} 元，当前垫资余额 {exposure:,.2f} 元，本笔垫资 {amount:,.2f} 元后将达 "
                   f"{exposure + amount:,.2f} 元，超出额度；请先划扣已放款贷款的垫资或调整授信额度", "advance_amount")


def _pages(reader: HookRecords, entity: str, where: Condition | Group, fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        page = reader.list(entity, ListQuery(where=where, sort=("id",), limit=PAGE, after=after, fields=fields))
        yield from page.rows
        if page.next_cursor is None:
            return
        after = page.next_cursor


def _id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value["id"]) if isinstance(value, dict) else int(value)


def outstanding(payments: list[Mapping[str, Any]], deducted: set[int]) -> Decimal:
    """Return the sum of the payments paid or processing that no deduction took back."""
    return sum((decimal_of(row.get("amount")) for row in payments
                if row.get("status") in OUTSTANDING and int(row["id"]) not in deducted), Decimal(0))


def dealer_exposure(reader: HookRecords, dealer_id: int) -> Decimal:
    """Sum the dealer's exposure from its advance payment and deduction records; `reader` reads as the system."""
    where = Group("and", (Condition("dealer", "eq", dealer_id), Condition("status", "in", list(OUTSTANDING))))
    payments = list(_pages(reader, "advance_payment", where, ("amount", "status")))
    deducted: set[int] = set()
    ids = [int(row["id"]) for row in payments]
    for start in range(0, len(ids), PAGE):
        chunk = Condition("advance_payment", "in", ids[start:start + PAGE])
        deducted.update(found for row in _pages(reader, "deduction", chunk, ("advance_payment",))
                        if (found := _id(row.get("advance_payment"))) is not None)
    return outstanding(payments, deducted)


def refresh_exposure(reader: HookRecords, dealer_id: int | None) -> Decimal | None:
    """Write the dealer's exposure as its records sum it now, when it changed; return it (None without a dealer)."""
    if dealer_id is None:
        return None
    exposure = dealer_exposure(reader, dealer_id)
    dealer = reader.get("dealer", dealer_id)
    if dealer.get("exposure") is None or decimal_of(dealer.get("exposure")) != exposure:
        reader.update("dealer", dealer_id, {"exposure": exposure}, version=int(dealer["version"]), reason=REASON)
    return exposure


def payment_dealer(payment: Mapping[str, Any]) -> int | None:
    """Return the id of the dealer an advance payment was paid to."""
    return _id(payment.get("dealer"))
