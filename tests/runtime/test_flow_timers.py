"""SLA timers of flow steps under a controlled clock: due times, working days, reminders, escalation and expiry."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from runtime.access import SYSTEM_ACTOR
from runtime.errors import ValidationFailed
from runtime.flow_sweep import sweep
from runtime.inbox import Inbox
from runtime.flow_timers import add_working_days, is_working_day
from runtime.records import RecordService
from tests.runtime.test_approvals import START, Office

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


@pytest.fixture
def office(engine: Engine, tmp_path: Path) -> Office:
    return Office(engine, tmp_path)


def at(hours: float) -> datetime.datetime:
    return START + datetime.timedelta(hours=hours)


def notifications(office: Office) -> list[tuple[str, str, str]]:
    table = office.schema.flows.notifications
    with office.engine.connect() as connection:
        rows = connection.execute(select(table.c.user_id, table.c.kind, table.c.message_zh).order_by(table.c.id))
        return [(user, kind, message) for user, kind, message in rows]


def timers_of(office: Office, record_id: int) -> dict[str, Any]:
    steps = office.schema.flows.steps
    with office.engine.connect() as connection:
        due = connection.scalar(select(steps.c.due).where(steps.c.record_id == record_id, steps.c.left_at.is_(None)))
    return dict(due or {})


def test_hours_sla_sets_due_and_reminder(office: Office) -> None:
    record = office.submitted("single")
    timer = timers_of(office, record["id"])["approve"]
    assert datetime.datetime.fromisoformat(timer["due_at"]) == at(24)
    assert datetime.datetime.fromisoformat(timer["remind_at"]) == at(20)


def test_working_days_skip_holidays() -> None:
    start = datetime.datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    # 1 to 7 October 2026 are the National Day holidays, and Saturday 10 October is a make-up working day.
    assert add_working_days(start, 1, SHANGHAI) == datetime.datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI)
    holiday = datetime.datetime(2026, 10, 7, 10, 0, tzinfo=SHANGHAI)
    assert add_working_days(holiday, 3, SHANGHAI) == datetime.datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI)


def test_working_days_without_calendar_data() -> None:
    # The calendar package has no holidays for 2099, so Monday to Friday count.
    friday = datetime.datetime(2099, 1, 2, 9, 30, tzinfo=SHANGHAI)
    assert friday.weekday() == 4
    assert add_working_days(friday, 1, SHANGHAI) == datetime.datetime(2099, 1, 5, 9, 30, tzinfo=SHANGHAI)
    assert not is_working_day(datetime.date(2099, 1, 3))


def test_working_day_sla_on_entry(office: Office) -> None:
    record = office.submitted("quorum")
    # Entered on Wednesday 2 December 2026 at 10:00: two working days later is Friday 4 December.
    due = timers_of(office, record["id"])["approve"]["due_at"]
    assert datetime.datetime.fromisoformat(due) == datetime.datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)


def test_sweep_reminds_once_then_expires(office: Office) -> None:
    record = office.submitted("single")
    office.clock.now = at(19)
    assert sweep(office.records).reminders == 0
    assert notifications(office) == []

    office.clock.now = at(21)
    assert sweep(office.records).reminders == 1
    assert sweep(office.records).reminders == 0
    # li manages the east branch where the claim was made; zhou manages the west branch.
    assert notifications(office) == [("li", "sla_reminder", "提醒：费用申请 1 的“同意”须在 2026-12-03 10:00 前完成。")]

    office.clock.now = at(25)
    report = sweep(office.records)
    # The expiry transition decides the record, so the escalation role gets no notification to take it over.
    assert (report.escalations, report.expiries) == (0, 1)
    assert [kind for _, kind, _ in notifications(office)] == ["sla_reminder"]
    assert office.records.get(SYSTEM_ACTOR, "expense", record["id"])["state"] == "rejected"
    actions = [action for action, _, _ in office.audit(record["id"])]
    assert actions[-2:] == ["sla_reminder:approve", "transition:reject"]
    assert office.audit(record["id"])[-1][2]["timed_out"] == [None, True]
    assert sweep(office.records).escalations == 0


def test_timers_survive_a_restart(office: Office) -> None:
    record = office.submitted("quorum")
    restarted = RecordService(office.model, office.schema, office.engine, access=office.records.access,
                              keys=office.records.keys, clock=lambda: datetime.datetime(2026, 12, 4, 3, 0, tzinfo=datetime.timezone.utc))
    report = sweep(restarted)
    assert (report.escalations, report.expiries) == (1, 0)
    assert office.records.get(SYSTEM_ACTOR, "expense", record["id"])["state"] == "review"


def test_leaving_the_state_ends_timers(office: Office) -> None:
    record = office.submitted("single")
    office.sign("li", record)
    office.clock.now = at(30)
    report = sweep(office.records)
    assert (report.reminders, report.escalations, report.expiries) == (0, 0, 0)
    assert notifications(office) == []


def test_escalated_role_may_sign(office: Office) -> None:
    record = office.submitted("quorum")
    with pytest.raises(ValidationFailed, match="waiting for m1, m2, m3, m4"):
        office.sign("chen", record)
    office.clock.now = datetime.datetime(2026, 12, 4, 3, 0, tzinfo=datetime.timezone.utc)
    assert sweep(office.records).escalations == 1
    record = office.records.get(SYSTEM_ACTOR, "expense", record["id"])
    record = office.sign("chen", record)
    assert record["state"] == "review"
    assert office.sign("m1", record)["state"] == "approved"


def test_escalated_step_in_role_inbox(office: Office) -> None:
    record = office.submitted("quorum")
    assert Inbox(office.records, office.actor("chen")).page(kind="approve").rows == []
    office.clock.now = datetime.datetime(2026, 12, 4, 3, 0, tzinfo=datetime.timezone.utc)
    assert sweep(office.records).escalations == 1
    rows = Inbox(office.records, office.actor("chen")).page(kind="approve").rows
    assert [int(row.record["id"]) for row in rows] == [int(record["id"])]


def test_late_sweep_sends_no_stale_reminder(office: Office) -> None:
    record = office.submitted("single")
    # The sweep first runs after the time limit: the step expires without a reminder naming a past time.
    office.clock.now = at(30)
    report = sweep(office.records)
    assert (report.reminders, report.expiries) == (0, 1)
    assert notifications(office) == []
    assert office.records.get(SYSTEM_ACTOR, "expense", record["id"])["state"] == "rejected"
