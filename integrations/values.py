"""Values read from provider responses, callbacks and data files: amounts, decimals, whole numbers, dates and times.

Each reader takes a JSON value or a CSV cell and returns the typed value, or raises BadValue
with a message in English and Chinese that names what was expected. JSON numbers, which
`amount` rejects, are read through their shortest decimal text, so 39.9042 stays 39.9042.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

#: The largest magnitude read (an amount in yuan, a coordinate); a larger value is taken for a corrupt field.
MAX_MAGNITUDE = Decimal("999999999999.99")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WHOLE = re.compile(r"^[+-]?\d{1,12}$")


class BadValue(ValueError):
    """A value that cannot be read as the type expected; the message names the type expected."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


def decimal_number(value: object, places: int, *, rounded: bool = False) -> Decimal:
    """Read a JSON number or numeric text, and return it with exactly `places` decimals.

    A value with more decimals raises BadValue, or is rounded half to even when `rounded` is set.
    """
    text = _numeric_text(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) > MAX_MAGNITUDE:
        raise BadValue(f"{_shown(value)} is not a number", f"{_shown(value)} 不是数字")
    exponent = number.as_tuple().exponent
    if not rounded and isinstance(exponent, int) and exponent < -places:
        raise BadValue(f"{_shown(value)} has more than {places} decimals", f"{_shown(value)} 的小数超过 {places} 位")
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def amount(value: object) -> Decimal:
    """Read an amount in yuan written as text, such as "1234.50": at least 0, at most 2 decimals.

    A JSON number is rejected, as for money everywhere in the provider contracts, so no amount passes through a float.
    """
    if not isinstance(value, str):
        raise BadValue(f"the amount {_shown(value)} is not decimal text such as \"1234.50\"",
                       f"金额 {_shown(value)} 不是 \"1234.50\" 这样的数字文本")
    number = decimal_number(value, 2)
    if number < 0:
        raise BadValue(f"{_shown(value)} is negative; an amount is at least 0", f"{_shown(value)} 为负数，金额不能小于 0")
    return number


def whole(value: object, *, minimum: int) -> int:
    """Read a whole number of at least `minimum`, from a JSON integer or text such as "12"."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _WHOLE.match(value.strip()))):
        raise BadValue(f"{_shown(value)} is not a whole number", f"{_shown(value)} 不是整数")
    number = int(value)
    if number < minimum:
        raise BadValue(f"{number} is less than {minimum}", f"{number} 小于 {minimum}")
    return number


def day(value: object) -> date:
    """Read a date written as YYYY-MM-DD."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        if _DAY.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise BadValue(f"{_shown(value)} is not a date written as YYYY-MM-DD", f"{_shown(value)} 不是 YYYY-MM-DD 格式的日期")


def moment(value: object) -> datetime:
    """Read an ISO 8601 time that carries its UTC offset, such as 2026-03-01T08:30:00+08:00."""
    parsed: datetime | None = None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise BadValue(f"{_shown(value)} is not an ISO 8601 time with a UTC offset",
                       f"{_shown(value)} 不是带时区偏移的 ISO 8601 时间")
    return parsed


def _numeric_text(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _shown(value: object) -> str:
    """Return a value as a message quotes it, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
