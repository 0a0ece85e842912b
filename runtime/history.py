"""A record's history from the audit log, as one actor may see it.

The audit log keeps every create, update, delete, restore and transition of a record with
the fields it changed. Reading it for a record needs read access to that record. The
fields the actor's field rules hide are left out, and values the actor reads masked are
masked, in child rows too. The log itself masks sensitive fields when it writes them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from metamodel import model as m
from runtime.access import Actor, FieldAccess
from runtime.record_codec import RecordCodec, mask_value

if TYPE_CHECKING:
    from runtime.records import RecordService

#: Keys of an entry's changes that are not entity fields but are shown: the state, and what the flow
#: engine logs with signatures, delegations, added approvers and SLA timers.
SYSTEM_CHANGES = ("state", "on_behalf_of", "level", "signatures", "approver", "escalated_to", "notified", "timed_out")


@dataclass(frozen=True)
class FieldChange:
    """One field's value before and after an entry; `field` is None for a system column such as the state."""

    name: str
    field: m.Field | None
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    at: datetime.datetime
    actor: str | None
    #: create, update, delete, restore, purge, or transition:<name>.
    action: str
    #: The reason or transition comment given with the change.
    reason: str | None
    changes: tuple[FieldChange, ...]

    @property
    def transition(self) -> str | None:
        return self.action.split(":", 1)[1] if self.action.startswith("transition:") else None


def record_history(records: RecordService, actor: Actor, entity_name: str, record_id: int) -> list[HistoryEntry]:
    """Return the audit entries of one record, newest first, as the actor may see them.

    Raises NotFound or PermissionDenied, through `records.get`, when the actor may not read the record.
    """
    records.get(actor, entity_name, record_id)
    entity = records.model.entities[entity_name]
    access = records.access.fields(actor, entity_name)
    codec = records.codecs[entity_name]
    audit = records.schema.audit
    statement = (
        select(audit.c.id, audit.c.at, audit.c.actor, audit.c.action, audit.c.reason, audit.c.changes)
        .where(audit.c.entity == entity_name, audit.c.record_id == record_id)
        .order_by(audit.c.id.desc())
    )
    with records.engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    return [
        HistoryEntry(
            id=int(row["id"]),
            at=_aware(row["at"]),
            actor=row["actor"],
            action=str(row["action"]),
            reason=row["reason"],
            changes=tuple(_visible_changes(entity, codec, access, row["changes"] or {})),
        )
        for row in rows
    ]


def _visible_changes(entity: m.Entity, codec: RecordCodec, access: FieldAccess, changes: Any) -> list[FieldChange]:
    shown: list[FieldChange] = []
    if not isinstance(changes, dict):
        return shown
    for name, pair in changes.items():
        old, new = pair if isinstance(pair, (list, tuple)) and len(pair) == 2 else (None, pair)
        if name in SYSTEM_CHANGES:
            shown.append(FieldChange(name, None, old, new))
            continue
        field = entity.fields.get(name)
        if field is None or name in access.hidden:
            continue
        shown.append(FieldChange(name, field, _shown(codec, access, field, old), _shown(codec, access, field, new)))
    return shown


def _shown(codec: RecordCodec, access: FieldAccess, field: m.Field, value: Any) -> Any:
    """Return a logged value as the actor may see it."""
    if value is None:
        return None
    if field.type == "child" and isinstance(value, list):
        masked = {row_field.name: row_field for row_field in field.fields if codec.is_masked(row_field, access)}
        return [_masked_row(row, masked) if isinstance(row, dict) else row for row in value]
    if codec.is_masked(field, access):
        return mask_value(field, value)
    return value


def _masked_row(row: dict[str, Any], masked: dict[str, m.Field]) -> dict[str, Any]:
    return {
        key: mask_value(masked[key], item) if key in masked and item is not None else item
        for key, item in row.items()
    }


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """SQLite returns the logged time without its zone; it is stored in UTC."""
    return moment.replace(tzinfo=datetime.timezone.utc) if moment.tzinfo is None else moment
