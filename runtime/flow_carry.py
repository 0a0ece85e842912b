"""What a record keeps of its open step when it moves to another version of its flow.

A signature carries over when, in the new version, the record's new state is a source of a
transition of the same name whose approval has a level of the same name. Users added to
such a level carry over too, and so does a routing table's choice of levels when every
level it chose still exists. Everything else stays with the closed step, and the migration plan counts it, so
that no signature is lost without a warning. The new step keeps who submitted the
record to it, so the submitter may still withdraw it and still may not approve it. When the
signatures carried over already complete an approval of the new version (a lower quorum,
say), the approval's transition fires as the system, so that the record does not wait for a
signature that no one can give.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Collection, Mapping

from sqlalchemy import ColumnElement, Connection, Table, and_, func, insert, select, update

from metamodel import model as m
from runtime import approvals
from runtime.access import SYSTEM_ACTOR, SystemAccess
from runtime.errors import ValidationFailed
from runtime.flow_steps import ensure_step
from runtime.flow_tables import FlowTables
from runtime.flow_versions import record_flow
from runtime.flows import fire_as_system

if TYPE_CHECKING:
    from runtime.records import RecordService


@dataclass(frozen=True)
class Signatures:
    """Signatures in the open steps of records to move, counted by old state, transition and level."""

    state: str
    transition: str
    level: str
    count: int
    #: Whether they carry over to the new step.
    kept: bool


def level_carries(flow: m.Flow, state: str, transition: str, level: str) -> bool:
    """Tell whether a signature on `transition`'s level `level` stays valid in `state` of `flow`."""
    target = flow.transitions.get(transition)
    if target is None or target.approval is None or state not in target.sources:
        return False
    return level in {item.name for item in target.approval.steps()}


def count_signatures(
    connection: Connection, flows: FlowTables, table: Table, entity: str, moving: ColumnElement[bool], new_state: Mapping[str, str],
    flow: m.Flow,
) -> tuple[Signatures, ...]:
    """Count the signatures of the open steps of the records `moving` selects, and whether each group carries over."""
    steps, decisions = flows.steps, flows.decisions
    rows = connection.execute(
        select(table.c.state, decisions.c.transition, decisions.c.level, func.count())
        .select_from(decisions.join(steps, decisions.c.step_id == steps.c.id)
                     .join(table, and_(steps.c.record_id == table.c.id, steps.c.entity == entity)))
        .where(steps.c.left_at.is_(None), moving)
        .group_by(table.c.state, decisions.c.transition, decisions.c.level)
        .order_by(table.c.state, decisions.c.transition, decisions.c.level)
    ).all()
    return tuple(
        Signatures(str(state), str(transition), str(level), int(count),
                   level_carries(flow, new_state.get(str(state), str(state)), str(transition), str(level)))
        for state, transition, level, count in rows
    )


def fire_complete_approvals(service: RecordService, connection: Connection, entity: m.Entity, record_id: int,
                            now: datetime.datetime) -> list[str]:
    """Fire, as the system, each approval the carried signatures complete under the new version; return their names.

    A level may need fewer signatures in the new version than the record already has, and
    no further signature could then be given.
    """
    fired: list[str] = []
    system_fields = SystemAccess().fields(SYSTEM_ACTOR, entity.name)
    current = service._read(connection, SYSTEM_ACTOR, entity, system_fields, record_id)
    flow = record_flow(service, entity.name, current, connection) if current is not None else None
    if current is None or flow is None:
        return fired
    step = ensure_step(connection, service.schema.flows, entity.name, current, now)
    for transition in flow.transitions.values():
        if transition.approval is None or transition.automatic or current.get("state") not in transition.sources:
            continue
        try:
            complete = approvals.progress(service, connection, SYSTEM_ACTOR, entity, current, transition, step).complete
        except ValidationFailed:
            continue
        if complete and fire_as_system(service, connection, entity, record_id, transition.name, now):
            fired.append(transition.name)
            break
    return fired


def open_steps(connection: Connection, flows: FlowTables, entity: str, record_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Return the open step of each record that has one, by record id."""
    steps = flows.steps
    rows = connection.execute(
        select(steps).where(steps.c.entity == entity, steps.c.record_id.in_(list(record_ids)), steps.c.left_at.is_(None))
    ).mappings().all()
    return {int(row["record_id"]): dict(row) for row in rows}


def carry_over(connection: Connection, flows: FlowTables, old: Mapping[str, Any], new_step_id: int, flow: m.Flow, state: str) -> int:
    """Copy to the new step the signatures, added approvers and routing choice of the old step that stay valid.

    Return how many signatures were copied.
    """
    signatures = 0
    for source in (flows.decisions, flows.approvers):
        valid = [
            {key: value for key, value in row.items() if key != "id"} | {"step_id": new_step_id}
            for row in connection.execute(select(source).where(source.c.step_id == old["id"])
                                          .order_by(*source.primary_key.columns)).mappings()
            if level_carries(flow, state, str(row["transition"]), str(row["level"]))
        ]
        if valid:
            connection.execute(insert(source), valid)
            signatures += len(valid) if source is flows.decisions else 0
    chosen = {
        transition: levels for transition, levels in (old.get("levels") or {}).items()
        if all(level_carries(flow, state, transition, level) for level in levels)
    }
    if chosen:
        connection.execute(update(flows.steps).where(flows.steps.c.id == new_step_id).values(levels=chosen))
    return signatures
