"""Entity event hooks: Python hooks an entity's YAML runs around its creates, updates and deletes.

    hooks:
      before_validate: [sales.fill_defaults]   # input -> values merged into the input, then checked
      before_save: [sales.derive_grade]        # checked values -> values merged and checked again
      after_save: [sales.open_follow_up]       # the stored record; may read and write other records
      after_delete: [sales.release_quota]      # the deleted record

Every hook runs in the operation's transaction (runtime/hook_records.py), so a hook that
raises rolls back the whole create, update or delete. Values a `before_*` hook returns may
set fields the acting user may not edit, because the application's own code computes
them. An `after_*` hook changes other records through `context.records`; what it returns
is not written.

NOTE: a hook that calls a provider (`context.providers`) keeps the write transaction open
while it waits. On SQLite that keeps the database's write lock, so keep such providers'
timeouts and retries short.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Connection

from metamodel import model as m
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.errors import ValidationFailed
from runtime.hook_records import call_hook
from runtime.hooks import HookContext
from runtime.record_validation import Checked

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)


def _doing(entity: m.Entity, event: str) -> m.Label:
    if event == "after_delete":
        return m.Label(f"删除{entity.label.zh_cn}", f"Deleting the {entity.label.en.lower()}")
    return m.Label(f"保存{entity.label.zh_cn}", f"Saving the {entity.label.en.lower()}")


def run_hooks(
    service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, event: str, record: Mapping[str, Any],
) -> dict[str, Any]:
    """Run the entity's hooks for `event` in order, each seeing what the ones before returned; return their values."""
    changes: dict[str, Any] = {}
    for name in entity.hooks.get(event, ()):
        context = HookContext(actor, entity.name, {**record, **changes}, event)
        result = call_hook(service, connection, name, context, entity, doing=_doing(entity, event))
        if not result:
            continue
        if event.startswith("after_"):
            logger.warning("hook %s returned values on %s of %s %s; an %s hook's values are not written", name, event,
                           entity.name, record.get("id"), event)
            continue
        changes.update(result)
    return changes


def before_validate(
    service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
) -> Mapping[str, Any]:
    """Return the input with what the before_validate hooks return merged in."""
    if not entity.hooks.get("before_validate"):
        return values
    changes = run_hooks(service, connection, actor, entity, "before_validate", {**(current or {}), **values})
    return {**values, **changes}


def has_save_work(entity: m.Entity) -> bool:
    """Tell whether saving the entity runs hooks after the check: before_save hooks or fields computed by a hook."""
    return bool(entity.hooks.get("before_save")) or any(field.computed_by for field in entity.fields.values())


def before_save(
    service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, values: Mapping[str, Any],
    checked: Checked, current: Mapping[str, Any] | None, today: datetime.date,
) -> Checked:
    """Run the before_save hooks and the hooks of computed fields; return the values checked again with their results.

    A field's `computed_by` hook runs after the before_save hooks, receives their values, and returns the field's value.
    """
    if not has_save_work(entity):
        return checked
    record = {**(current or {}), **checked.values}
    changes = run_hooks(service, connection, actor, entity, "before_save", record)
    for name, field in entity.fields.items():
        if field.computed_by:
            context = HookContext(actor, entity.name, {**record, **changes}, f"compute:{name}")
            changes[name] = call_hook(service, connection, field.computed_by, context, entity, doing=_doing(entity, "before_save"))
    if not changes:
        return checked
    rechecked = service._validator(connection, entity).check(
        connection, actor, SystemAccess().fields(actor, entity.name), {**values, **changes}, current, today
    )
    if rechecked.errors:
        logger.info("values from before_save hooks of %s %s are invalid: %s", entity.name,
                    (current or {}).get("id"), ", ".join(rechecked.errors))
        raise ValidationFailed(entity.name, rechecked.errors)
    return rechecked


def after(service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, event: str, record_id: int) -> None:
    """Run the after_save or after_delete hooks with the record as stored now."""
    if not entity.hooks.get(event):
        return
    access = SystemAccess().fields(SYSTEM_ACTOR, entity.name)
    # As stored: outside the acting user's data scope too, which a record just moved out of it may be.
    record = service.system_view()._read(connection, SYSTEM_ACTOR, entity, access, record_id, deleted=event == "after_delete")
    run_hooks(service, connection, actor, entity, event, record or {"id": record_id})
