"""What a record keeps of its open step when it moves to another version of its flow.

A signature carries over when, in the new version, the record's new state is a source of a
transition of the same name whose approval has a level of the same name. Users added to
such a level carry over too, and so does a routing table's choice of levels when every
level it chose still exists. Everything else stays with the closed step, and the migration plan counts it, so
that nobody loses a signature without being told. The new step keeps who submitted the
record to it, so the submitter may still withdraw it and still may not approve it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Mapping

from sqlalchemy import ColumnElement, Connection, Table, and_, func, insert, select, update

from metamodel import model as m
from runtime.flow_tables import FlowTables


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


def open_steps(connection: Connection, flows: FlowTables, entity: str, record_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Return the open step of each record that has one, by record id."""
    steps = flows.steps
    rows = connection.execute(
        select(steps).where(steps.c.entity == entity, steps.c.record_id.in_(list(record_ids)), steps.c.left_at.is_(None))
    ).mappings().all()
    return {int(row["record_id"]): dict(row) for row in rows}


def carry_over(connection: Connection, flows: FlowTables, old: Mapping[str, Any], new_step_id: int, flow: m.Flow, state: str) -> None:
    """Copy to the new step the signatures, added approvers and routing choice of the old step that stay valid."""
    for source in (flows.decisions, flows.approvers):
        valid = [
            {key: value for key, value in row.items() if key != "id"} | {"step_id": new_step_id}
            for row in connection.execute(select(source).where(source.c.step_id == old["id"])
                                          .order_by(*source.primary_key.columns)).mappings()
            if level_carries(flow, state, str(row["transition"]), str(row["level"]))
        ]
        if valid:
            connection.execute(insert(source), valid)
    chosen = {
        transition: levels for transition, levels in (old.get("levels") or {}).items()
        if all(level_carries(flow, state, transition, level) for level in levels)
    }
    if chosen:
        connection.execute(update(flows.steps).where(flows.steps.c.id == new_step_id).values(levels=chosen))
