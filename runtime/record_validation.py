"""Check a create or update against every rule of its entity before anything is written.

The checks run in this order:
- unknown, hidden and read-only input, and files the record does not have;
- each value against its field (values.py, which also normalizes what Chinese users type);
- required fields on the merged record;
- references to records that exist and are not deleted;
- computed fields, then the entity's cross-field rules;
- unique values among live records.
All problems are collected and reported together.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from sqlalchemy import Connection, Table, bindparam, func, select

from metamodel import model as m
from metamodel.values import check_value
from runtime.access import Actor, FieldAccess
from runtime.errors import FieldError
from runtime.record_codec import RecordCodec
from runtime.schema import HASH_SUFFIX, EntityTables

logger = logging.getLogger(__name__)


@dataclass
class Checked:
    """The outcome of a check: values ready to store, or the errors that prevent it."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[FieldError]] = field(default_factory=dict)

    def add(self, path: str, code: str, en: str, zh: str) -> None:
        self.errors.setdefault(path, []).append(FieldError(code, en, zh))


class ReferenceView:
    """A referenced record as expressions read it, loaded from the database on first attribute access."""

    def __init__(self, loader: Any, entity: str, record_id: int) -> None:
        self._loader = loader
        self._entity = entity
        self._id = record_id
        self._values: Mapping[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._values is None:
            self._values = self._loader(self._entity, self._id) or {}
        return self._values.get(name)

    def __eq__(self, other: object) -> bool:
        """Compare by the record referenced, so `co_owner != owner` holds for two different records only."""
        if isinstance(other, ReferenceView):
            return (self._entity, self._id) == (other._entity, other._id)
        if isinstance(other, int) and not isinstance(other, bool):
            return self._id == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._entity, self._id))


class RecordValidator:
    def __init__(self, model: m.AppModel, entity: m.Entity, tables: EntityTables, codec: RecordCodec,
                 all_tables: Mapping[str, EntityTables], loader: Any) -> None:
        self.model = model
        self.entity = entity
        self.tables = tables
        self.codec = codec
        self.all_tables = all_tables
        self.loader = loader
        #: Ids known to be live records, by table, within the transaction this validator serves.
        self._live: dict[str, set[int]] = {}

    def check(
        self,
        connection: Connection,
        actor: Actor,
        access: FieldAccess,
        changes: Mapping[str, Any],
        current: Mapping[str, Any] | None,
        today: datetime.date,
        trusted: frozenset[str] = frozenset(),
    ) -> Checked:
        """Check input for a new record (current is None) or for changes to `current`.

        `trusted` names fields whose values the runtime itself produced, such as the
        description of a file it has just stored.
        """
        result = Checked()
        self._check_input_keys(result, changes, access)
        self._check_files(result, changes, current, access, trusted)

        merged: dict[str, Any] = dict(current or {})
        for name, field_spec in self.entity.fields.items():
            if field_spec.computed is not None or name not in changes or name in result.errors:
                continue
            value, problems = check_value(field_spec, changes[name])
            for problem in problems:
                result.add(name + problem.path, problem.code, problem.message_en, problem.message_zh)
            merged[name] = value
            result.values[name] = value

        if current is None:
            self._apply_defaults(result, merged, changes)
        self._check_required(result, merged)
        self._check_references(connection, result, merged, changes)
        if result.errors:
            # The rules that read only valid fields are still checked, so every error shows at once.
            invalid = {re.split(r"[.\[]", path, maxsplit=1)[0] for path in result.errors}
            computed = {name for name, spec in self.entity.fields.items() if spec.computed is not None or spec.computed_by}
            self._check_rules(result, merged, actor, today, skipping=invalid | computed)
            return result

        self._compute(result, merged, actor, today)
        self._check_rules(result, merged, actor, today)
        self._check_unique(connection, result, merged, current)
        return result

    def _check_input_keys(self, result: Checked, changes: Mapping[str, Any], access: FieldAccess) -> None:
        for name in changes:
            field_spec = self.entity.fields.get(name)
            if field_spec is None or name in access.hidden:
                result.add(name, "unknown_field", f"{self.entity.name} has no field {name!r}; remove it",
                           f"{self.entity.name} 没有字段 {name!r}；请删除")
            elif field_spec.computed is not None:
                result.add(name, "computed", "this field is computed and cannot be set", "该字段由系统计算，不能填写")
            elif (field_spec.read_only and not access.writes_read_only) or name in access.read_only:
                result.add(name, "read_only", "this field is read-only", "该字段为只读")

    def _check_files(
        self, result: Checked, changes: Mapping[str, Any], current: Mapping[str, Any] | None,
        access: FieldAccess, trusted: frozenset[str],
    ) -> None:
        """Let input keep, reorder or drop a record's files, but never name a file the record does not have."""
        for name, value in changes.items():
            field_spec = self.entity.fields.get(name)
            if field_spec is None or field_spec.type not in ("attachment", "attachments"):
                continue
            if name in trusted or access.writes_read_only:
                continue
            stored = {item.get("sha256") for item in _files_of(current.get(name) if current else None)}
            requested = {item.get("sha256") if isinstance(item, Mapping) else item for item in _files_of(value)}
            if not requested <= stored:
                result.add(name, "attachment", "files are added by uploading them to the record; other input may only keep or remove its files",
                           "文件需通过上传添加到记录；其他输入只能保留或删除记录已有的文件")

    def _apply_defaults(self, result: Checked, merged: dict[str, Any], changes: Mapping[str, Any]) -> None:
        for name, field_spec in self.entity.fields.items():
            if name in changes or field_spec.default is None or field_spec.computed is not None:
                continue
            value, problems = check_value(field_spec, field_spec.default)
            if not problems:
                merged[name] = value
                result.values[name] = value

    def _check_required(self, result: Checked, merged: Mapping[str, Any]) -> None:
        for name, field_spec in self.entity.fields.items():
            if not field_spec.required or field_spec.computed is not None or name in result.errors:
                continue
            value = merged.get(name)
            if value is None or value == "" or value == [] or value == ():
                result.add(name, "required", "this field is required; enter a value", "此项为必填项，请填写")

    def _check_references(
        self, connection: Connection, result: Checked, merged: dict[str, Any], changes: Mapping[str, Any]
    ) -> None:
        """Check that referenced records exist and are live; store references as integer ids."""
        for name, field_spec in self.entity.fields.items():
            if field_spec.type not in m.REFERENCE_TYPES or name not in changes or name in result.errors:
                continue
            value = merged.get(name)
            if value is None or value == [] or field_spec.entity is None:
                continue
            keys = value if isinstance(value, list) else [value]
            try:
                ids = [int(key) for key in keys]
            except (TypeError, ValueError):
                result.add(name, "type", "enter the id of a record", "请填写记录编号")
                continue
            target = self.all_tables[field_spec.entity].table
            known = self._live.setdefault(target.name, set())
            unknown = [item for item in ids if item not in known]
            if len(unknown) == 1:
                known.update(connection.scalars(_live_id(target), {"id": unknown[0]}))
            elif unknown:
                known.update(connection.scalars(_live_ids(target), {"ids": unknown}))
            found = known
            missing = [item for item in ids if item not in found]
            if missing:
                listed = ", ".join(str(item) for item in missing)
                target_label = self.model.entities[field_spec.entity].label
                result.add(name, "reference", f"No {target_label.en} with id {listed} exists; it may have been deleted. Choose another.",
                           f"编号为 {listed} 的{target_label.zh_cn}不存在或已删除；请重新选择。")
                continue
            converted: Any = ids if isinstance(value, list) else ids[0]
            merged[name] = converted
            result.values[name] = converted

    def expression_names(self, merged: Mapping[str, Any], actor: Actor, today: datetime.date) -> dict[str, Any]:
        names: dict[str, Any] = {name: None for name in self.entity.fields}
        names.update(merged)
        for name, field_spec in self.entity.fields.items():
            value = merged.get(name)
            if field_spec.type == "reference" and field_spec.entity is not None and isinstance(value, int):
                names[name] = ReferenceView(self.loader, field_spec.entity, value)
        names.update({
            "today": today,
            "now": datetime.datetime.now(datetime.timezone.utc),
            "user": _UserView(actor),
            "state": merged.get("state"),
        })
        return names

    def _compute(self, result: Checked, merged: dict[str, Any], actor: Actor, today: datetime.date) -> None:
        for name, field_spec in self.entity.fields.items():
            if field_spec.computed is None:
                continue
            try:
                raw = field_spec.computed.evaluate(self.expression_names(merged, actor, today))
            except Exception as exc:  # noqa: BLE001 - an input still missing leaves the value empty
                logger.debug("computed field %s.%s left empty: %s", self.entity.name, name, exc)
                raw = None
            value = None
            if raw is not None:
                value, problems = check_value(_unconstrained(field_spec), _rounded(field_spec, raw))
                if problems:
                    value = None
            merged[name] = value
            result.values[name] = value

    def _check_rules(self, result: Checked, merged: Mapping[str, Any], actor: Actor, today: datetime.date,
                     skipping: frozenset[str] | set[str] = frozenset()) -> None:
        """Add the error of each rule that does not hold, leaving out the rules that read a name in `skipping`."""
        if not self.entity.rules:
            return
        names = self.expression_names(merged, actor, today)
        for rule in self.entity.rules:
            if skipping and any(use.name in skipping for use in rule.check.names):
                continue
            try:
                passed = rule.check.evaluate(names)
            except Exception as exc:  # noqa: BLE001 - a rule over empty inputs does not apply yet
                logger.debug("rule %s.%s not applicable: %s", self.entity.name, rule.name, exc)
                continue
            if not passed:
                path = rule.fields[0] if rule.fields else "_record"
                result.add(path, f"rule.{rule.name}", rule.message.en, rule.message.zh_cn)

    def _check_unique(
        self, connection: Connection, result: Checked, merged: Mapping[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        table: Table = self.tables.table
        for name, field_spec in self.entity.fields.items():
            value = merged.get(name)
            if not field_spec.unique or value is None or name not in result.values:
                continue
            if field_spec.encrypted:
                column, stored = table.c[name + HASH_SUFFIX], self.codec.hash_of(field_spec, value)
            else:
                column, stored = table.c[name], value
            query = select(func.count()).select_from(table).where(column == stored, table.c.deleted_at.is_(None))
            if current is not None:
                query = query.where(table.c.id != current["id"])
            if connection.scalar(query):
                result.add(name, "unique", "another record already has this value", "已有其他记录使用了该值")


@functools.lru_cache(maxsize=512)
def _live_id(table: Table) -> Any:
    """Return the statement that finds a live record by id, compiled once per table."""
    return select(table.c.id).where(table.c.id == bindparam("id"), table.c.deleted_at.is_(None))


@functools.lru_cache(maxsize=512)
def _live_ids(table: Table) -> Any:
    """Return the statement that finds which of the given ids are live records, compiled once per table."""
    return select(table.c.id).where(table.c.id.in_(bindparam("ids", expanding=True)), table.c.deleted_at.is_(None))


def _files_of(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class _UserView:
    def __init__(self, actor: Actor) -> None:
        self.id = actor.id
        self.name = actor.name
        self.roles = list(actor.roles)
        self.org_unit = actor.org_unit
        self.org_units = [actor.org_unit, *actor.org_units] if actor.org_unit else list(actor.org_units)


def _unconstrained(field_spec: m.Field) -> m.Field:
    """Return the field without input limits, to normalize a computed value to its type."""
    return replace(field_spec, required=False, min=None, max=None, computed=None)


def _rounded(field_spec: m.Field, raw: Any) -> Any:
    """Round a computed number half up to the field's places; a rule of money, not an input error."""
    if field_spec.type not in ("decimal", "money", "percent") or isinstance(raw, bool):
        return raw
    if not isinstance(raw, (int, float, Decimal)):
        return raw
    places = field_spec.places
    if places is None:
        places = 2 if field_spec.type == "money" else 6
    return Decimal(str(raw)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
