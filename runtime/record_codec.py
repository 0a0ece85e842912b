"""Convert between checked field values and the columns that store them, for one entity.

Encoding encrypts fields marked `encrypted` (with the keyed hash beside them) and
fills the search column with the searchable text and its pinyin, so that staff typing
"zs" or "zhangsan" find 张三. Decoding decrypts, then masks what the actor may only see
masked; hidden fields are never selected at all.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping

from pypinyin import Style, lazy_pinyin
from sqlalchemy import Column, Table

from metamodel import model as m
from metamodel.identifiers import mask
from metamodel.values import check_value
from runtime.access import FieldAccess
from runtime.audit import json_value
from runtime.crypto import KeyRing, blind_index, decrypt, encrypt
from runtime.schema import HASH_SUFFIX

#: Fields every record carries besides the entity's own.
RECORD_SYSTEM_FIELDS = ("id", "version", "created_at", "created_by", "updated_at", "updated_by", "org_unit", "deleted_at")
FLOW_SYSTEM_FIELDS = ("state", "flow", "flow_version")

MASK = "****"


def _storage_text(value: Any) -> str:
    """Return the text that is encrypted or hashed for a value."""
    if isinstance(value, str):
        return value
    converted = json_value(value)
    return converted if isinstance(converted, str) else str(converted)


class RecordCodec:
    """Encodes and decodes the stored columns of one entity's main table."""

    def __init__(self, entity: m.Entity, table: Table, keys: KeyRing | None) -> None:
        self.entity = entity
        self.table = table
        self.keys = keys
        self.stored_fields = [
            field for field in entity.fields.values() if field.type not in ("child", "multi_reference")
        ]
        self.searchable = [field for field in entity.fields.values() if field.searchable and not field.encrypted]
        self.has_flow = "state" in table.c

    def context(self, field: m.Field) -> str:
        return f"{self.table.name}.{field.name}"

    def _ring(self) -> KeyRing:
        if self.keys is None:
            raise RuntimeError(f"{self.entity.name} has encrypted fields but the record service was given no key ring")
        return self.keys

    def hash_of(self, field: m.Field, value: Any) -> str:
        """Return the keyed hash that an encrypted field's value is searched and constrained by."""
        return blind_index(self._ring(), _storage_text(value), context=self.context(field))

    def encode(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return the column values for the given (already checked) field values."""
        columns: dict[str, Any] = {}
        for name, value in values.items():
            field = self.entity.fields.get(name)
            if field is None or field.type in ("child", "multi_reference"):
                continue
            if field.encrypted:
                if value is None:
                    columns[name] = None
                    columns[name + HASH_SUFFIX] = None
                else:
                    text = _storage_text(value)
                    columns[name] = encrypt(self._ring(), text, context=self.context(field))
                    columns[name + HASH_SUFFIX] = self.hash_of(field, value)
            elif field.type in ("json", "geo_point", "attachment", "attachments"):
                columns[name] = json_value(value)
            elif isinstance(value, datetime.datetime) and value.tzinfo is not None:
                # Times are stored in UTC: SQLite's column keeps the wall-clock time and drops the zone.
                columns[name] = value.astimezone(datetime.timezone.utc)
            else:
                columns[name] = value
        return columns

    def search_text(self, record: Mapping[str, Any]) -> str | None:
        """Build the search column: each searchable value with its full pinyin and pinyin initials."""
        if not self.searchable:
            return None
        parts: list[str] = []
        for field in self.searchable:
            value = record.get(field.name)
            if value is None or value == "":
                continue
            text = str(value)
            parts.append(text.lower())
            if any("\u4e00" <= character <= "\u9fff" for character in text):
                parts.append("".join(lazy_pinyin(text)).lower())
                parts.append("".join(lazy_pinyin(text, style=Style.FIRST_LETTER)).lower())
        return " ".join(parts)

    def columns_for(self, access: FieldAccess) -> list[Column[Any]]:
        """Return the columns an actor may read: system columns and every field not hidden from them."""
        names = list(RECORD_SYSTEM_FIELDS)
        if self.has_flow:
            names.extend(FLOW_SYSTEM_FIELDS)
        names.extend(field.name for field in self.stored_fields if field.name not in access.hidden)
        return [self.table.c[name] for name in names]

    def decode(self, row: Mapping[Any, Any], access: FieldAccess) -> dict[str, Any]:
        """Turn a selected row into a record, decrypting and masking as the actor's field access requires."""
        record: dict[str, Any] = {}
        for name in RECORD_SYSTEM_FIELDS + (FLOW_SYSTEM_FIELDS if self.has_flow else ()):
            if name in row:
                record[name] = _aware(row[name])
        for field in self.stored_fields:
            if field.name not in row:
                continue
            value = row[field.name]
            if value is not None and field.encrypted:
                value = check_value(field, decrypt(self._ring(), value, context=self.context(field)))[0]
            if value is not None and field.type in ("money", "decimal", "percent") and not isinstance(value, Decimal):
                value = Decimal(str(value))
            if value is not None and self.is_masked(field, access):
                value = mask_value(field, value)
            record[field.name] = _aware(value)
        return record

    def is_masked(self, field: m.Field, access: FieldAccess) -> bool:
        if field.name in access.masked:
            return True
        return field.masked and field.name not in access.unmasked and not access.reveal_masked


def mask_value(field: m.Field, value: Any) -> str:
    """Mask a value for display: identifiers by their own rules, other text keeping its ends."""
    text = _storage_text(value)
    if field.type in m.IDENTIFIER_TYPES or len(text) > 4:
        return mask(field.type, text)
    return MASK


def _aware(value: Any) -> Any:
    """SQLite returns stored times without their zone; they are stored in UTC."""
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any], names: Iterable[str]) -> dict[str, list[Any]]:
    """Return {field: [old, new]} for the fields whose value differs."""
    changes: dict[str, list[Any]] = {}
    for name in names:
        old, new = before.get(name), after.get(name)
        if old != new:
            changes[name] = [old, new]
    return changes
