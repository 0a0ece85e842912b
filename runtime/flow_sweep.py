"""The sweep of SLA timers: reminders, escalations and expiry transitions whose time has come.

A periodic job calls `sweep`. For each open step with timers (runtime/flow_timers.py) it
sends the reminder to the users who may act on the transition once `remind_before_hours` are
left. At the due time it fires the `on_expiry` transition as the system; when there is
none, or it cannot fire (its guard or required fields), it notifies the `escalate_to` role
instead. Each happens once per step and is audited. A step's row is
locked while it is handled, so two sweeps running at once act once.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from metamodel import model as m
from runtime.access import SYSTEM_ACTOR, SystemAccess
from runtime.approvals import may_fire, progress, roles_including
from runtime.delegations import actor_of
from runtime.errors import RecordError
from runtime.flow_versions import flow_at
from runtime.flows import expire
from runtime.notifications import notify_role, notify_users

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    reminders: int = 0
    escalations: int = 0
    expiries: int = 0
    failures: int = 0


def sweep(service: RecordService, *, limit: int = 1000) -> SweepReport:
    """Send the reminders, escalations and expiry transitions whose time has come; return what was done."""
    steps_table = service.schema.flows.steps
    now = service.clock()
    report = SweepReport()
    with service.engine.connect() as connection:
        steps = connection.execute(
            select(steps_table.c.id).where(steps_table.c.left_at.is_(None), steps_table.c.due.is_not(None))
            .order_by(steps_table.c.id).limit(limit)
        ).scalars().all()
    for step_id in steps:
        try:
            _sweep_step(service, int(step_id), now, report)
        except RecordError as error:
            report.failures += 1
            logger.warning("flow timer of step %s failed: %s", step_id, error)
    if report.reminders or report.escalations or report.expiries or report.failures:
        logger.info("flow timers: %s reminders, %s escalations, %s expiries, %s failures", report.reminders,
                    report.escalations, report.expiries, report.failures)
    return report


def _sweep_step(service: RecordService, step_id: int, now: datetime.datetime, report: SweepReport) -> None:
    steps = service.schema.flows.steps
    with service._write() as connection:
        # The no-op update locks the row on PostgreSQL (SQLite locks the whole database for the write).
        locked = connection.execute(
            update(steps).where(steps.c.id == step_id, steps.c.left_at.is_(None)).values(due=steps.c.due).returning(*steps.c)
        ).mappings().first()
        if locked is None or not locked["due"]:
            return
        step = dict(locked)
        entity = service.model.entities.get(step["entity"])
        # The step keeps the flow version its record follows, whose timers apply.
        flow = flow_at(service, str(step["flow"]), step.get("flow_version"), connection)
        if entity is None or flow is None:
            return
        timers = {name: dict(timer) for name, timer in step["due"].items()}
        for name, timer in timers.items():
            transition = flow.transitions.get(name)
            if transition is None or transition.sla is None:
                continue
            remind_at = timer.get("remind_at")
            overdue = datetime.datetime.fromisoformat(timer["due_at"]) <= now
            if remind_at and not timer["reminded"] and datetime.datetime.fromisoformat(remind_at) <= now:
                timer["reminded"] = True
                # A sweep that comes late finds the time already run out: a reminder would name a past time.
                if not overdue:
                    _remind(service, connection, entity, transition, step, now)
                    report.reminders += 1
            if datetime.datetime.fromisoformat(timer["due_at"]) > now:
                continue
            if transition.sla.on_expiry and not timer["expired"]:
                timer["expired"] = True
                connection.execute(update(steps).where(steps.c.id == step_id).values(due=timers))
                if expire(service, connection, entity, int(step["record_id"]), transition.sla.on_expiry, now):
                    report.expiries += 1
                    # The record has left the step, so its other timers, escalation included, end with it.
                    return
            if transition.sla.escalate_to and not timer["escalated"]:
                _escalate(service, connection, entity, transition, transition.sla.escalate_to, step, now)
                timer["escalated"] = True
                report.escalations += 1
        connection.execute(update(steps).where(steps.c.id == step_id).values(due=timers))


def _remind(service: RecordService, connection: Connection, entity: m.Entity, transition: m.Transition, step: dict[str, Any],
            now: datetime.datetime) -> None:
    record_id = int(step["record_id"])
    record = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(SYSTEM_ACTOR, entity.name), record_id)
    if record is None:
        return
    users = deciders(service, connection, entity, record, transition, step)
    due = datetime.datetime.fromisoformat(step["due"][transition.name]["due_at"]).astimezone(service.timezone)
    shown = due.strftime("%Y-%m-%d %H:%M")
    notify_users(
        service, connection, users, kind="sla_reminder", entity=entity.name, record_id=record_id, at=now,
        en=f"Reminder: “{transition.label.en}” on {entity.label.en} {record_id} is due by {shown}.",
        zh=f"提醒：{entity.label.zh_cn} {record_id} 的“{transition.label.zh_cn}”须在 {shown} 前完成。",
    )
    service.audit.append(connection, at=now, actor=SYSTEM_ACTOR.id, address=None, action=f"sla_reminder:{transition.name}",
                         entity=entity.name, record_id=record_id, reason=None, changes={"notified": [None, sorted(users)]})


def deciders(service: RecordService, connection: Connection, entity: m.Entity, record: dict[str, Any], transition: m.Transition,
             step: dict[str, Any]) -> set[str]:
    """Return the users who may act on the transition now: the current level's waiting approvers, or the holders of its roles."""
    if transition.approval is not None:
        current = progress(service, connection, SYSTEM_ACTOR, entity, record, transition, step).current
        return set(current.waiting_for) if current is not None else set()
    access = service.schema.access
    roles = roles_including(service.model, transition.roles)
    holders = {user for (user,) in connection.execute(
        select(access.user_roles.c.user_id).where(access.user_roles.c.role.in_(roles)).distinct())}
    users = set()
    for user_id in holders:
        candidate = actor_of(service, connection, user_id)
        if candidate is not None and may_fire(service, connection, candidate, entity.name, int(record["id"]), transition.name):
            users.add(user_id)
    return users


def _escalate(service: RecordService, connection: Connection, entity: m.Entity, transition: m.Transition, role: str,
              step: dict[str, Any], now: datetime.datetime) -> None:
    record_id = int(step["record_id"])
    users = notify_role(
        service, connection, role, kind="sla_escalation", entity=entity.name, record_id=record_id, at=now,
        en=f"Overdue: “{transition.label.en}” on {entity.label.en} {record_id} is past its time limit and escalated to you.",
        zh=f"超时：{entity.label.zh_cn} {record_id} 的“{transition.label.zh_cn}”已超过时限，升级由您处理。",
    )
    service.audit.append(connection, at=now, actor=SYSTEM_ACTOR.id, address=None, action=f"sla_escalation:{transition.name}",
                         entity=entity.name, record_id=record_id, reason=None,
                         changes={"escalated_to": [None, role], "notified": [None, sorted(users)]})
    logger.info("%s %s: %s overdue, escalated to %s (%s users)", entity.name, record_id, transition.name, role, len(users))
