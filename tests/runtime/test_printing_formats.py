"""Amounts, dates and capital numerals as printed documents write them."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from runtime.printing_formats import capital_amount, format_amount, format_date, format_money, format_percent


@pytest.mark.parametrize(("amount", "expected"), [
    ("123456.78", "壹拾贰万叁仟肆佰伍拾陆元柒角捌分"),
    ("0.05", "伍分"),
    ("0.5", "伍角"),
    ("10", "壹拾元整"),
    ("100000", "壹拾万元整"),
    ("1000001.10", "壹佰万零壹元壹角"),
    ("12345678.9", "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角"),
    ("1.05", "壹元零伍分"),
    ("10.01", "壹拾元零壹分"),
    ("1010", "壹仟零壹拾元整"),
    ("100010000", "壹亿零壹万元整"),
    ("1000000001", "壹拾亿零壹元整"),
    ("0", "零元整"),
    ("0.004", "零元整"),
    ("0.005", "壹分"),
    ("-3.5", "负叁元伍角"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
])
def test_capital_amount(amount: str, expected: str) -> None:
    assert capital_amount(Decimal(amount)) == expected


def test_capital_amount_accepts_int_and_text() -> None:
    assert capital_amount(10) == "壹拾元整"
    assert capital_amount("1,000,001.10") == "壹佰万零壹元壹角"


def test_capital_amount_rejects_huge_amount() -> None:
    with pytest.raises(ValueError, match="999999999999.99"):
        capital_amount(Decimal("1000000000000"))


def test_money_and_amount() -> None:
    assert format_money(Decimal("123456.785")) == "¥123,456.79"
    assert format_money(Decimal("-5")) == "-¥5.00"
    assert format_money(None) == ""
    assert format_amount(1234567) == "1,234,567.00"
    assert format_percent(Decimal("0.0575")) == "5.75%"


def test_dates_in_chinese() -> None:
    assert format_date(datetime.date(2026, 12, 5)) == "2026年12月5日"
    assert format_date(datetime.datetime(2026, 1, 9, 14, 30)) == "2026年1月9日 14:30"
    assert format_date("2026-03-01") == "2026年3月1日"
    assert format_date(None) == ""
