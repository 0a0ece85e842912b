"""Locale formatting of list cells, with Babel's locales and patterns parsed once per process.

A list page formats a few hundred values. The functions of ui/web/i18n.py hand Babel a
locale name and a pattern string, and Babel parses both again on every call. On a list page
of 20 loan applications that parsing, and Babel's lookups of the locale's symbols, took most
of the formatting time. These functions parse the same locales and patterns once, apply
number patterns with the symbols resolved once, and give the same output as i18n's.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from ui.web import i18n


@functools.lru_cache(maxsize=None)
def _locale(lang: str) -> Locale:
    # The same locale names as i18n, so that both format alike.
    return Locale.parse(i18n._BABEL_LOCALES[lang])


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> datetime.tzinfo:
    return babel_dates.get_timezone(name)


@dataclass(frozen=True)
class _NumberFormat:
    """A Babel number pattern resolved for one locale and currency, applied without Babel's per-call lookups.

    It follows `NumberPattern.apply` of Babel 2.19 for patterns without exponent, significant
    digits, quotes or a repeated currency sign; `_number_format` returns None for the others.
    """

    prefixes: tuple[str, str]
    suffixes: tuple[str, str]
    scale: int
    int_min: int
    grouping: tuple[int, int]
    frac_min: int
    frac_max: int
    group: str
    decimal: str
    #: False keeps every decimal the value has beyond the pattern's, as decimal_quantization=False does.
    quantize: bool

    def apply(self, value: Any) -> str:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        number = number.scaleb(self.scale)
        negative = int(number.is_signed())
        number = abs(number).normalize()
        frac_max = self.frac_max
        if not self.quantize:
            exponent = number.as_tuple().exponent
            frac_max = max(frac_max, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
        whole, _, fraction = f"{number.quantize(Decimal(10) ** -frac_max):f}".partition(".")
        return self.prefixes[negative] + self._group(whole) + self._fraction(fraction or "0", frac_max) + self.suffixes[negative]

    def _group(self, digits: str) -> str:
        if len(digits) < self.int_min:
            digits = "0" * (self.int_min - len(digits)) + digits
        size = self.grouping[0]
        grouped = ""
        while len(digits) > size:
            grouped = self.group + digits[-size:] + grouped
            digits = digits[:-size]
            size = self.grouping[1]
        return digits + grouped

    def _fraction(self, digits: str, frac_max: int) -> str:
        if len(digits) < self.frac_min:
            digits += "0" * (self.frac_min - len(digits))
        if frac_max == 0 or (self.frac_min == 0 and int(digits) == 0):
            return ""
        while len(digits) > self.frac_min and digits[-1] == "0":
            digits = digits[:-1]
        return self.decimal + digits


@functools.lru_cache(maxsize=64)
def _number_format(pattern_text: str | None, lang: str, currency: str | None, quantize: bool) -> _NumberFormat | None:
    """Resolve a pattern (None: the locale's decimal pattern), or return None where Babel must format it."""
    locale = _locale(lang)
    pattern = locale.decimal_formats[None] if pattern_text is None else babel_numbers.parse_pattern(pattern_text)
    affixes = "".join((*pattern.prefix, *pattern.suffix))
    group = babel_numbers.get_group_symbol(locale)
    decimal = babel_numbers.get_decimal_symbol(locale)
    if pattern.exp_prec or "@" in pattern.pattern or "'" in affixes + group + decimal or "¤¤" in affixes:
        return None
    symbol = babel_numbers.get_currency_symbol(currency, locale) if currency is not None else "¤"
    prefixes = (pattern.prefix[0].replace("¤", symbol), pattern.prefix[1].replace("¤", symbol))
    suffixes = (pattern.suffix[0].replace("¤", symbol), pattern.suffix[1].replace("¤", symbol))
    return _NumberFormat(prefixes, suffixes, pattern.scale, pattern.int_prec[0], pattern.grouping,
                         pattern.frac_prec[0], pattern.frac_prec[1], group, decimal, quantize)


def _apply(pattern_text: str | None, value: Any, lang: str, currency: str | None = None, quantize: bool = True) -> str:
    resolved = _number_format(pattern_text, lang, currency, quantize)
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if resolved is None or not number.is_finite():
        locale = _locale(lang)
        pattern = locale.decimal_formats[None] if pattern_text is None else babel_numbers.parse_pattern(pattern_text)
        return str(pattern.apply(number, locale, currency=currency, currency_digits=False, decimal_quantization=quantize))
    return resolved.apply(number)


def format_number(value: Any, lang: str, places: int | None = None) -> str:
    """Format like i18n.format_number."""
    if value is None or value == "":
        return ""
    if places is None:
        return _apply(None, value, lang, quantize=False)
    return _apply("#,##0" + ("." + "0" * places if places else ""), value, lang)


def format_money(value: Any, lang: str, currency: str = "CNY", places: int = 2) -> str:
    """Format like i18n.format_money."""
    if value is None or value == "":
        return ""
    return _apply("¤#,##0." + "0" * places, Decimal(str(value)), lang, currency)


def format_percent(value: Any, lang: str, places: int = 2) -> str:
    """Format like i18n.format_percent."""
    if value is None or value == "":
        return ""
    return _apply("#,##0" + ("." + "0" * places if places else "") + "%", Decimal(str(value)), lang)


@functools.lru_cache(maxsize=None)
def _moment_patterns(lang: str) -> tuple[str, babel_dates.DateTimePattern, babel_dates.DateTimePattern]:
    """Return the locale's medium date-and-time joiner, time pattern and date pattern, as Babel's format_datetime reads them."""
    locale = _locale(lang)
    joiner = str(babel_dates.get_datetime_format("medium", locale=locale)).replace("'", "")
    return joiner, babel_dates.get_time_format("medium", locale=locale), babel_dates.get_date_format("medium", locale=locale)


def format_date(value: Any, lang: str) -> str:
    """Format like i18n.format_date."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    elif isinstance(value, datetime.datetime):
        value = value.date()
    return str(_moment_patterns(lang)[2].apply(value, _locale(lang)))


def format_datetime(value: Any, lang: str, timezone: str = "Asia/Shanghai") -> str:
    """Format like i18n.format_datetime: the moment in `timezone`, as Babel's format_datetime composes it."""
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
