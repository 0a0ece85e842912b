"""Screen language and locale formatting.

Screens speak the language of the signed-in user (zh-CN unless chosen otherwise). Labels
come from the YAML, which carries both languages. The screens' own words are written in
place as an English and a Chinese pair, like the runtime's messages. Dates, numbers and money
are formatted by Babel for the locale.
"""

from __future__ import annotations

import datetime
import functools
from decimal import Decimal
from typing import Any, Iterable

from babel import Locale
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


def join_list(items: Iterable[str], lang: str) -> str:
    """Join the items of an enumeration: "a, b, c" in English, "a、b、c" (the enumeration comma) in Chinese."""
    return pick(lang, ", ", "、").join(items)


def label(value: Label | None, lang: str) -> str:
    if value is None:
        return ""
    return value.en if lang == "en" else value.zh_cn


@functools.lru_cache(maxsize=None)
def _locale(lang: str) -> Locale:
    return Locale.parse(_BABEL_LOCALES[lang])


@functools.lru_cache(maxsize=64)
def _number_pattern(pattern: str | None, lang: str) -> babel_numbers.NumberPattern:
    """Return a parsed number pattern, or the locale's decimal pattern for None."""
    return _locale(lang).decimal_formats[None] if pattern is None else babel_numbers.parse_pattern(pattern)


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> datetime.tzinfo:
    return babel_dates.get_timezone(name)


@functools.lru_cache(maxsize=None)
def _moment_patterns(lang: str) -> tuple[str, babel_dates.DateTimePattern, babel_dates.DateTimePattern]:
    """Return the medium date-and-time joiner, time pattern and date pattern of a language."""
    locale = _locale(lang)
    joiner = str(babel_dates.get_datetime_format("medium", locale=locale)).replace("'", "")
    return joiner, babel_dates.get_time_format("medium", locale=locale), babel_dates.get_date_format("medium", locale=locale)


def _apply(pattern: str | None, value: Any, lang: str, currency: str | None = None, quantize: bool = True) -> str:
    # Babel's format_* functions parse the locale and the pattern on every call. A list page
    # formats hundreds of values, so both are parsed once and cached.
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return str(_number_pattern(pattern, lang).apply(number, _locale(lang), currency=currency,
                                                    currency_digits=False, decimal_quantization=quantize))


def format_number(value: Any, lang: str, places: int | None = None) -> str:
    if value is None or value == "":
        return ""
    if places is None:
        return _apply(None, value, lang, quantize=False)
    return _apply("#,##0" + ("." + "0" * places if places else ""), value, lang)


def format_money(value: Any, lang: str, currency: str = "CNY", places: int = 2) -> str:
    """Money with thousand separators and the locale's currency sign, such as ¥1,234.50."""
    if value is None or value == "":
        return ""
    return _apply("¤#,##0." + "0" * places, value, lang, currency)


def format_percent(value: Any, lang: str, places: int = 2) -> str:
    """Format a ratio stored as a fraction (0.3) as a percentage (30.00%)."""
    if value is None or value == "":
        return ""
    return _apply("#,##0" + ("." + "0" * places if places else "") + "%", value, lang)


def format_date(value: Any, lang: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    elif isinstance(value, datetime.datetime):
        value = value.date()
    return str(_moment_patterns(lang)[2].apply(value, _locale(lang)))


def format_datetime(value: Any, lang: str, timezone: str = "Asia/Shanghai") -> str:
    """Format a moment in `timezone` as Babel's medium date and time. A naive moment is read as UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    local = value.astimezone(_zone(timezone))
    locale = _locale(lang)
    joiner, time_pattern, date_pattern = _moment_patterns(lang)
    time_text = time_pattern.apply(local.timetz(), locale, reference_date=local.date())
    return joiner.replace("{0}", time_text).replace("{1}", date_pattern.apply(local.date(), locale))
