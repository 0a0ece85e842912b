"""Credit report (征信): a summary of a person's credit report from the credit bureau.

The interface, for hooks (`context.providers["credit_report"]`):

    query(name, id_number, authorization_id, *, reason) -> CreditReport

`authorization_id` is the id of the person's signed authorization of the query
(征信查询授权书), which must be on record before any query. `reason` is one of QUERY_REASONS,
such as "loan_approval" (贷款审批) or "guarantee_review" (担保资格审查). The report gives its
id and time and the overdue history: accounts overdue now, overdue months in the last 24
months, the maximum number of consecutive months overdue, and the amount overdue now. It
also gives the outstanding debts (loans not paid off, their balance, the amount used on
credit cards) and how often lenders queried the report in the last 3 and 6 months.
`thin_file` is True when the bureau has no credit history of the person (白户). Amounts are
Decimal yuan with two places. A failed call raises ProviderError. An empty name, an invalid
ID number, a missing authorization id or an unknown reason is rejected with ProviderError
"rejected" before any call.

HTTP provider: POST {BASE_URL}/credit-report/query with {"name", "id_number",
"authorization_id", "reason"}; the provider returns {"report_id", "queried_at" (ISO 8601
with a UTC offset), "thin_file", "current_overdue_count", "overdue_count_24m",
"max_overdue_months", "overdue_amount", "loan_count", "loan_balance", "credit_card_used",
"queries_3m", "queries_6m"}. Counts are JSON integers of at least 0. Amounts are JSON
strings of yuan with at most 12 digits before the point and 2 after, such as "1234.56". A
float, a negative or malformed amount, a missing field, `queries_6m` below `queries_3m`, or
an overdue amount without an account overdue now (or the reverse) is "bad_response".

Sandbox provider, deterministic by the ID number: its sequence digits (the 15th to 17th)
choose a profile, and a SHA-256 hash of the number picks each value within the profile's
range, so one number always gets the same report. Only `queried_at` is the time of the
call, and `report_id` also depends on the authorization id and the reason.

- 000 to 599, clean: nothing overdue now or in the last 24 months; 0 to 3 loans with a
  balance of 30,000.00 to 600,000.00 yuan (0.00 without loans); 0.00 to 30,000.00 used on
  credit cards; 0 to 2 queries in 3 months and 0 to 2 more in 6 months.
- 600 to 799, minor overdue: as clean, but 1 to 3 overdue months in the last 24, never more
  than 1 month at a time, and nothing overdue now.
- 800 to 899, serious overdue: 1 or 2 accounts overdue now with 5,000.00 to 80,000.00 yuan
  overdue; 6 to 18 overdue months in the last 24; up to 3 to 6 consecutive months overdue;
  2 to 5 loans with a balance of 100,000.00 to 900,000.00; 20,000.00 to 100,000.00 used on
  credit cards; 4 to 9 queries in 3 months and 0 to 4 more in 6 months.
- 900 to 999, thin file: no credit history, so no loans, no card use and nothing overdue; no
  query in the last 3 months and 0 or 1 in the last 6.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from integrations.errors import ProviderError
from integrations.http import HttpProvider
from integrations.identity import masked
from runtime.providers import ProviderConfig, register_provider

logger = logging.getLogger(__name__)

INTERFACE = "credit_report"
#: The purposes a report may be queried for, as the credit bureau names them.
QUERY_REASONS = {
    "loan_approval": ("loan approval", "贷款审批"),
    "credit_card_approval": ("credit card approval", "信用卡审批"),
    "guarantee_review": ("guarantee eligibility review", "担保资格审查"),
    "post_loan_management": ("post-loan management", "贷后管理"),
    "post_guarantee_management": ("post-guarantee management", "保后管理"),
}
#: The sandbox profiles, by the first sequence number (the 15th to 17th digits) of each.
SANDBOX_PROFILES = ((0, "clean"), (600, "minor_overdue"), (800, "serious_overdue"), (900, "thin_file"))

COUNT_FIELDS = ("current_overdue_count", "overdue_count_24m", "max_overdue_months", "loan_count", "queries_3m", "queries_6m")
AMOUNT_FIELDS = ("overdue_amount", "loan_balance", "credit_card_used")
CENT = Decimal("0.01")
#: Yuan with at most 12 digits before the point and 2 after, without sign, exponent or thousands separators.
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class CreditReport:
    #: The bureau's id of the report, to quote to its support.
    report_id: str
    queried_at: datetime
    #: True when the bureau has no credit history of the person.
    thin_file: bool
    #: Accounts overdue now.
    current_overdue_count: int
    #: Months with an overdue payment in the last 24 months.
    overdue_count_24m: int
    #: The maximum number of consecutive months any account was overdue.
    max_overdue_months: int
    #: The amount overdue now, in yuan.
    overdue_amount: Decimal
    #: Loans not paid off.
    loan_count: int
    #: The balance of the loans not paid off, in yuan.
    loan_balance: Decimal
    #: The amount used on all credit cards, in yuan.
    credit_card_used: Decimal
    #: Queries by lenders in the last 3 months.
    queries_3m: int
    #: Queries by lenders in the last 6 months, including those of the last 3.
    queries_6m: int


def _checked(config: ProviderConfig, name: str, id_number: str, authorization_id: str, reason: str) -> tuple[str, str, str]:
    """Return the name, the ID number in its standard form and the authorization id; raise ProviderError "rejected" for bad input."""
    if not (name or "").strip():
        raise ProviderError(config.name, "rejected", "Enter the name of the person whose credit report to query",
                            "请填写被查询人的姓名")
    text = (id_number or "").strip().upper()
    try:
        number = str(ric.validate(text))
    except ValidationError:
        raise ProviderError(config.name, "rejected", f"The ID number {masked(text)} is not valid; check it and try again",
                            f"身份证号 {masked(text)} 无效，请核对后重试") from None
    authorization = (authorization_id or "").strip()
    if not authorization:
        raise ProviderError(config.name, "rejected",
                            "A credit report may be queried only with the person's signed authorization; record it and give its id",
                            "查询征信须有被查询人签署的授权书，请先登记授权书并提供其编号")
    if reason not in QUERY_REASONS:
        raise ProviderError(config.name, "rejected",
                            f"The query reason {reason!r} is not one of {', '.join(QUERY_REASONS)}",
                            f"查询原因 {reason!r} 无效，应为以下之一：{', '.join(QUERY_REASONS)}")
    return name.strip(), number, authorization


@register_provider(INTERFACE, "http")
class HttpCreditReport(HttpProvider):
    service_en = "the credit report service"
    service_zh = "征信服务"

    def query(self, name: str, id_number: str, authorization_id: str, *, reason: str) -> CreditReport:
        checked_name, number, authorization = _checked(self.config, name, id_number, authorization_id, reason)
        payload = {"name": checked_name, "id_number": number, "authorization_id": authorization, "reason": reason}
        document = self.call("POST", "/credit-report/query", payload, operation="query",
                             ids={"id_number": masked(number), "authorization_id": authorization, "reason": reason})
        return self._report(document)

    def _report(self, document: Mapping[str, Any]) -> CreditReport:
        """Read the provider's report; raise ProviderError "bad_response" naming the first invalid field."""
        report_id = document.get("report_id")
        if not isinstance(report_id, str) or not report_id.strip():
            raise self._invalid("report_id")
        queried_at = _timestamp(document.get("queried_at"))
        if queried_at is None:
            raise self._invalid("queried_at")
        thin_file = document.get("thin_file")
        if not isinstance(thin_file, bool):
            raise self._invalid("thin_file")
        counts: dict[str, int] = {}
        for key in COUNT_FIELDS:
            count = _count(document.get(key))
            if count is None:
                raise self._invalid(key)
            counts[key] = count
        amounts: dict[str, Decimal] = {}
        for key in AMOUNT_FIELDS:
            amount = _amount(document.get(key))
            if amount is None:
                raise self._invalid(key)
            amounts[key] = amount

        # The 6-month window contains the 3-month one. An amount is overdue exactly when an account is.
        if counts["queries_6m"] < counts["queries_3m"]:
            raise self._invalid("queries_6m")
        if (counts["current_overdue_count"] == 0) != (amounts["overdue_amount"] == 0):
            raise self._invalid("overdue_amount")
        return CreditReport(
            report_id, queried_at, thin_file,
            current_overdue_count=counts["current_overdue_count"], overdue_count_24m=counts["overdue_count_24m"],
            max_overdue_months=counts["max_overdue_months"], overdue_amount=amounts["overdue_amount"],
            loan_count=counts["loan_count"], loan_balance=amounts["loan_balance"], credit_card_used=amounts["credit_card_used"],
            queries_3m=counts["queries_3m"], queries_6m=counts["queries_6m"])

    def _invalid(self, key: str) -> ProviderError:
        # The value is left out: it is part of a person's credit history.
        logger.warning("%s query: the report's %s is missing or invalid", self.config.name, key)
        return ProviderError(self.config.name, "bad_response",
                             f"The credit report service sent a report whose {key} is missing or invalid; try again later",
                             f"征信服务返回的报告中 {key} 缺失或无效，请稍后重试")


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _amount(value: Any) -> Decimal | None:
    """Return a JSON string of yuan as Decimal with two places; None for a number, or a string of another form."""
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        return None
    return Decimal(value).quantize(CENT)


@register_provider(INTERFACE, "sandbox")
class SandboxCreditReport:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    def query(self, name: str, id_number: str, authorization_id: str, *, reason: str) -> CreditReport:
        _, number, authorization = _checked(self.config, name, id_number, authorization_id, reason)
        profile = sandbox_profile(number)
        draw = _Draw(number)
        report_id = "sbx-" + hashlib.sha256(f"{number}|{authorization}|{reason}".encode("utf-8")).hexdigest()[:20]
        now = datetime.now(timezone.utc)

        if profile == "thin_file":
            queries_6m = draw.count("queries_6m", 0, 1)
            return CreditReport(report_id, now, thin_file=True, current_overdue_count=0, overdue_count_24m=0, max_overdue_months=0,
                                overdue_amount=Decimal("0.00"), loan_count=0, loan_balance=Decimal("0.00"),
                                credit_card_used=Decimal("0.00"), queries_3m=0, queries_6m=queries_6m)

        serious = profile == "serious_overdue"
        if serious:
            current_overdue_count = draw.count("current_overdue_count", 1, 2)
            overdue_count_24m = draw.count("overdue_count_24m", 6, 18)
            max_overdue_months = draw.count("max_overdue_months", 3, 6)
            overdue_amount = draw.amount("overdue_amount", 5_000, 80_000)
        else:
            current_overdue_count, overdue_amount = 0, Decimal("0.00")
            overdue_count_24m = draw.count("overdue_count_24m", 1, 3) if profile == "minor_overdue" else 0
            max_overdue_months = 1 if overdue_count_24m else 0

        loan_count = draw.count("loan_count", 2, 5) if serious else draw.count("loan_count", 0, 3)
        if loan_count == 0:
            loan_balance = Decimal("0.00")
        else:
            loan_balance = draw.amount("loan_balance", 100_000, 900_000) if serious else draw.amount("loan_balance", 30_000, 600_000)
        credit_card_used = draw.amount("credit_card_used", 20_000, 100_000) if serious else draw.amount("credit_card_used", 0, 30_000)
        queries_3m = draw.count("queries_3m", 4, 9) if serious else draw.count("queries_3m", 0, 2)
        queries_6m = queries_3m + (draw.count("queries_6m", 0, 4) if serious else draw.count("queries_6m", 0, 2))
        return CreditReport(report_id, now, thin_file=False, current_overdue_count=current_overdue_count,
                            overdue_count_24m=overdue_count_24m, max_overdue_months=max_overdue_months, overdue_amount=overdue_amount,
                            loan_count=loan_count, loan_balance=loan_balance, credit_card_used=credit_card_used,
                            queries_3m=queries_3m, queries_6m=queries_6m)


def sandbox_profile(id_number: str) -> str:
    """Return the sandbox profile of a valid ID number in standard form: clean, minor_overdue, serious_overdue or thin_file."""
    sequence = int(id_number[14:17])
    return [profile for first, profile in SANDBOX_PROFILES if sequence >= first][-1]


class _Draw:
    """Values picked from ranges by a SHA-256 hash of the ID number and the field, the same for every call."""

    def __init__(self, id_number: str) -> None:
        self.id_number = id_number

    def count(self, key: str, low: int, high: int) -> int:
        digest = hashlib.sha256(f"{self.id_number}|{key}".encode("utf-8")).digest()
        return low + int.from_bytes(digest[:8], "big") % (high - low + 1)

    def amount(self, key: str, low_yuan: int, high_yuan: int) -> Decimal:
        return (Decimal(self.count(key, low_yuan * 100, high_yuan * 100)) * CENT).quantize(CENT)


def describe(report: CreditReport) -> dict[str, Any]:
    """Return a report as JSON data, as a hook may store it on a record: amounts as strings, the time in ISO 8601."""
    data: dict[str, Any] = {"report_id": report.report_id, "queried_at": report.queried_at.isoformat(),
                            "thin_file": report.thin_file}
    for key in COUNT_FIELDS:
        data[key] = getattr(report, key)
    for key in AMOUNT_FIELDS:
        data[key] = str(getattr(report, key))
    return data
