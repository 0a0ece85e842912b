"""List cell formatting gives exactly what ui/web/i18n.py gives, for both languages."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

import pytest

from ui.web import i18n, lists_formats

LANGUAGES = ("zh-CN", "en")
EDGE_VALUES: list[Any] = [
    Decimal("0"), Decimal("-0.00"), Decimal("0.005"), Decimal("-0.005"), Decimal("0.015"), Decimal("1.005"),
    Decimal("2.5"), Decimal("1E+5"), Decimal("1E-9"), Decimal("0.04355"), Decimal("1234567890.125"),
    Decimal("Infinity"), 0, 36, -7, 0.1, 123456789.987654321, "5", "-12.345",
]


def number_values() -> list[Any]:
    generator = random.Random(2026)
    drawn = [Decimal(generator.randrange(-10**12, 10**12)) / Decimal(10) ** generator.randrange(0, 7) for _ in range(300)]
    return EDGE_VALUES + drawn


@pytest.mark.parametrize("lang", LANGUAGES)
def test_numbers_match_i18n(lang: str) -> None:
    for value in number_values():
        for places in (0, 2, 4):
            for currency in ("CNY", "USD", "JPY"):
                assert lists_formats.format_money(value, lang, currency, places) == i18n.format_money(value, lang, currency, places), (value, places, currency)
            assert lists_formats.format_percent(value, lang, places) == i18n.format_percent(value, lang, places), (value, places)
            assert lists_formats.format_number(value, lang, places) == i18n.format_number(value, lang, places), (value, places)
        assert lists_formats.format_number(value, lang) == i18n.format_number(value, lang), value


@pytest.mark.parametrize("lang", LANGUAGES)
def test_moments_match_i18n(lang: str) -> None:
    generator = random.Random(7)
    start = datetime.datetime(1990, 1, 1, tzinfo=datetime.timezone.utc)
    for _ in range(200):
        moment = start + datetime.timedelta(seconds=generator.randrange(0, 2 * 10**9))
        for zone in ("Asia/Shanghai", "UTC", "America/New_York"):
            assert lists_formats.format_datetime(moment, lang, zone) == i18n.format_datetime(moment, lang, zone), (moment, zone)
        naive = moment.replace(tzinfo=None)
        assert lists_formats.format_datetime(naive, lang) == i18n.format_datetime(naive, lang), naive
        assert lists_formats.format_datetime(moment.isoformat(), lang) == i18n.format_datetime(moment.isoformat(), lang)
        assert lists_formats.format_date(moment.date(), lang) == i18n.format_date(moment.date(), lang)
        assert lists_formats.format_date(moment, lang) == i18n.format_date(moment, lang)
        assert lists_formats.format_date(moment.date().isoformat(), lang) == i18n.format_date(moment.date().isoformat(), lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_empty_values_give_empty_text(lang: str) -> None:
    for value in (None, ""):
        assert lists_formats.format_money(value, lang) == ""
        assert lists_formats.format_percent(value, lang) == ""
        assert lists_formats.format_number(value, lang) == ""
        assert lists_formats.format_date(value, lang) == ""
        assert lists_formats.format_datetime(value, lang) == ""
