"""Checks of a write that depend on who writes and on the record's flow state.

- A reference may only name records the actor may read. References the record already had
  are kept even when the actor can no longer read their target.
- A record whose flow state is final cannot be changed, and a state that lists `editable`
  fields lets only those change (computed fields follow their inputs). A state without such
  a list leaves editing to the other rules. The system's own work (SystemAccess) is bound by
  neither check.
- A record that live records still reference cannot be deleted, except by the system's own
  work, which retires catalog rows that records still use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Connection, func, select

from metamodel import model as m
from runtime.access import Actor, FieldAccess
from runtime.errors import FieldError
from runtime.flows import flow_of

if TYPE_CHECKING:
    from runtime.record_reads import RecordReads


def _ids(value: Any) -> set[int]:
    items = value if isinstance(value, list) else [value]
    return {int(item) for item in items if isinstance(item, int)}


def reference_scope_errors(
    service: RecordReads, connection: Connection, actor: Actor, entity: m.Entity,
    values: Mapping[str, Any], before: Mapping[str, Any] | None,
) -> dict[str, list[FieldError]]:
    """Return an error for each reference field naming a record outside the actor's read scope."""
    errors: dict[str, list[FieldError]] = {}
    for name, value in values.items():
        field = entity.fields.get(name)
        if field is None or field.type not in m.REFERENCE_TYPES or field.entity is None or value in (None, []):
            continue
        added = _ids(value) - _ids((before or {}).get(name))
        if not added:
            continue
        target = service.model.entities[field.entity]
        table = service.schema.entities[field.entity].table
        found: set[int] = set()
        if service.access.allows(actor, "read", field.entity):
            predicate = service.access.scope(actor, field.entity, table, "read")
            if predicate is None:
                continue
            found = set(connection.scalars(select(table.c.id).where(table.c.id.in_(added), predicate)))
        missing = sorted(added - found)
        if missing:
            listed = ", ".join(str(item) for item in missing)
            errors[name] = [FieldError(
                "reference",
                f"No {target.label.en} with id {listed} is available to you; choose one from the list.",
                f"没有您可选择的编号为 {listed} 的{target.label.zh_cn}；请从列表中选择。",
            )]
    return errors


def state_lock_errors(
    service: RecordReads, connection: Connection, entity: m.Entity, current: Mapping[str, Any], changed: Mapping[str, Any],
    access: FieldAccess,
) -> dict[str, list[FieldError]]:
    """Return an error for each changed field that the record's flow state does not let change."""
    if access.writes_read_only or not changed:
        return {}
    flow = flow_of(service, entity.name, current, connection)
    state = flow.states.get(str(current.get("state"))) if flow is not None else None
    if state is None or not state.final and state.editable is None:
        return {}
    errors: dict[str, list[FieldError]] = {}
    for name in changed:
        field = entity.fields.get(name)
        if field is not None and field.computed is not None:
            continue
        if state.final or name not in (state.editable or ()):
            errors[name] = [FieldError(
                "state_locked",
                f"This field cannot be changed in the state “{state.label.en}”.",
                f"当前状态“{state.label.zh_cn}”下不能修改此项。",
            )]
    return errors


def live_referrers(service: RecordReads, connection: Connection, entity_name: str, record_id: int) -> list[tuple[m.Label, int]]:
    """Return, per referring entity, how many live records still name this record in a reference field."""
    found: list[tuple[m.Label, int]] = []
    for name, other in service.model.entities.items():
        tables = service.schema.entities[name]
        count = 0
        for field in other.fields.values():
            if field.entity != entity_name or field.type not in m.REFERENCE_TYPES:
                continue
            if field.type == "reference":
                column = tables.table.c[field.name]
                count += int(connection.scalar(
                    select(func.count()).select_from(tables.table).where(column == record_id, tables.table.c.deleted_at.is_(None))
                ) or 0)
            else:
                link = tables.links[field.name]
                count += int(connection.scalar(
                    select(func.count()).select_from(link.join(tables.table, link.c.parent_id == tables.table.c.id))
                    .where(link.c.target_id == record_id, tables.table.c.deleted_at.is_(None))
                ) or 0)
        if count:
            found.append((other.label, count))
    return found


def in_use_error(entity: m.Entity, referrers: list[tuple[m.Label, int]]) -> dict[str, list[FieldError]]:
    listed_en = ", ".join(f"{count} {label.en}" for label, count in referrers)
    listed_zh = "、".join(f"{count} 条{label.zh_cn}" for label, count in referrers)
    return {"_record": [FieldError(
        "in_use",
        f"This {entity.label.en} is still used by {listed_en}; change or delete those first.",
        f"此{entity.label.zh_cn}仍被 {listed_zh}使用；请先修改或删除它们。",
    )]}
