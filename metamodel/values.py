"""Normalization and checks of field values, one at a time or as whole records.

Values arrive from YAML (ints, floats, booleans, dates, lists, mappings) or from forms
(strings). Bad values do not raise, because the checks return problems with stable
codes and messages in English and Simplified Chinese. A wrongly declared field (an
unknown type or an invalid regular expression in `pattern`) raises. When there are problems the returned value
is a best effort, often the input as given, and must not be stored.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import functools
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, NoReturn

from metamodel.identifiers import IdentifierError, check_identifier, mask
from metamodel.model import IDENTIFIER_TYPES, Field, decimal_integer_digits, decimal_places, thaw
from metamodel.value_problems import Result as _Result
from metamodel.value_problems import ValueProblem
from metamodel.value_problems import problem as _problem


_LIST_TYPES = frozenset({"multi_reference", "child", "attachments"})

# Plain decimal notation with or without thousands separators, but no exponents.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_NON_FINITE = re.compile(r"[+-]?(?:s?nan|inf|infinity)", re.IGNORECASE)

_DATE = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})|(\d{4})年(\d{1,2})月(\d{1,2})日")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")

_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "是"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "否"})

_SHOWN_CHOICES = 10
_SHOWN_CHARACTERS = 60


def check_value(field: Field, value: Any) -> _Result:
    """Normalize one value for `field` and list what is wrong with it.

    Returns Decimal for decimal, money and percent, int, bool, date, datetime, str
    for text, choices, references and identifiers, list[str] for multi-references,
    dict or list for JSON, {"lat", "lng"} Decimals for geo points and a list of row
    dicts for child tables. Raises ValueError for a type the model does not define.
    """
    checker = _identifier if field.type in IDENTIFIER_TYPES else _CHECKERS.get(field.type)
    if checker is None:
        raise ValueError(f"field {field.name!r} has unknown type {field.type!r}")
    if _is_empty(value):
        return _empty(field)
    return checker(field, value)


def check_row(
    fields: Mapping[str, Field], row: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[ValueProblem]]]:
    """Check every field of a whole record, applying defaults to absent fields.

    Problems are keyed by field name, or by a path such as "contacts[0].phone" inside
    child tables. Absent optional fields without a default stay absent from the result.
    """
    result: dict[str, Any] = {}
    problems: dict[str, list[ValueProblem]] = {}

    for key in row:
        if key not in fields:
            problems[str(key)] = [_unknown_field(str(key), fields)]

    for name, field in fields.items():
        if field.computed is not None:
            if name in row:
                problems[name] = [_problem("computed", found=_show(field, row[name]))]
            continue

        if name in row:
            value, field_problems = check_value(field, row[name])
        elif field.default is not None:
            value, field_problems = check_value(field, copy.deepcopy(field.default))
            # NOTE: a default that fails these checks is applied unchanged and not reported,
            # because the person filling in the record cannot fix it.
            if field_problems:
                value, field_problems = copy.deepcopy(field.default), []
        elif field.required:
            problems[name] = _empty(field)[1]
            continue
        else:
            continue

        result[name] = value
        for problem in field_problems:
            problems.setdefault(name + problem.path, []).append(problem)

    return result, problems


def _rejected(field: Field, value: Any, key: str) -> _Result:
    return value, [_problem(key, found=_show(field, value), expected=field.type)]


def _show(field: Field, value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if field.masked or field.type in IDENTIFIER_TYPES:
        return mask(field.type, text)
    if len(text) > _SHOWN_CHARACTERS:
        return text[: _SHOWN_CHARACTERS - 1] + "…"
    return text


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, tuple)) and not value


def _empty(field: Field) -> _Result:
    empty: Any = [] if field.type in _LIST_TYPES else None
    return empty, [_problem("required")] if field.required else []


def _unknown_field(key: str, fields: Mapping[str, Field]) -> ValueProblem:
    matches = difflib.get_close_matches(key, list(fields), n=1)
    if matches:
        return _problem("unknown_field.similar", found=key, expected=matches[0], key=key, match=matches[0])
    return _problem("unknown_field", found=key, key=key)


def _text(field: Field, value: Any) -> _Result:
    if not isinstance(value, str):
        return _rejected(field, value, "type.text")
    text = value.replace("\r\n", "\n").strip()
    found = _show(field, text)
    problems: list[ValueProblem] = []
    if field.min_length is not None and len(text) < field.min_length:
        limit = field.min_length
        problems.append(_problem("min_length", found=found, expected=f">= {limit}", length=len(text), limit=limit))
    if field.max_length is not None and len(text) > field.max_length:
        limit = field.max_length
        problems.append(_problem("max_length", found=found, expected=f"<= {limit}", length=len(text), limit=limit))
    if field.pattern is not None and not _compiled(field.pattern).fullmatch(text):
        if field.pattern_message is not None:
            explained = ValueProblem("pattern", field.pattern_message.en, field.pattern_message.zh_cn, found, field.pattern)
            problems.append(explained)
        else:
            problems.append(_problem("pattern", found=found, expected=field.pattern, pattern=field.pattern))
    return text, problems


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _to_decimal(field: Field, value: Any) -> Decimal | ValueProblem:
    """Convert a number or numeric text, accepting full-width digits and thousands separators."""
    found = _show(field, value)
    if isinstance(value, bool):
        return _problem("type.boolean_number", found=found, expected=field.type)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr gives the shortest text that reads back as the same float, so 0.1 stays 0.1.
        number = Decimal(repr(value)) if math.isfinite(value) else Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if field.type == "money":
            text = text.removeprefix("¥").strip()
        if _GROUPED_NUMBER.fullmatch(text):
            text = text.replace(",", "")
        if not (_PLAIN_NUMBER.fullmatch(text) or _NON_FINITE.fullmatch(text)):
            return _problem("type.number", found=found, expected=field.type)
        number = Decimal(text)
    else:
        return _problem("type.number", found=found, expected=field.type)

    if not number.is_finite():
        return _problem("not_finite", found=found, expected=field.type)
    return number


def _range_problems(field: Field, number: Decimal | int) -> list[ValueProblem]:
    if field.min is not None and number < field.min:
        return [_problem("min", found=str(number), expected=f">= {field.min}", limit=field.min)]
    if field.max is not None and number > field.max:
        return [_problem("max", found=str(number), expected=f"<= {field.max}", limit=field.max)]
    return []


def _integer(field: Field, value: Any) -> _Result:
    number = _to_decimal(field, value)
    if isinstance(number, ValueProblem):
        return value, [number]
    if number != number.to_integral_value():
        return _rejected(field, value, "type.integer")
    whole = int(number)
    return whole, _range_problems(field, whole)


def _decimal(field: Field, value: Any) -> _Result:
    """Check a decimal, money or percent value; money has 2 places unless the field sets `places`.

    A value with more places than allowed is a problem and is not rounded away silently.
    The value returned with that problem is rounded half up.
    """
    number = _to_decimal(field, value)
    if isinstance(number, ValueProblem):
        return value, [number]
    places = decimal_places(field)
    problems: list[ValueProblem] = []
    with localcontext() as context:
        # Enough precision for every digit, so quantize cannot fail on large values.
        context.prec = max(context.prec, number.adjusted() + places + 2)
        rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded != number:
        problems.append(_problem("places", found=str(number), expected=str(places), places=places))
    number = rounded
    if number.is_zero():
        number = number.copy_abs()
    digits = decimal_integer_digits(field)
    if abs(number) >= Decimal(10) ** digits:
        problems.append(_problem("digits", found=str(number), expected=f"< 1e{digits}", digits=digits))
    return number, problems + _range_problems(field, number)


def _boolean(field: Field, value: Any) -> _Result:
    if isinstance(value, bool):
        return value, []
    if isinstance(value, int) and value in (0, 1):
        return value == 1, []
    if isinstance(value, str):
        word = unicodedata.normalize("NFKC", value).strip().lower()
        if word in _TRUE_WORDS:
            return True, []
        if word in _FALSE_WORDS:
            return False, []
    return _rejected(field, value, "type.boolean")


def _date(field: Field, value: Any) -> _Result:
    """Check a date; text may also use / or . between the parts, or 2024年3月15日."""
    if isinstance(value, datetime.datetime):
        return _rejected(field, value, "type.date_with_time")
    if isinstance(value, datetime.date):
        return value, []
    match = _DATE.fullmatch(unicodedata.normalize("NFKC", value).strip()) if isinstance(value, str) else None
    if match is None:
        return _rejected(field, value, "type.date")
    year, month, day = (match[1], match[3], match[4]) if match[1] else (match[5], match[6], match[7])
    try:
        return datetime.date(int(year), int(month), int(day)), []
    except ValueError:
        return _rejected(field, value, "type.no_such_date")


def _datetime(field: Field, value: Any) -> _Result:
    """Check a date and time; the result is naive or aware exactly as the input was."""
    if isinstance(value, datetime.datetime):
        return value, []
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if _DATETIME.fullmatch(text):
            try:
                return datetime.datetime.fromisoformat(text), []
            except ValueError:
                pass
    return _rejected(field, value, "type.datetime")


def _enum(field: Field, value: Any) -> _Result:
    """Check a choice; an exact label that belongs to exactly one choice is accepted too."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip()
        if text in field.choice_values:
            return text, []
        by_label = [choice.value for choice in field.choices if text in (choice.label.zh_cn, choice.label.en)]
        if len(by_label) == 1:
            return by_label[0], []
    shown = field.choices[:_SHOWN_CHOICES]
    more = len(field.choices) > _SHOWN_CHOICES
    allowed = ", ".join(choice.value for choice in shown) + (", …" if more else "")
    # People know the labels and programs the values, so the message gives both.
    allowed_en = ", ".join(f"{choice.label.en} ({choice.value})" for choice in shown) + (", …" if more else "")
    allowed_zh = "、".join(f"{choice.label.zh_cn}（{choice.value}）" for choice in shown) + ("、…" if more else "")
    return value, [_problem("choice", found=_show(field, value), expected=allowed, allowed_en=allowed_en, allowed_zh=allowed_zh)]


def _reference_key(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _reference(field: Field, value: Any) -> _Result:
    key = _reference_key(value)
    if key is None:
        return _rejected(field, value, "type.reference")
    return key, []


def _multi_reference(field: Field, value: Any) -> _Result:
    """Check a list of record keys; text from a form may separate them with commas."""
    items = re.split(r"[,，]", value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        return _rejected(field, value, "type.references")
    keys: list[str] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        key = _reference_key(item)
        if key is None:
            return _rejected(field, value, "type.references")
        if key not in keys:
            keys.append(key)
    if not keys:
        return _empty(field)
    return keys, []


def _child(field: Field, value: Any) -> _Result:
    if not isinstance(value, (list, tuple)):
        return _rejected(field, value, "type.rows")
    row_fields = {row_field.name: row_field for row_field in field.fields}
    rows: list[dict[str, Any]] = []
    problems: list[ValueProblem] = []
    for index, row in enumerate(value):
        if not isinstance(row, Mapping):
            problems.append(replace(_problem("type.row", found=_show(field, row)), path=f"[{index}]"))
            continue
        normalized, row_problems = check_row(row_fields, row)
        rows.append(normalized)
        for key, key_problems in row_problems.items():
            problems.extend(replace(problem, path=f"[{index}].{key}") for problem in key_problems)
    return rows, problems


def _attachment(field: Field, value: Any) -> _Result:
    """Accept a file name or a mapping describing a stored file; the file itself is not checked."""
    if isinstance(value, Mapping):
        return dict(value), []
    if isinstance(value, str):
        return value.strip(), []
    return _rejected(field, value, "type.file")


def _attachments(field: Field, value: Any) -> _Result:
    items = [value] if isinstance(value, (str, Mapping)) else value
    if not isinstance(items, (list, tuple)):
        return _rejected(field, value, "type.files")
    files: list[Any] = []
    for item in items:
        file, problems = _attachment(field, item)
        if problems:
            return value, problems
        files.append(file)
    return files, []


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _json(field: Field, value: Any) -> _Result:
    """Check a JSON object or array; text is parsed, and NaN or infinity is rejected."""
    document = value
    if isinstance(value, str):
        try:
            document = json.loads(value, parse_constant=_reject_constant)
        except ValueError:
            return _rejected(field, value, "type.json_syntax")
    if isinstance(document, (Mapping, tuple)):
        document = thaw(document)
    if not isinstance(document, (dict, list)):
        return _rejected(field, value, "type.json")
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError):
        return _rejected(field, value, "type.json_content")
    return document, []


def _geo_point(field: Field, value: Any) -> _Result:
    """Check a point given as {"lat", "lng"}, as [lng, lat] (GeoJSON order) or as text "lng,lat"."""
    latitude: Any = None
    longitude: Any = None
    if isinstance(value, str):
        parts = unicodedata.normalize("NFKC", value).split(",")
        if len(parts) == 2:
            longitude, latitude = parts
    elif isinstance(value, Mapping):
        latitude = value.get("lat", value.get("latitude"))
        longitude = value.get("lng", value.get("lon", value.get("longitude")))
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        longitude, latitude = value
    if latitude is None or longitude is None:
        return _rejected(field, value, "type.point")

    point: dict[str, Decimal] = {}
    problems: list[ValueProblem] = []
    for key, raw, limit, name_en, name_zh in (
        ("lat", latitude, 90, "latitude", "纬度"),
        ("lng", longitude, 180, "longitude", "经度"),
    ):
        number = _to_decimal(field, raw)
        if isinstance(number, ValueProblem):
            problems.append(number)
        elif not -limit <= number <= limit:
            key = "min.coordinate" if number < 0 else "max.coordinate"
            params = {"name_en": name_en, "name_zh": name_zh, "number": number, "limit": limit}
            problems.append(_problem(key, found=str(number), expected=f"-{limit}..{limit}", **params))
        else:
            point[key] = number
    return (value, problems) if problems else (point, [])


def _identifier(field: Field, value: Any) -> _Result:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return _rejected(field, value, "type.identifier")
    try:
        return check_identifier(field.type, value), []
    except IdentifierError as error:
        problem = ValueProblem(error.code, error.message_en, error.message_zh, found=_show(field, value))
        return value, [problem]


_CHECKERS: Mapping[str, Callable[[Field, Any], _Result]] = {
    "string": _text,
    "text": _text,
    "integer": _integer,
    "decimal": _decimal,
    "money": _decimal,
    "percent": _decimal,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "enum": _enum,
    "reference": _reference,
    "multi_reference": _multi_reference,
    "child": _child,
    "attachment": _attachment,
    "attachments": _attachments,
    "json": _json,
    "geo_point": _geo_point,
}
