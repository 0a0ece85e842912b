"""Locale formatting gives exactly what Babel's own format functions give, for both languages."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from typing import Any

import pytest
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from ui.web import i18n

LANGUAGES = ("zh-CN", "en")
BABEL_LOCALES = {"zh-CN": "zh_Hans_CN", "en": "en_US"}
EDGE_VALUES: list[Any] = [
    Decimal("0"), Decimal("-0.00"), Decimal("0.005"), Decimal("-0.005"), Decimal("0.015"), Decimal("1.005"),
    Decimal("2.5"), Decimal("1E+5"), Decimal("1E-9"), Decimal("0.04355"), Decimal("1234567890.125"),
    Decimal("Infinity"), 0, 36, -7, 0.1, 123456789.987654321, "5", "-12.345",
]


def number_values() -> list[Any]:
    generator = random.Random(2026)
    drawn = [Decimal(generator.randrange(-10**12, 10**12)) / Decimal(10) ** generator.randrange(0, 7) for _ in range(300)]
    return EDGE_VALUES + drawn


def places_pattern(places: int) -> str:
    return "#,##0" + ("." + "0" * places if places else "")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_numbers_match_babel(lang: str) -> None:
    locale = BABEL_LOCALES[lang]
    for value in number_values():
        number = Decimal(str(value))
        for places in (0, 2, 4):
            for currency in ("CNY", "USD", "JPY"):
                expected = babel_numbers.format_currency(number, currency, locale=locale, currency_digits=False,
                                                         format="¤#,##0." + "0" * places)
                assert i18n.format_money(value, lang, currency, places) == expected, (value, places, currency)
            expected = babel_numbers.format_percent(number, format=places_pattern(places) + "%", locale=locale)
            assert i18n.format_percent(value, lang, places) == expected, (value, places)
            expected = babel_numbers.format_decimal(number, format=places_pattern(places), locale=locale)
            assert i18n.format_number(value, lang, places) == expected, (value, places)
        expected = babel_numbers.format_decimal(number, locale=locale, decimal_quantization=False)
        assert i18n.format_number(value, lang) == expected, value


@pytest.mark.parametrize("lang", LANGUAGES)
def test_moments_match_babel(lang: str) -> None:
    locale = BABEL_LOCALES[lang]
    generator = random.Random(7)
    start = datetime.datetime(1990, 1, 1, tzinfo=datetime.timezone.utc)
    for _ in range(200):
        moment = start + datetime.timedelta(seconds=generator.randrange(0, 2 * 10**9))
        for zone in ("Asia/Shanghai", "UTC", "America/New_York"):
            expected = babel_dates.format_datetime(moment, format="medium", tzinfo=babel_dates.get_timezone(zone), locale=locale)
            assert i18n.format_datetime(moment, lang, zone) == expected, (moment, zone)
        in_shanghai = babel_dates.format_datetime(moment, format="medium", tzinfo=babel_dates.get_timezone("Asia/Shanghai"),
                                                  locale=locale)
        assert i18n.format_datetime(moment.replace(tzinfo=None), lang) == in_shanghai, moment
        assert i18n.format_datetime(moment.isoformat(), lang) == in_shanghai, moment
        day = babel_dates.format_date(moment.date(), format="medium", locale=locale)
        assert i18n.format_date(moment.date(), lang) == day
        assert i18n.format_date(moment, lang) == day
        assert i18n.format_date(moment.date().isoformat(), lang) == day


@pytest.mark.parametrize("lang", LANGUAGES)
def test_empty_values_give_empty_text(lang: str) -> None:
    for value in (None, ""):
        assert i18n.format_money(value, lang) == ""
        assert i18n.format_percent(value, lang) == ""
        assert i18n.format_number(value, lang) == ""
        assert i18n.format_date(value, lang) == ""
        assert i18n.format_datetime(value, lang) == ""
