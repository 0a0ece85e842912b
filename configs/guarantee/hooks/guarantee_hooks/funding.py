"""The money steps after approval: whom an advance is paid to, and when a deduction or settlement may be posted.

Each check returns the problem as a `Refusal` (English and Chinese) or None, so the hooks
can stop the transition with it and the rules can be tested without a database.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

from .money import decimal_of


@dataclass(frozen=True)
class Refusal:
    en: str
    zh: str
    field: str | None = None


@dataclass(frozen=True)
class Payee:
    account: str
    name: str
    bank: str


def dealer_payee(dealer: Mapping[str, Any], accounts_elsewhere: Sequence[str]) -> Payee | Refusal:
    """Return the dealer's registered company account, or why no advance may be paid to it.

    The account must be complete, held in the dealer's own name, and registered to no other
    dealer (`accounts_elsewhere` names the other dealers that registered the same account).
    """
    name = str(dealer.get("name") or "")
    account = str(dealer.get("bank_account") or "").replace(" ", "")
    holder = str(dealer.get("account_name") or "").strip()
    bank = str(dealer.get("bank_name") or "").strip()
    if not account or not holder or not bank:
        return Refusal(f"The dealer {name} has no complete registered company account (bank, account name and number); "
                       "register it on the dealer before paying the advance",
                       f"经销商 {name} 未完整登记对公账户（开户银行、账户名称和账号），请先在经销商档案中登记后再垫资", "dealer")
    if holder != name:
        return Refusal(f"The registered account is held by {holder}, not by the dealer {name}; advances are paid only to "
                       "the dealer's own company account", f"登记的账户户名为 {holder}，不是经销商 {name}；垫资款只能付至经销商本身的对公账户",
                       "dealer")
    if accounts_elsewhere:
        others = ", ".join(accounts_elsewhere)
        return Refusal(f"The dealer's account is also registered to {others}; correct the dealers' accounts before paying",
                       f"该经销商的账户同时登记在 {others} 名下，请先更正经销商账户再垫资", "dealer")
    return Payee(account, holder, bank)


def deduction_refusal(advance: Any, disbursed: Any, advance_status: str | None) -> Refusal | None:
    """Return why the advance cannot be deducted from the disbursement, or None when it can."""
    if advance_status != "succeeded":
        return Refusal(f"The advance has not been paid (payment status: {advance_status or 'none'}), so there is nothing to deduct",
                       f"垫资款尚未付款成功（付款状态：{advance_status or '无'}），无可划扣的垫款")
    advanced, paid_out = decimal_of(advance), decimal_of(disbursed)
    if advanced <= 0:
        return Refusal("The application has no advance amount to deduct", "该申请没有可划扣的垫资金额", "advance_amount")
    if paid_out < advanced:
        return Refusal(f"The bank disbursed {paid_out:,.2f} yuan, less than the advance of {advanced:,.2f}; "
                       "the advance cannot be deducted in full", f"银行放款 {paid_out:,.2f} 元，少于垫资 {advanced:,.2f} 元，无法足额划扣垫款",
                       "disbursed_amount")
    return None


def unpaid_periods(instalments: Sequence[Mapping[str, Any]]) -> list[int]:
    """Return the periods whose paid amount is below the amount due."""
    return [int(row["period"]) for row in instalments if decimal_of(row.get("paid_amount")) < decimal_of(row.get("amount"))]


def settlement_refusal(instalments: Sequence[Mapping[str, Any]]) -> Refusal | None:
    """Return why the loan cannot be settled, or None when every instalment is paid."""
    if not instalments:
        return Refusal("The loan has no repayment schedule, so its settlement cannot be checked",
                       "该贷款没有还款计划，无法核对是否结清", "instalments")
    unpaid = unpaid_periods(instalments)
    if unpaid:
        listed = ", ".join(str(period) for period in unpaid[:12]) + (" …" if len(unpaid) > 12 else "")
        return Refusal(f"{len(unpaid)} instalment(s) are not fully paid (periods {listed}); the loan can be settled only "
                       "after the last is paid", f"还有 {len(unpaid)} 期未足额还款（第 {listed} 期），全部还清后才能结清", "instalments")
    return None


def last_paid_on(instalments: Sequence[Mapping[str, Any]]) -> datetime.date | None:
    """Return the latest payment date of the instalments, if any is recorded."""
    days = [row["paid_on"] for row in instalments if isinstance(row.get("paid_on"), datetime.date)]
    return max(days) if days else None


def amount_total(instalments: Sequence[Mapping[str, Any]], key: str) -> Decimal:
    return sum((decimal_of(row.get(key)) for row in instalments), Decimal("0.00"))
