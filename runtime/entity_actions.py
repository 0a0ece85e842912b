"""An entity's own actions: buttons on a record that run a hook, each granted as an action of its own.

    actions:
      - name: blacklist
        label: {zh-CN: 加入黑名单, en: Blacklist}
        hook: sales.blacklist          # returns the field values to write, or None
        confirm: {zh-CN: 确定加入黑名单？, en: Blacklist this customer?}
        states: [active]               # only in these states (optional)

Running an action checks its grant and data scope, the record's version and state, then
runs the hook in one transaction. The values the hook returns are checked and written as
an update audited as `action:<name>`. They may set read-only fields, because the action's
grant allows them. With nothing returned, the audit entry records that the action ran.
The hook changes other records through `context.records` and returns this record's
values rather than updating it itself, which would make the version stale.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

from metamodel import model as m
from runtime import approvals
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.errors import FieldError, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from runtime.flows import after_write
from runtime.hook_records import RECORD_PATH, call_hook
from runtime.hooks import HookContext

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)


def available_actions(service: RecordService, actor: Actor, entity_name: str, record: Mapping[str, Any]) -> list[m.EntityAction]:
    """Return the entity's actions the actor is granted and the record's state allows."""
    entity = service._entity(entity_name)
    return [action for action in entity.actions
            if service.access.allows(actor, action.name, entity_name) and (not action.states or record.get("state") in action.states)]


def run_action(
    service: RecordService, actor: Actor, entity_name: str, record_id: int, name: str, *, version: int, comment: str | None = None,
) -> dict[str, Any]:
    """Run the entity's action `name` on a record; see the module docs. Return the record as the actor reads it."""
    entity = service._entity(entity_name)
    action = next((item for item in entity.actions if item.name == name), None)
    if action is None:
        raise ValidationFailed(entity_name, {RECORD_PATH: [FieldError(
            "action.unknown", f"{entity.label.en} has no action {name!r}", f"{entity.label.zh_cn}没有名为 {name!r} 的操作")]})
    if not service.access.allows(actor, name, entity_name):
        raise PermissionDenied(entity_name, name)
    now = service.clock()
    with service._write() as connection:
        if not approvals.may_fire(service, connection, actor, entity_name, record_id, name):
            if not approvals.may_fire(service, connection, actor, entity_name, record_id, "read"):
                raise NotFound(entity_name, record_id)
            raise PermissionDenied(entity_name, name)
        current = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(SYSTEM_ACTOR, entity_name), record_id)
        if current is None:
            raise NotFound(entity_name, record_id)
        if current["version"] != version:
            raise StaleVersion(entity_name, record_id, version, current["version"], current["updated_by"], current["updated_at"])
        if action.states and current.get("state") not in action.states:
            raise ValidationFailed(entity_name, {RECORD_PATH: [FieldError(
                "action.state", f"“{action.label.en}” cannot be done in the record's present state",
                f"记录当前状态下不能执行“{action.label.zh_cn}”")]})
        doing = m.Label(f"“{action.label.zh_cn}”", f"“{action.label.en}”")
        _apply_hook(service, connection, actor, entity, current, action.hook, name, f"action:{name}", doing, comment, now)
        record = service._read_back(connection, actor, entity, record_id)
    logger.info("%s %s: action %s by %s", entity_name, record_id, name, actor.id)
    return record


def run_hook(service: RecordService, entity_name: str, record_id: int, hook_name: str, *, version: int) -> dict[str, Any]:
    """Run a hook on a record as the system, as an action would, and save the values it returns; return the record.

    For tools such as the demo seeder, which stand in for work users do over time, on a record
    service with the system's access. The hook's event is "hook", and the audit entry names the hook.
    """
    entity = service._entity(entity_name)
    now = service.clock()
    with service._write() as connection:
        current = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(SYSTEM_ACTOR, entity_name), record_id)
        if current is None:
            raise NotFound(entity_name, record_id)
        if current["version"] != version:
            raise StaleVersion(entity_name, record_id, version, current["version"], current["updated_by"], current["updated_at"])
        doing = m.Label(f"钩子 {hook_name}", f"the hook {hook_name}")
        _apply_hook(service, connection, SYSTEM_ACTOR, entity, current, hook_name, f"hook:{hook_name}", "hook", doing, None, now)
        record = service._read_back(connection, SYSTEM_ACTOR, entity, record_id)
    logger.info("%s %s: hook %s run as the system", entity_name, record_id, hook_name)
    return record


def _apply_hook(service: RecordService, connection: Any, actor: Actor, entity: m.Entity, current: dict[str, Any], hook_name: str,
                action: str, event: str, doing: m.Label, comment: str | None, now: Any) -> None:
    """Run the hook on the record read in this transaction and write what it returns, audited as `action`."""
    record_id = int(current["id"])
    context = HookContext(actor, entity.name, current, event, comment)
    values = call_hook(service, connection, hook_name, context, entity, doing=doing)
    if values:
        if not isinstance(values, Mapping):
            logger.error("action %s of %s %s: hook %s returned %r, not field values", action, entity.name, record_id,
                         hook_name, type(values).__name__)
            raise ValidationFailed(entity.name, {RECORD_PATH: [FieldError(
                "hook.result", f"{doing.en} failed in {hook_name}; ask the administrator",
                f"{doing.zh_cn}在 {hook_name} 中出错；请联系管理员")]})
        service._update_in(connection, actor, entity, record_id, values, version=int(current["version"]), reason=comment,
                           trusted=frozenset(), now=now, action=action)
    else:
        service.audit.append(connection, at=now, actor=actor.id, address=actor.address, action=f"action:{action}",
                             entity=entity.name, record_id=record_id, reason=comment, changes=None)
    after_write(service, connection, actor, entity, record_id, now, created=False)
