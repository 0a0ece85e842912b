"""Screen language and locale formatting.

Screens speak the language of the signed-in user (zh-CN unless chosen otherwise). Labels
come from the YAML, which carries both languages. The screens' own words are written in
place as an English and a Chinese pair, like the runtime's messages. Dates, numbers and money
are formatted by Babel for the locale.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from metamodel.model import Label

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
_BABEL_LOCALES = {"zh-CN": "zh_Hans_CN", "en": "en_US"}
LANGUAGE_NAMES = {"zh-CN": "简体中文", "en": "English"}


def normalize(lang: str | None) -> str:
    """Return a supported language for a requested one, or the default."""
    if not lang:
        return DEFAULT_LANGUAGE
    if lang in LANGUAGES:
        return lang
    return "en" if lang.lower().startswith("en") else DEFAULT_LANGUAGE


def pick(lang: str, en: str, zh: str) -> str:
    return en if lang == "en" else zh


def label(value: Label | None, lang: str) -> str:
    if value is None:
        return ""
    return value.en if lang == "en" else value.zh_cn


def format_number(value: Any, lang: str, places: int | None = None) -> str:
    if value is None or value == "":
        return ""
    if places is None:
        return babel_numbers.format_decimal(value, locale=_BABEL_LOCALES[lang], decimal_quantization=False)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=_BABEL_LOCALES[lang])


def format_money(value: Any, lang: str, currency: str = "CNY", places: int = 2) -> str:
    """Money with thousand separators and the locale's currency sign, such as ¥1,234.50."""
    if value is None or value == "":
        return ""
    return babel_numbers.format_currency(Decimal(str(value)), currency, locale=_BABEL_LOCALES[lang],
                                         currency_digits=False, format="¤#,##0." + "0" * places)


def format_percent(value: Any, lang: str, places: int = 2) -> str:
    """Format a ratio stored as a fraction (0.3) as a percentage (30.00%)."""
    if value is None or value == "":
        return ""
    pattern = "#,##0" + ("." + "0" * places if places else "") + "%"
    return babel_numbers.format_percent(Decimal(str(value)), format=pattern, locale=_BABEL_LOCALES[lang])


def format_date(value: Any, lang: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    return babel_dates.format_date(value, format="medium", locale=_BABEL_LOCALES[lang])


def format_datetime(value: Any, lang: str, timezone: str = "Asia/Shanghai") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return babel_dates.format_datetime(value, format="medium", tzinfo=babel_dates.get_timezone(timezone),
                                       locale=_BABEL_LOCALES[lang])
