"""The columns of an entity's list and the text of each cell, on screen and in CSV.

A column comes from the entity's `list.columns`: a field, a system column such as `state`,
or a path through references such as `customer.name`. A reference shows the referenced
record's title. Referenced records are read through the record service as the acting user,
one query per referenced entity and hop for a whole page, so their own scope and masks apply.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import NotFound, PermissionDenied
from runtime.record_query import MAX_LIMIT, Condition, ListQuery
from runtime.records import RecordService
from ui.web import i18n

#: Labels and value types of the system columns a list may show.
SYSTEM_COLUMNS: dict[str, tuple[m.Label, str]] = {
    "id": (m.Label("编号", "ID"), "integer"),
    "state": (m.Label("状态", "State"), "state"),
    "created_at": (m.Label("创建时间", "Created at"), "datetime"),
    "updated_at": (m.Label("更新时间", "Updated at"), "datetime"),
    "created_by": (m.Label("创建人", "Created by"), "string"),
    "updated_by": (m.Label("更新人", "Updated by"), "string"),
    "org_unit": (m.Label("所属机构", "Org unit"), "org_unit"),
}
#: Field types a list cannot show in a cell: they are stored outside the row or are structured.
UNLISTED_TYPES = frozenset({"child", "multi_reference", "json", "geo_point"})
#: Columns shown when the entity declares none: its title and up to this many more.
FALLBACK_COLUMNS = 5
#: Maximum number of references a column follows, title references included.
MAX_HOPS = 4


@dataclass(frozen=True)
class Column:
    #: The column as the YAML names it, such as "price" or "customer.name".
    key: str
    label: m.Label
    #: (reference field, target entity) pairs followed from the listed record.
    hops: tuple[tuple[str, str], ...]
    #: Field or system column shown from the last record reached; None shows the reference's id.
    leaf: str | None
    #: The leaf's field; None for a system column.
    field: m.Field | None
    #: The leaf's value type: a field type, or "state" or "org_unit".
    kind: str
    sortable: bool

    @property
    def numeric(self) -> bool:
        return self.kind in m.NUMERIC_TYPES


@dataclass(frozen=True)
class Formats:
    """Settings of cell formatting besides the value: language, labels of states and org units, currency, time zone."""

    lang: str
    state_labels: Mapping[str, m.Label]
    unit_labels: Mapping[str, m.Label]
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"

    @classmethod
    def of(cls, model: m.AppModel, entity: str, lang: str) -> Formats:
        states = {name: state.label for name, state in model.states_for(entity).items()}
        units = {name: unit.label for name, unit in model.permissions.org_units.items()}
        settings = model.app.settings
        return cls(lang, states, units, str(settings.get("currency", "CNY")), str(settings.get("timezone", "Asia/Shanghai")))


def list_columns(records: RecordService, actor: Actor, entity: m.Entity) -> list[Column]:
    """Return the columns of the entity's list the actor may see, in the declared order."""
    return visible_columns(records, actor, entity, list(entity.list.columns) or fallback_columns(records.model, entity))


def visible_columns(records: RecordService, actor: Actor, entity: m.Entity, keys: Iterable[str]) -> list[Column]:
    """Return the columns of these keys that a list can show and the actor may see, in the order given."""
    model = records.model
    columns = []
    for key in keys:
        column = column_for(model, entity, key)
        if column is not None and _visible(records, actor, entity, column):
            columns.append(column)
    return columns


def fallback_columns(model: m.AppModel, entity: m.Entity) -> list[str]:
    """Return the title field and the first few other listable fields, plus the state where a flow is bound."""
    names = [entity.title] if entity.title else []
    for name, field in entity.fields.items():
        if len(names) >= FALLBACK_COLUMNS:
            break
        if name not in names and field.type not in UNLISTED_TYPES | {"text", "attachment", "attachments"}:
            names.append(name)
    if model.flows_for(entity.name):
        names.append("state")
    return names


def column_for(model: m.AppModel, entity: m.Entity, key: str) -> Column | None:
    """Return the column for a key of `list.columns`, or None if the key names nothing a list can show."""
    parts = key.split(".")
    if len(parts) == 1 and key in SYSTEM_COLUMNS and key not in entity.fields:
        label, kind = SYSTEM_COLUMNS[key]
        if key == "state" and not model.flows_for(entity.name):
            return None
        return Column(key, label, (), key, None, kind, sortable=key != "id")

    hops: list[tuple[str, str]] = []
    current = entity
    named: list[m.Field] = []
    for name in parts:
        field = current.fields.get(name)
        if field is None or field.type in UNLISTED_TYPES:
            return None
        named.append(field)
        if len(named) < len(parts):
            if field.type != "reference" or field.entity is None or field.entity not in model.entities:
                return None
            hops.append((name, field.entity))
            current = model.entities[field.entity]

    # A reference shows its target's title, which may itself be a reference.
    leaf: m.Field | None = named[-1]
    while leaf is not None and leaf.type == "reference" and leaf.entity is not None and leaf.entity in model.entities:
        if len(hops) >= MAX_HOPS:
            return None
        hops.append((leaf.name, leaf.entity))
        current = model.entities[leaf.entity]
        leaf = current.fields.get(current.title) if current.title else None

    # "customer.name" is labelled by the reference ("Customer") when it shows the title, else by both.
    owner = named[-2] if len(named) > 1 else named[-1]
    if len(named) == 1 or leaf is None or leaf.name == current.title:
        label = owner.label
    else:
        label = m.Label(f"{owner.label.zh_cn}·{leaf.label.zh_cn}", f"{owner.label.en}: {leaf.label.en}")
    if leaf is None:
        return Column(key, label, tuple(hops), None, None, "integer", sortable=False)
    sortable = not hops and not leaf.encrypted and leaf.type not in ("attachment", "attachments")
    return Column(key, label, tuple(hops), leaf.name, leaf, leaf.type, sortable)


def _visible(records: RecordService, actor: Actor, entity: m.Entity, column: Column) -> bool:
    """Tell whether the actor may see every field of a column and read every entity it passes through."""
    owner = entity.name
    for name, target in column.hops:
        if name in records.access.fields(actor, owner).hidden or not records.access.allows(actor, "read", target):
            return False
        owner = target
    return column.leaf is None or column.leaf not in records.access.fields(actor, owner).hidden


def shown_fields(columns: Iterable[Column]) -> tuple[str, ...]:
    """Return the fields of the listed record that the columns read: shown fields and the references they follow."""
    names: dict[str, None] = {}
    for column in columns:
        if column.hops:
            names[column.hops[0][0]] = None
        elif column.field is not None and column.leaf is not None:
            names[column.leaf] = None
    return tuple(names)


def _fields_by_target(columns: Iterable[Column]) -> dict[str, set[str]]:
    """Return, for each entity the columns reach, the fields read from its records."""
    by_target: dict[str, set[str]] = {}
    for column in columns:
        for index, (_, target) in enumerate(column.hops):
            following = column.hops[index + 1][0] if index + 1 < len(column.hops) else column.leaf
            names = by_target.setdefault(target, set())
            if following is not None:
                names.add(following)
    return by_target


class References:
    """Referenced records of a page, read in one query per entity and hop, as the actor may see them."""

    def __init__(self, records: RecordService, actor: Actor) -> None:
        self.records = records
        self.actor = actor
        self.loaded: dict[str, dict[int, dict[str, Any]]] = {}
        #: Fields read so far from each entity's records; None when every field was read.
        self.fields: dict[str, frozenset[str] | None] = {}

    def load(self, entity: str, ids: Iterable[int], fields: Iterable[str] | None = None) -> None:
        """Read the records with these ids, with at least `fields` (every field when None) besides the system columns."""
        known = self.loaded.setdefault(entity, {})
        requested = None if fields is None else frozenset(fields)
        previous = self.fields.get(entity, frozenset())
        to_read = set(ids)
        if previous is None or (requested is not None and requested <= previous):
            reading = previous
            to_read -= known.keys()
        else:
            # Records read before with fewer fields are read again, so every record has the same fields.
            reading = None if requested is None else previous | requested
            to_read |= known.keys()
        self.fields[entity] = reading
        missing = sorted(to_read)
        fields_read = None if reading is None else tuple(sorted(reading))
        for start in range(0, len(missing), MAX_LIMIT):
            chunk = missing[start:start + MAX_LIMIT]
            query = ListQuery(where=Condition("id", "in", chunk), limit=len(chunk), fields=fields_read)
            try:
                page = self.records.list(self.actor, entity, query)
            except (PermissionDenied, NotFound):
                return
            known.update({int(record["id"]): record for record in page.rows})

    def get(self, entity: str, record_id: int) -> dict[str, Any] | None:
        return self.loaded.get(entity, {}).get(record_id)

    def resolve(self, rows: list[dict[str, Any]], columns: list[Column]) -> None:
        """Load every record the columns reach from the rows, hop by hop."""
        reached: dict[str, list[dict[str, Any]]] = {column.key: rows for column in columns if column.hops}
        fields = _fields_by_target(columns)
        depth = 0
        while reached:
            needed: dict[str, set[int]] = {}
            for column in columns:
                if column.key not in reached:
                    continue
                name, target = column.hops[depth]
                needed.setdefault(target, set()).update(_ids(record.get(name) for record in reached[column.key]))
            for target, ids in needed.items():
                self.load(target, ids, fields[target])
            following: dict[str, list[dict[str, Any]]] = {}
            for column in columns:
                if column.key not in reached or depth + 1 >= len(column.hops):
                    continue
                name, target = column.hops[depth]
                found = (self.get(target, record_id) for record_id in _ids(record.get(name) for record in reached[column.key]))
                following[column.key] = [record for record in found if record is not None]
            reached = following
            depth += 1

    def value(self, row: Mapping[str, Any], column: Column) -> tuple[Any, bool]:
        """Return the column's value for a row, and whether it could be read (False for an unreadable reference)."""
        record: Mapping[str, Any] | None = row
        for name, target in column.hops:
            reference = record.get(name) if record is not None else None
            if reference is None:
                return None, True
            record = self.get(target, int(reference)) if isinstance(reference, int) else None
            if record is None:
                return f"#{reference}", False
        if column.leaf is None:
            return (f"#{record.get('id')}" if record is not None else None), True
        return (record.get(column.leaf) if record is not None else None), True


def _ids(values: Iterable[Any]) -> set[int]:
    return {value for value in values if isinstance(value, int) and not isinstance(value, bool)}


def cell_text(column: Column, value: Any, formats: Formats, *, plain: bool = False) -> str:
    """Return a cell's text in the user's language; `plain` gives numbers and dates that spreadsheets read as such."""
    if value is None or value == "":
        return ""
    lang = formats.lang
    kind = column.kind
    if isinstance(value, str) and kind in ("integer", "decimal", "money", "percent", "boolean", "date", "datetime"):
        return value  # a masked value, or a reference that could not be read

    if kind == "boolean":
        return i18n.pick(lang, "Yes", "是") if value else i18n.pick(lang, "No", "否")
    if kind == "enum" and column.field is not None:
        for choice in column.field.choices:
            if choice.value == value:
                return i18n.label(choice.label, lang)
        return str(value)
    if kind == "state":
        label = formats.state_labels.get(str(value))
        return i18n.label(label, lang) if label is not None else str(value)
    if kind == "org_unit":
        unit = formats.unit_labels.get(str(value))
        return i18n.label(unit, lang) if unit is not None else str(value)

    if kind in ("attachment", "attachments"):
        files = value if isinstance(value, list) else [value]
        return ", ".join(str(item.get("name", "")) if isinstance(item, dict) else str(item) for item in files)

    if kind in ("money", "decimal", "integer", "percent"):
        return _number_text(column, value, formats, plain)
    if kind == "date":
        return value.isoformat() if plain and isinstance(value, datetime.date) else i18n.format_date(value, lang)
    if kind == "datetime":
        if plain and isinstance(value, datetime.datetime):
            return _local(value, formats.timezone).strftime("%Y-%m-%d %H:%M:%S")
        return i18n.format_datetime(value, lang, formats.timezone)
    return str(value)


def _number_text(column: Column, value: Any, formats: Formats, plain: bool) -> str:
    field = column.field
    places = m.decimal_places(field) if field is not None and column.kind != "integer" else 0
    if column.kind == "percent":
        shown = percent_places(Decimal(str(value)), places)
        return f"{Decimal(str(value)) * 100:.{shown}f}%" if plain else i18n.format_percent(value, formats.lang, shown)
    if plain:
        return str(value)
    if column.kind == "money":
        return i18n.format_money(value, formats.lang, formats.currency, places)
    return i18n.format_number(value, formats.lang, None if column.kind == "decimal" else 0)


def percent_places(value: Decimal, stored_places: int) -> int:
    """Show a percentage with two decimals, or more where the stored fraction has them (0.04355 is 4.355%)."""
    exponent = (value * 100).normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return max(2, min(needed, max(stored_places - 2, 0)))


def _local(moment: datetime.datetime, zone: str) -> datetime.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:
        return moment.astimezone(zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return moment
