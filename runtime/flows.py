"""Firing flow transitions by hand: the checks, the hooks, the state change and its audit entry.

A transition `t` of flow `f` may be fired on a record when, in this order:

1. the actor is granted the action `t` on the entity (a transition is an action of its own),
   and the record lies in the actor's data scope for that action;
2. the record follows `f` and its state is one of `t`'s sources; `t` is not automatic;
3. `t` needs no collective approval (countersign or levels, which wait for several decisions);
4. a comment is given where `t` requires one;
5. every hook of `t` is registered and returns without raising (their returned values are
   written with the state change);
6. every required field and required document has a value, and the guard holds.

Then the state, version and update stamp change in one transaction with the audit entry
(action "transition", the comment as its reason). Any failure writes nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import select, update

from metamodel import model as m
from runtime.access import Actor, SystemAccess
from runtime.errors import FieldError, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from runtime.hooks import HookContext, HookNotRegistered, registry
from runtime.record_codec import changed_fields
from runtime.schema import SEARCH_COLUMN

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: Approval modes in which one decision fires the transition.
IMMEDIATE_MODES = ("single", "any_of")


def flow_of(model: m.AppModel, entity: str, record: Mapping[str, Any]) -> m.Flow | None:
    name = record.get("flow")
    flow = model.flows.get(name) if isinstance(name, str) else None
    return flow if flow is not None and flow.entity == entity else None


def available_transitions(service: RecordService, actor: Actor, entity: str, record: Mapping[str, Any]) -> list[m.Transition]:
    """Return the transitions the actor may fire by hand on the record in its current state."""
    flow = flow_of(service.model, entity, record)
    if flow is None:
        return []
    state = record.get("state")
    return [
        transition for transition in flow.transitions.values()
        if state in transition.sources and not transition.automatic and service.access.allows(actor, transition.name, entity)
    ]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def fire(
    service: RecordService, actor: Actor, entity_name: str, record_id: int, name: str, *, version: int, comment: str | None
) -> dict[str, Any]:
    entity = service._entity(entity_name)
    access = service._require(actor, name, entity_name)
    table = service.schema.entities[entity_name].table
    codec = service.codecs[entity_name]
    now = service.clock()
    comment = (comment or "").strip() or None

    with service._write() as connection:
        current = service._read(connection, actor, entity, SystemAccess().fields(actor, entity_name), record_id)
        if current is None:
            raise NotFound(entity_name, record_id)
        in_scope = connection.scalar(select(table.c.id).where(table.c.id == record_id, service._scoped(actor, entity_name, name)))
        if in_scope is None:
            raise PermissionDenied(entity_name, name)
        if current["version"] != version:
            raise StaleVersion(entity_name, record_id, version, current["version"], current["updated_by"], current["updated_at"])

        flow = flow_of(service.model, entity_name, current)
        transition = flow.transitions.get(name) if flow is not None else None
        errors: dict[str, list[FieldError]] = {}

        def add(path: str, code: str, en: str, zh: str) -> None:
            errors.setdefault(path, []).append(FieldError(code, en, zh))

        if flow is None or transition is None:
            add("state", "transition.unknown", f"{entity_name} {record_id} has no transition {name!r}",
                f"{entity_name} {record_id} 没有名为 {name!r} 的流转")
            raise ValidationFailed(entity_name, errors)
        state = str(current.get("state"))
        state_label = flow.states[state].label if state in flow.states else m.Label(state, state)
        if state not in transition.sources:
            add("state", "transition.state", f"“{transition.label.en}” cannot be done in the state “{state_label.en}”",
                f"当前状态“{state_label.zh_cn}”下不能执行“{transition.label.zh_cn}”")
        if transition.automatic:
            add("state", "transition.automatic", f"“{transition.label.en}” happens by itself when its condition holds",
                f"“{transition.label.zh_cn}”在条件满足时自动执行，不能手工执行")
        if transition.approval is not None and transition.approval.mode not in IMMEDIATE_MODES:
            add("approval", "transition.approval",
                f"“{transition.label.en}” needs the decisions of several approvers ({transition.approval.mode})",
                f"“{transition.label.zh_cn}”需要多位审批人共同决定（{transition.approval.mode}）")
        if transition.comment == "required" and comment is None:
            add("comment", "required", "Write a comment for this step.", "请填写审批意见。")
        if errors:
            raise ValidationFailed(entity_name, errors)

        changes = _run_hooks(transition, HookContext(actor, entity_name, dict(current), name, comment), add)
        if errors:
            raise ValidationFailed(entity_name, errors)
        if changes:
            checked = service._validator(connection, entity).check(
                connection, actor, access, changes, current, now.date(), frozenset(changes)
            )
            if checked.errors:
                raise ValidationFailed(entity_name, checked.errors)
            changes = dict(checked.values)
        merged = {**current, **changes}

        for required in (*transition.required_fields, *transition.required_documents):
            if _empty(merged.get(required)):
                field = entity.fields.get(required)
                label = field.label if field is not None else m.Label(required, required)
                add(required, "required", f"{label.en} is needed before “{transition.label.en}”",
                    f"执行“{transition.label.zh_cn}”前需填写{label.zh_cn}")
        if transition.guard is not None and not errors:
            names = service._validator(connection, entity).expression_names(merged, actor, now.date())
            try:
                allowed = bool(transition.guard.evaluate(names))
            except Exception as exc:  # noqa: BLE001 - a guard over missing values does not hold
                logger.debug("guard of %s on %s %s did not evaluate: %s", name, entity_name, record_id, exc)
                allowed = False
            if not allowed:
                add("state", "transition.guard", f"The conditions of “{transition.label.en}” are not met: {transition.guard.source}",
                    f"不满足“{transition.label.zh_cn}”的条件：{transition.guard.source}")
        if errors:
            raise ValidationFailed(entity_name, errors)

        written = changed_fields(current, changes, changes.keys())
        row = codec.encode({field_name: changes[field_name] for field_name in written})
        if SEARCH_COLUMN in table.c:
            row[SEARCH_COLUMN] = codec.search_text(merged)
        row.update(state=transition.target, updated_at=now, updated_by=actor.id, version=table.c.version + 1)
        updated = connection.execute(
            update(table).where(table.c.id == record_id, table.c.version == version, table.c.deleted_at.is_(None)).values(**row)
        ).rowcount
        if updated != 1:
            raise service._lost_race(connection, entity_name, record_id, version)
        service._save_children(connection, entity, record_id, {field_name: changes[field_name] for field_name in written})
        audited = {field_name: [service._audit_values(entity, {field_name: old})[field_name],
                                service._audit_values(entity, {field_name: new})[field_name]]
                   for field_name, (old, new) in written.items()}
        audited["state"] = [state, transition.target]
        service.audit.append(
            connection, at=now, actor=actor.id, address=actor.address, action=f"transition:{name}", entity=entity_name,
            record_id=record_id, reason=comment, changes=audited,
        )
        record = service._read_back(connection, actor, entity, record_id)
    logger.info("%s %s: %s from %s to %s by %s", entity_name, record_id, name, state, transition.target, actor.id)
    return record


def _run_hooks(transition: m.Transition, context: HookContext, add: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for hook_name in transition.hooks:
        try:
            function = registry.get(hook_name)
        except HookNotRegistered:
            add("state", "hook.missing", f"The step “{transition.label.en}” runs {hook_name}, which is not installed; "
                "ask the administrator", f"“{transition.label.zh_cn}”需要运行 {hook_name}，但系统中没有安装它；请联系管理员")
            continue
        try:
            result = function(context)
        except Exception as exc:
            logger.exception("hook %s failed on %s %s", hook_name, context.entity, context.record.get("id"))
            add("state", "hook.failed", f"The step “{transition.label.en}” failed in {hook_name}: {exc}",
                f"“{transition.label.zh_cn}”在 {hook_name} 中失败：{exc}")
            continue
        if result:
            changes.update(result)
    return changes
