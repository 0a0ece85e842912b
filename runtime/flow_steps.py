"""The steps of a record's flow: which state it is in since when, who moved it there, and where it has been."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from runtime.flow_tables import FlowTables


def current_step(connection: Connection, tables: FlowTables, entity: str, record_id: int) -> dict[str, Any] | None:
    """Return the open step of a record, or None for a record that entered its state before steps were kept."""
    steps = tables.steps
    row = connection.execute(
        select(steps).where(steps.c.entity == entity, steps.c.record_id == record_id, steps.c.left_at.is_(None))
        .order_by(steps.c.id.desc()).limit(1)
    ).mappings().first()
    return dict(row) if row is not None else None


def ensure_step(
    connection: Connection, tables: FlowTables, entity: str, record: dict[str, Any], now: datetime.datetime
) -> dict[str, Any]:
    """Return the record's open step, opening one for its present state when there is none."""
    step = current_step(connection, tables, entity, int(record["id"]))
    if step is not None and step["state"] == record.get("state"):
        return step
    if step is not None:
        close_step(connection, tables, int(step["id"]), now)
    return enter_step(connection, tables, entity, record, str(record["state"]), now, transition=None, by=None, acting_for=None)


def enter_step(
    connection: Connection,
    tables: FlowTables,
    entity: str,
    record: dict[str, Any],
    state: str,
    now: datetime.datetime,
    *,
    transition: str | None,
    by: str | None,
    acting_for: str | None,
    due: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open the step of a record entering `state`, with its SLA timers (runtime/flow_timers.py)."""
    values = {
        "entity": entity, "record_id": int(record["id"]), "flow": str(record.get("flow")), "flow_version": record.get("flow_version"),
        "state": state, "entered_by_transition": transition, "entered_at": now, "entered_by": by, "entered_for": acting_for,
        "left_at": None, "levels": None, "due": due,
    }
    step_id = connection.execute(insert(tables.steps).values(**values)).inserted_primary_key[0]  # type: ignore[index]
    return {"id": step_id, **values}


def close_step(connection: Connection, tables: FlowTables, step_id: int, now: datetime.datetime) -> None:
    connection.execute(update(tables.steps).where(tables.steps.c.id == step_id).values(left_at=now))


def visited_states(connection: Connection, tables: FlowTables, entity: str, record_id: int) -> set[str]:
    """Return the states the record has stayed in and left."""
    steps = tables.steps
    rows = connection.execute(
        select(steps.c.state).where(steps.c.entity == entity, steps.c.record_id == record_id, steps.c.left_at.is_not(None))
    )
    return {state for (state,) in rows}


def remember_levels(connection: Connection, tables: FlowTables, step: dict[str, Any], transition: str, levels: list[str]) -> None:
    """Fix the levels a routing table chose for an approval step, so that later edits do not change them mid-way."""
    chosen = dict(step.get("levels") or {})
    chosen[transition] = levels
    connection.execute(update(tables.steps).where(tables.steps.c.id == step["id"]).values(levels=chosen))
    step["levels"] = chosen
