"""The checks before a transition fires: its source state, comment and kind, required fields and documents, and guard.

Each problem is added to the firing's errors with the field it concerns; the caller raises
them together (runtime/flows.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Connection

from metamodel import model as m
from runtime.access import Actor
from runtime.flow_availability import decision_refusal, withdrawal_refusal
from runtime.flow_steps import ensure_step, visited_states

if TYPE_CHECKING:
    from runtime.flows import _Firing as Firing
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: Maximum length of a transition's or signature's comment, in characters.
MAX_COMMENT_LENGTH = 2000


def check_firing(firing: Firing) -> None:
    transition, current = firing.transition, firing.current
    state = str(current.get("state"))
    state_label = firing.flow.states[state].label if state in firing.flow.states else m.Label(state, state)
    if state not in transition.sources:
        firing.add("state", "transition.state", f"“{transition.label.en}” cannot be done in the state “{state_label.en}”",
                   f"当前状态“{state_label.zh_cn}”下不能执行“{transition.label.zh_cn}”")
    if transition.automatic:
        firing.add("state", "transition.automatic", f"“{transition.label.en}” happens by itself when its condition holds",
                   f"“{transition.label.zh_cn}”在条件满足时自动执行，不能手工执行")
    if transition.comment == "required" and firing.comment is None:
        firing.add("comment", "required", "Write a comment for this step.", "请填写审批意见。")
    if firing.comment is not None and len(firing.comment) > MAX_COMMENT_LENGTH:
        firing.add("comment", "length", f"The comment has {len(firing.comment)} characters; shorten it to {MAX_COMMENT_LENGTH} at most",
                   f"意见共 {len(firing.comment)} 个字符，请缩短到 {MAX_COMMENT_LENGTH} 个字符以内")
    firing.raise_errors()
    if transition.kind == "withdraw":
        _check_withdrawal(firing, state_label)
    elif transition.kind in ("return", "reject"):
        step = ensure_step(firing.connection, firing.service.schema.flows, firing.entity.name, current, firing.now)
        refused = decision_refusal(step, firing.principal, firing.actor, transition, state_label)
        if refused is not None:
            firing.add("state", *refused)
    if transition.kind == "return" and not firing.errors:
        visited = visited_states(firing.connection, firing.service.schema.flows, firing.entity.name, int(current["id"]))
        if transition.target not in visited:
            target = firing.flow.states[transition.target].label
            firing.add("state", "transition.return", f"The record has not been in “{target.en}” yet, so it cannot go back there",
                       f"本记录尚未经过“{target.zh_cn}”，不能退回到该步骤")
    check_values(firing, current)
    firing.raise_errors()


def _check_withdrawal(firing: Firing, state_label: m.Label) -> None:
    step = ensure_step(firing.connection, firing.service.schema.flows, firing.entity.name, firing.current, firing.now)
    problem = withdrawal_refusal(firing.connection, firing.service.schema.flows, step, firing.principal, state_label)
    if problem is not None:
        firing.add("state", *problem)


def check_values(firing: Firing, merged: Mapping[str, Any]) -> None:
    """Add an error for each required field without a value and for a guard that does not hold."""
    transition, entity = firing.transition, firing.entity
    for required in (*transition.required_fields, *transition.required_documents):
        field = entity.fields.get(required)
        if not missing_before(field, merged.get(required)):
            continue
        label = field.label if field is not None else m.Label(required, required)
        if field is not None and field.type == "boolean" and (field.read_only or field.computed is not None):
            # Users cannot tick a field the application derives, so the message points at where it comes from.
            firing.add(required, "required", f"“{label.en}” must be yes before “{transition.label.en}”; it follows from other "
                                             "records, as its help explains",
                       f"执行“{transition.label.zh_cn}”前“{label.zh_cn}”须为“是”；该项由系统根据其他记录得出，详见其说明")
        elif field is not None and field.type == "boolean":
            firing.add(required, "required", f"“{label.en}” must be ticked before “{transition.label.en}”",
                       f"执行“{transition.label.zh_cn}”前需勾选“{label.zh_cn}”")
        else:
            firing.add(required, "required", f"{label.en} is needed before “{transition.label.en}”",
                       f"执行“{transition.label.zh_cn}”前需填写{label.zh_cn}")
    if transition.guard is not None and not firing.errors and not guard_holds(firing.service, firing.connection, entity, transition,
                                                                               merged, firing.principal):
        if transition.guard_message is not None:
            firing.add("state", "transition.guard", f"“{transition.label.en}” is not possible: {transition.guard_message.en}",
                       f"不能执行“{transition.label.zh_cn}”：{transition.guard_message.zh_cn}")
        else:
            firing.add("state", "transition.guard", f"The conditions of “{transition.label.en}” are not met: {transition.guard.source}",
                       f"不满足“{transition.label.zh_cn}”的条件：{transition.guard.source}")


def guard_holds(
    service: RecordService, connection: Connection, entity: m.Entity, transition: m.Transition, record: Mapping[str, Any], actor: Actor,
) -> bool:
    if transition.guard is None:
        return True
    names = service._validator(connection, entity).expression_names(record, actor, service.clock().date())
    try:
        return bool(transition.guard.evaluate(names))
    except Exception as exc:  # noqa: BLE001 - a guard over missing values does not hold
        logger.debug("guard of %s on %s %s did not evaluate: %s", transition.name, entity.name, record.get("id"), exc)
        return False


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def missing_before(field: m.Field | None, value: Any) -> bool:
    """Tell whether a field a transition requires lacks its value: a yes/no field must be yes, as a ticked checkbox."""
    if field is not None and field.type == "boolean":
        return value is not True
    return _empty(value)
