"""Values formatted for printed Chinese documents: money, dates and amounts in capital numerals.

Printed contracts follow the conventions of Chinese payment documents, whatever the
screen language. Amounts have thousands separators and two decimal places, and dates read
2026年12月5日. Amounts in capital numerals (人民币大写) follow the rules for filling in bills
and settlement vouchers in the People's Bank of China's payment and settlement measures
(支付结算办法).
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
#: Units of the digits inside a group of four, from the right.
_DIGIT_UNITS = ("", "拾", "佰", "仟")
#: Units of the groups of four digits, from the right.
_GROUP_UNITS = ("", "万", "亿")
#: The largest amount written in capitals: 9999 亿 and the rest; beyond it a group unit would repeat.
MAX_CAPITAL_AMOUNT = Decimal("999999999999.99")

_CENT = Decimal("0.01")


def as_decimal(value: Any) -> Decimal:
    """Return a number as a Decimal; floats go through their shortest text, so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError(f"expected an amount, got the boolean {value!r}")
    try:
        return Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValueError(f"expected an amount, got {value!r}") from None


def format_amount(value: Any, places: int = 2) -> str:
    """Write a number with thousands separators and `places` decimals, such as 123,456.78; None gives ""."""
    if value is None or value == "":
        return ""
    number = as_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{number:,.{places}f}"


def format_money(value: Any) -> str:
    """Write an amount of yuan with the ¥ sign, such as ¥123,456.78 or -¥5.00; None gives ""."""
    text = format_amount(value)
    if not text:
        return ""
    return "-¥" + text[1:] if text.startswith("-") else "¥" + text


def format_date(value: Any) -> str:
    """Write a date as 2026年12月5日, and a date and time with the time after it; None gives ""."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    if isinstance(value, datetime.datetime):
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    if isinstance(value, datetime.date):
        return f"{value.year}年{value.month}月{value.day}日"
    raise TypeError(f"expected a date, got {value!r}")


def format_percent(value: Any, places: int = 2) -> str:
    """Write a fraction as a percentage, so 0.0575 becomes 5.75%; None gives ""."""
    if value is None or value == "":
        return ""
    return format_amount(as_decimal(value) * 100, places).replace(",", "") + "%"


def capital_amount(value: Any) -> str:
    """Write an amount of yuan in capital numerals, such as 壹拾贰万叁仟肆佰伍拾陆元柒角捌分.

    The amount is rounded to the fen (half up). A run of zeros inside the number is one 零,
    and zeros at the end of a group of four are not written (1000001 is 壹佰万零壹元). The
    tens digit is written as 壹拾, as bills require. 整 follows a whole amount of yuan
    (10 is 壹拾元整), and nothing follows 角 or 分. When the jiao is zero and the fen is not,
    零 is written between 元 and the fen (1.05 is 壹元零伍分). Below one yuan there is no 元
    (0.05 is 伍分), and 0 is 零元整. A negative amount starts with 负. Raises ValueError
    above MAX_CAPITAL_AMOUNT.
    """
    amount = as_decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    if abs(amount) > MAX_CAPITAL_AMOUNT:
        raise ValueError(f"{amount} is too large to write in capital numerals; the limit is {MAX_CAPITAL_AMOUNT}")
    sign = "负" if amount < 0 else ""
    cents = int(abs(amount) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10

    if yuan == 0 and jiao == 0 and fen == 0:
        return "零元整"
    parts = [sign]
    if yuan:
        parts.append(_capital_integer(yuan) + "元")
    if jiao == 0 and fen == 0:
        parts.append("整")
        return "".join(parts)
    if jiao:
        parts.append(CAPITAL_DIGITS[jiao] + "角")
    if fen:
        if yuan and not jiao:
            parts.append("零")
        parts.append(CAPITAL_DIGITS[fen] + "分")
    return "".join(parts)


def _capital_integer(number: int) -> str:
    """Write a positive whole number below 10**12 in capital numerals, without a unit of money."""
    digits = str(number)
    count = len(digits)
    words: list[str] = []
    zero_pending = False
    for index, character in enumerate(digits):
        place = count - 1 - index
        digit = int(character)
        if digit == 0:
            zero_pending = True
        else:
            if zero_pending and words:
                words.append("零")
            zero_pending = False
            words.append(CAPITAL_DIGITS[digit] + _DIGIT_UNITS[place % 4])
        if place % 4 == 0 and place > 0:
            # The last digit of a group of four: its unit follows unless the whole group is zero.
            group = digits[max(0, index - 3):index + 1]
            if int(group):
                words.append(_GROUP_UNITS[place // 4])
    return "".join(words)
