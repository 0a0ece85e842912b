"""Records as print templates see them: fields by name, referenced records by dotted names.

A `RecordView` wraps a record that the record service returned for the acting user, so
masked fields are already masked and hidden fields are absent. Referenced records are read
on first use through the same service and user. A reference the user may not read, or one
left empty, becomes an empty view whose fields are all empty, so a template prints nothing
there instead of failing or leaking. A name that is no field of the entity raises
UnknownField, so a misspelt name in a template is reported rather than printed as blank.
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal
from typing import Any, Iterator, Mapping

from metamodel import model as m
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.errors import NotFound, PermissionDenied
from runtime.printing_formats import format_amount, format_date, format_percent
from runtime.record_reads import RecordReads

logger = logging.getLogger(__name__)


class UnknownField(Exception):
    """Raised when a template names a field its entity does not have."""

    def __init__(self, entity: str, name: str, known: list[str]) -> None:
        self.entity = entity
        self.name = name
        self.message_en = f"{entity} has no field {name}; its fields are {', '.join(known)}"
        self.message_zh = f"{entity} 没有字段 {name}；可用字段：{'、'.join(known)}"
        super().__init__(self.message_en)


class ChoiceText(str):
    """The stored value of an enum field, which compares as the value and prints as its label."""

    label: str

    def __new__(cls, value: str, label: str) -> ChoiceText:
        text = super().__new__(cls, value)
        text.label = label
        return text


def revealed_fields(model: m.AppModel, template: m.Template) -> dict[str, frozenset[str]]:
    """Return the fields a template shows in full, by entity: `customer.id_number` reveals customer's id_number."""
    found: dict[str, set[str]] = {}
    for path in template.reveal:
        entity = model.entities.get(template.entity)
        *hops, name = path.split(".")
        for hop in hops:
            field = entity.fields.get(hop) if entity is not None else None
            entity = model.entities.get(field.entity) if field is not None and field.entity is not None else None
        if entity is not None:
            found.setdefault(entity.name, set()).add(name)
    return {entity: frozenset(names) for entity, names in found.items()}


class References:
    """Reads referenced records for views as one actor, each record once.

    `reveal` names, by entity, masked fields to show in full. A record is read as the actor
    first, so the read permission, the data scope and hidden fields apply; only then are the
    named fields that the actor sees masked replaced by the stored values.
    """

    def __init__(self, records: RecordReads, actor: Actor, lang: str = "zh-CN",
                 reveal: Mapping[str, frozenset[str]] | None = None) -> None:
        self.records = records
        self.actor = actor
        self.lang = lang
        self.reveal = dict(reveal or {})
        self._cache: dict[tuple[str, int], dict[str, Any] | None] = {}

    def revealed(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """Return the record with the fields `reveal` names for its entity in full, where the actor sees them at all."""
        names = [name for name in self.reveal.get(entity, ()) if name in record]
        if not names:
            return record
        stored = self.records.system_view().get(SYSTEM_ACTOR, entity, int(record["id"]))
        return {**record, **{name: stored.get(name) for name in names}}

    def read(self, entity: str, record_id: int) -> dict[str, Any] | None:
        """Return the record as the actor may see it, or None if the actor may not read it or it is gone."""
        key = (entity, record_id)
        if key not in self._cache:
            try:
                self._cache[key] = self.revealed(entity, self.records.get(self.actor, entity, record_id))
            except (NotFound, PermissionDenied):
                logger.info("print for %s: %s %s is not readable and prints empty", self.actor.id, entity, record_id)
                self._cache[key] = None
        return self._cache[key]

    def view(self, entity_name: str, record_id: Any) -> RecordView:
        entity = self.records.model.entities[entity_name]
        record = self.read(entity_name, int(record_id)) if record_id is not None else None
        return RecordView(self, entity, record)


def child_entity(field: m.Field) -> m.Entity:
    """Return the rows of a child table field as an entity of their own, as the record service decodes them."""
    return m.Entity(field.name, field.label, field.source, m.frozen_mapping({item.name: item for item in field.fields}))


class RecordView:
    """One record for a template: `view.name` or `view["name"]` gives a field's value.

    Reference fields give the referenced record's view, child tables a list of row views,
    multi-references a list of views and enum fields a ChoiceText. Printed as text, a view
    gives the value of its entity's title field. It has no public attributes of its own,
    so that no field name is shadowed.
    """

    __slots__ = ("_references", "_entity", "_record")

    def __init__(self, references: References, entity: m.Entity, record: Mapping[str, Any] | None) -> None:
        self._references = references
        self._entity = entity
        self._record = record

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Any:
        field = self._entity.fields.get(name)
        if field is None:
            if name in m.SYSTEM_FIELDS:
                return None if self._record is None else self._record.get(name)
            raise UnknownField(self._entity.name, name, sorted(self._entity.fields))
        raw = None if self._record is None else self._record.get(name)
        references = self._references
        if field.type == "reference" and field.entity is not None:
            # An empty or unreadable reference is an empty view, so that dotted names after it print nothing.
            return references.view(field.entity, raw)
        if field.type == "multi_reference" and field.entity is not None:
            return [references.view(field.entity, item) for item in raw or ()]
        if field.type == "child":
            rows = child_entity(field)
            return [RecordView(references, rows, row) for row in raw or ()]
        if field.type == "enum" and isinstance(raw, str):
            choice = next((item for item in field.choices if item.value == raw), None)
            return ChoiceText(raw, choice.label.get(references.lang) if choice else raw)
        return raw

    def __bool__(self) -> bool:
        return self._record is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entity.fields)

    def __str__(self) -> str:
        if self._record is None:
            return ""
        title = self._entity.title
        value = self._record.get(title) if title else None
        return str(value if value is not None else self._record.get("id", ""))

    def __repr__(self) -> str:
        return f"<RecordView {self._entity.name} {None if self._record is None else self._record.get('id')}>"


def resolve_path(view: RecordView, path: str) -> tuple[Any, m.Field | None]:
    """Follow a dotted field path such as product.bank.name; return its value and its field."""
    current: Any = view
    field: m.Field | None = None
    for name in path.split("."):
        if not isinstance(current, RecordView):
            return None, field
        field = current._entity.fields.get(name)
        current = current[name]
    return current, field


def field_text(value: Any, field: m.Field | None, lang: str = "zh-CN") -> str:
    """Write a field's value as printed forms show it: amounts with separators, dates in Chinese, labels for choices."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, ChoiceText):
        return value.label
    if isinstance(value, bool):
        yes, no = ("Yes", "No") if lang == "en" else ("是", "否")
        return yes if value else no
    if isinstance(value, (datetime.date, datetime.datetime)):
        return format_date(value)
    if isinstance(value, Decimal) and field is not None:
        if field.type == "money":
            return format_amount(value)
        if field.type == "percent":
            return format_percent(value)
    if isinstance(value, list):
        return "、".join(field_text(item, field, lang) for item in value)
    return str(value)
