"""Widgets of the generated forms: which control edits each field, and the conversions around it.

Three shapes of a value meet here. The stored value is what the record service returns.
The input is the content of a control. It is text for most fields (money with thousands
separators, percentages as 70 for a stored 0.7), a flag for a checkbox, a list of ids for a
multi-reference, rows of inputs for a child table, and the stored descriptions of an
attachment field's files. The submitted value is what goes to the record service, which
normalizes and checks it: text as typed, except percentages and local times, converted here.

Every editable field of a form posts its name in `_fields`, so a form parses exactly the
fields it showed. Child rows post `<field>.<index>.<row field>`, and a stored row also posts
its id as `<field>.<index>._row`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from metamodel import model as m
from runtime.errors import FieldError
from runtime.form_submission import ROW_KEY

#: Hidden input each editable field posts its name in.
FIELDS_MARKER = "_fields"
#: Suffix of the hidden inputs that name the stored files an attachment field keeps.
KEEP_SUFFIX = ".keep"
DEFAULT_TIMEZONE = "Asia/Shanghai"

_CHILD_NAME = re.compile(r"^(?P<field>[a-z][a-z0-9_]*)\.(?P<index>\d+)\.(?P<name>_row|[a-z][a-z0-9_]*)$")
_INDEX = re.compile(r"\[(\d+)\]")

_KINDS_BY_TYPE = {
    "string": "text",
    "text": "textarea",
    "integer": "number",
    "decimal": "number",
    "money": "money",
    "percent": "percent",
    "boolean": "checkbox",
    "date": "date",
    "datetime": "datetime",
    "enum": "select",
    "reference": "reference",
    "multi_reference": "multi_reference",
    "child": "child",
    "attachment": "files",
    "attachments": "files",
    "json": "json",
    "geo_point": "text",
}


def widget_kind(field: m.Field, widget: str | None = None) -> str:
    """Return the control that edits a field: a type's own control, or the form's choice where it fits the type."""
    if field.type in m.IDENTIFIER_TYPES:
        return "identifier"
    kind = _KINDS_BY_TYPE.get(field.type, "text")
    if widget == "radio" and kind == "select":
        return "radio"
    if widget == "textarea" and kind == "text":
        return "textarea"
    return kind


def timezone_of(model: m.AppModel) -> ZoneInfo:
    return ZoneInfo(str(model.app.settings.get("timezone") or DEFAULT_TIMEZONE))


# Stored value -> input ------------------------------------------------------


def input_of(field: m.Field, value: Any, zone: ZoneInfo) -> Any:
    """Return what the field's control holds for a stored value."""
    if field.type == "boolean":
        return bool(value)
    if field.type == "multi_reference":
        return [str(item) for item in value or []]
    if field.type == "child":
        return [{ROW_KEY: str(row.get("id") or ""),
                 **{row_field.name: input_of(row_field, row.get(row_field.name), zone) for row_field in field.fields}}
                for row in value or [] if isinstance(row, Mapping)]
    if field.type in ("attachment", "attachments"):
        files = [value] if isinstance(value, Mapping) else list(value or [])
        return [dict(item) for item in files if isinstance(item, Mapping)]
    if value is None or value == "":
        return ""
    if field.type == "money" and isinstance(value, Decimal):
        return f"{value:,.{m.decimal_places(field)}f}"
    if field.type == "percent" and isinstance(value, Decimal):
        return _plain(value * 100)
    if field.type == "decimal" and isinstance(value, Decimal):
        return _plain(value)
    if field.type == "datetime" and isinstance(value, datetime.datetime):
        local = value.astimezone(zone) if value.tzinfo else value
        return local.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if field.type == "json":
        return json.dumps(value, ensure_ascii=False)
    if field.type == "geo_point" and isinstance(value, Mapping):
        return f"{value.get('lng')},{value.get('lat')}"
    return str(value)


def _plain(number: Decimal) -> str:
    """Write a number without exponent and without trailing zeros after the point."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# Posted form -> inputs ------------------------------------------------------


def posted_fields(form: FormData) -> list[str]:
    """Return the names of the fields a submitted form showed as editable, in order, once each."""
    return list(dict.fromkeys(str(name) for name in form.getlist(FIELDS_MARKER) if isinstance(name, str) and name))


def parse_input(field: m.Field, form: FormData, stored: Any = None) -> Any:
    """Return a field's input from a submitted form; `stored` is the record's value, for the files it keeps."""
    name = field.name
    if field.type == "boolean":
        return any(value == "true" for value in form.getlist(name))
    if field.type == "multi_reference":
        return [value.strip() for value in form.getlist(name) if isinstance(value, str) and value.strip()]
    if field.type == "child":
        return _child_rows(field, form)
    if field.type in ("attachment", "attachments"):
        kept = {value for value in form.getlist(name + KEEP_SUFFIX) if isinstance(value, str) and value}
        files = [stored] if isinstance(stored, Mapping) else list(stored or [])
        return [dict(item) for item in files if isinstance(item, Mapping) and item.get("sha256") in kept]
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _child_rows(field: m.Field, form: FormData) -> list[dict[str, Any]]:
    """Collect a child table's rows from `<field>.<index>.<row field>` names, ordered by index."""
    row_fields = {row_field.name: row_field for row_field in field.fields}
    rows: dict[int, dict[str, Any]] = {}
    for key in form.keys():
        match = _CHILD_NAME.match(key)
        if match is None or match["field"] != field.name or (match["name"] not in row_fields and match["name"] != ROW_KEY):
            continue
        row = rows.setdefault(int(match["index"]), {})
        values = form.getlist(key)
        if match["name"] == ROW_KEY:
            row[ROW_KEY] = str(values[-1]) if values else ""
            continue
        row_field = row_fields[match["name"]]
        if row_field.type == "boolean":
            row[row_field.name] = any(value == "true" for value in values)
        else:
            last = values[-1] if values else ""
            row[row_field.name] = last if isinstance(last, str) else ""
    return [{ROW_KEY: row.get(ROW_KEY, ""),
             **{name: row.get(name, False if row_fields[name].type == "boolean" else "") for name in row_fields}}
            for _, row in sorted(rows.items())]


# Input -> submitted value ---------------------------------------------------


def submitted_value(field: m.Field, value: Any, zone: ZoneInfo) -> Any:
    """Convert an input to the value the record service checks; text it cannot convert is passed on as typed."""
    if field.type == "boolean":
        return bool(value)
    if field.type == "multi_reference":
        return list(value) or None
    if field.type == "child":
        rows = []
        for row in value or []:
            cells = {row_field.name: submitted_value(row_field, row.get(row_field.name), zone) for row_field in field.fields}
            if any(item not in (None, False) for item in cells.values()):
                rows.append({ROW_KEY: row[ROW_KEY], **cells} if row.get(ROW_KEY) else cells)
        return rows
    if field.type == "attachment":
        return value[0] if value else None
    if field.type == "attachments":
        return list(value or [])
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if field.type == "percent":
        return _fraction(text)
    if field.type == "datetime":
        return _local_time(text, zone)
    return text


def _fraction(text: str) -> Any:
    """Convert a percentage typed as 70, 70% or 1,070.5 to the fraction a percent field stores."""
    cleaned = unicodedata.normalize("NFKC", text).strip().removesuffix("%").replace(",", "").strip()
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    return number / 100


def _local_time(text: str, zone: ZoneInfo) -> Any:
    try:
        moment = datetime.datetime.fromisoformat(unicodedata.normalize("NFKC", text))
    except ValueError:
        return text
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


# Errors ---------------------------------------------------------------------


def form_path(path: str) -> str:
    """Return the input name of an error path: `contacts[0].phone` becomes `contacts.0.phone`."""
    return _INDEX.sub(r".\1", path)


def field_of_path(entity: m.Entity, path: str) -> m.Field | None:
    """Return the field an input name or error path points at, a child table's row field included."""
    parts = form_path(path).split(".")
    field = entity.fields.get(parts[0])
    if field is not None and field.type == "child" and len(parts) == 3:
        return next((row_field for row_field in field.fields if row_field.name == parts[2]), None)
    return field if len(parts) == 1 else None


def shown_error(field: m.Field | None, error: FieldError) -> FieldError:
    """Restate the limits of a percent field as percentages, the way its control shows them."""
    if field is None or field.type != "percent" or error.code not in ("min", "max", "places"):
        return error
    if error.code == "min" and field.min is not None:
        limit = _plain(field.min * 100)
        return dataclasses.replace(error, message_en=f"Enter at least {limit}%.", message_zh=f"请填写不小于 {limit}% 的数值。")
    if error.code == "max" and field.max is not None:
        limit = _plain(field.max * 100)
        return dataclasses.replace(error, message_en=f"Enter at most {limit}%.", message_zh=f"请填写不大于 {limit}% 的数值。")
    places = max(m.decimal_places(field) - 2, 0)
    return dataclasses.replace(
        error,
        message_en=f"The percentage has too many decimal places; at most {places} are allowed.",
        message_zh=f"百分比的小数位数过多；最多允许 {places} 位。",
    )
