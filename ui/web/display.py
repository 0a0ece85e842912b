"""Stored values formatted for reading: detail pages, read-only fields of forms, history and lookups."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import quote

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import NotFound, PermissionDenied
from runtime.records import RecordService
from ui.web import i18n


def format_value(field_spec: m.Field, value: Any, lang: str, timezone: str = "Asia/Shanghai") -> str:
    """Return a scalar value as text in the user's language; references, rows and files are shown by the templates."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, str) and field_spec.type not in ("enum", "date", "datetime"):
        # Masked values and plain text arrive as text and are shown as they are.
        return value
    kind = field_spec.type
    if kind == "money":
        return i18n.format_money(value, lang, places=m.decimal_places(field_spec))
    if kind == "percent":
        return i18n.format_percent(value, lang, places=_percent_places(field_spec, value))
    if kind == "decimal":
        return i18n.format_number(value, lang)
    if kind == "date":
        return i18n.format_date(value, lang)
    if kind == "datetime":
        return i18n.format_datetime(value, lang, timezone)
    if kind == "boolean":
        return i18n.pick(lang, "Yes", "是") if value else i18n.pick(lang, "No", "否")
    if kind == "enum":
        choice = next((item for item in field_spec.choices if item.value == value), None)
        return i18n.label(choice.label, lang) if choice is not None else str(value)
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    if kind == "geo_point" and isinstance(value, Mapping):
        return f"{value.get('lng')}, {value.get('lat')}"
    return str(value)


def _percent_places(field_spec: m.Field, value: Any) -> int:
    """Show as many decimals of the percentage as the value has, within what the field stores."""
    try:
        exponent = (Decimal(str(value)) * 100).normalize().as_tuple().exponent
    except ArithmeticError:
        return 2
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return min(needed, max(m.decimal_places(field_spec) - 2, 0))


def format_size(size: Any, lang: str) -> str:
    if not isinstance(size, int):
        return ""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return i18n.pick(lang, f"{size} bytes", f"{size} 字节")


def record_title(entity: m.Entity, record: Mapping[str, Any], lang: str) -> str:
    """Return the text that names a record: its title field, or its number."""
    if entity.title and entity.title in entity.fields:
        text = format_value(entity.fields[entity.title], record.get(entity.title), lang)
        if text:
            return text
    return f"#{record.get('id')}"


def record_url(entity: str, record_id: Any) -> str:
    return f"/records/{entity}/{record_id}"


def file_url(entity: str, record_id: Any, field_name: str, sha256: str) -> str:
    return f"/records/{entity}/{record_id}/files/{quote(field_name)}/{quote(sha256)}"


@dataclass(frozen=True)
class Reference:
    """A referenced record as a screen names it; `url` is None when the user may not open it."""

    id: str
    title: str
    url: str | None


@dataclass
class ReferenceTitles:
    """Titles of referenced records, read as the user may read them, each record once per request."""

    records: RecordService
    actor: Actor
    lang: str
    _seen: dict[tuple[str, str], Reference] = field(default_factory=dict)

    def get(self, entity_name: str, record_id: Any) -> Reference:
        key = (entity_name, str(record_id))
        if key not in self._seen:
            self._seen[key] = self._read(entity_name, str(record_id))
        return self._seen[key]

    def many(self, entity_name: str | None, ids: Any) -> list[Reference]:
        if entity_name is None:
            return []
        items = ids if isinstance(ids, list) else [ids]
        return [self.get(entity_name, item) for item in items if item not in (None, "")]

    def _read(self, entity_name: str, record_id: str) -> Reference:
        try:
            record = self.records.get(self.actor, entity_name, int(record_id))
        except (NotFound, PermissionDenied, ValueError):
            return Reference(record_id, f"#{record_id}", None)
        entity = self.records.model.entities[entity_name]
        return Reference(record_id, record_title(entity, record, self.lang), record_url(entity_name, record_id))


def local_time(moment: datetime.datetime | None, lang: str, timezone: str = "Asia/Shanghai") -> str:
    return i18n.format_datetime(moment, lang, timezone) if moment is not None else ""
