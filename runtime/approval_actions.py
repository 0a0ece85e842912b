"""Approval work outside a firing: adding an approver to the current level, and reading every open step's progress."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import update

from runtime import approvals
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.errors import FieldError, ValidationFailed
from runtime.flow_steps import ensure_step
from runtime.flows import flow_of, start_firing

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)


def add_approver(
    service: RecordService, actor: Actor, entity_name: str, record_id: int, name: str, user_id: str, *, version: int,
) -> approvals.LevelProgress:
    """Add a user to the current level of approval transition `name`; the actor must be one of its approvers."""
    entity = service._entity(entity_name)
    now = service.clock()
    with service._write() as connection:
        firing = start_firing(service, connection, actor, entity, record_id, name, version, None, None, now)
        if firing.transition.approval is None or str(firing.current.get("state")) not in firing.transition.sources:
            raise ValidationFailed(entity_name, {"approval": [FieldError(
                "approval.none", f"“{firing.transition.label.en}” has no approval to add someone to now",
                f"“{firing.transition.label.zh_cn}”当前没有可加签的审批")]})
        step = ensure_step(connection, service.schema.flows, entity_name, firing.current, now)
        level = approvals.add_approver(service, connection, firing.principal, entity, firing.current, firing.transition, step, user_id,
                                       signed_in=actor)
        table = service.schema.entities[entity_name].table
        if connection.execute(update(table).where(table.c.id == record_id, table.c.version == version)
                              .values(version=table.c.version + 1, updated_at=now, updated_by=actor.id)).rowcount != 1:
            raise service._lost_race(connection, entity_name, record_id, version)
        service.audit.append(
            connection, at=now, actor=actor.id, address=actor.address, action=f"add_approver:{name}", entity=entity_name,
            record_id=record_id, reason=None, changes={"approver": [None, user_id], "level": [None, level.level.name]},
        )
    logger.info("%s %s: %s added %s to %s level %s", entity_name, record_id, actor.id, user_id, name, level.level.name)
    return level


def approval_progress(service: RecordService, actor: Actor, entity_name: str, record: Mapping[str, Any]) -> list[approvals.ApprovalProgress]:
    """Return the progress of every approval transition open in the record's state, for screens."""
    entity = service._entity(entity_name)
    flow = flow_of(service, entity_name, record)
    if flow is None:
        return []
    open_transitions = [t for t in flow.transitions.values() if t.approval is not None and record.get("state") in t.sources]
    if not open_transitions:
        return []
    now = service.clock()
    result = []
    with service._write() as connection:
        current = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(SYSTEM_ACTOR, entity_name), int(record["id"]))
        if current is None:
            return []
        step = ensure_step(connection, service.schema.flows, entity_name, current, now)
        for transition in open_transitions:
            try:
                result.append(approvals.progress(service, connection, actor, entity, current, transition, step))
            except ValidationFailed as exc:
                logger.warning("approval progress of %s on %s %s: %s", transition.name, entity_name, record.get("id"), exc)
    return result
