"""The job queue: the flow timer sweep as a periodic task, run by an embedded consumer, on SQLite or on Redis."""

from __future__ import annotations

import datetime
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.exceptions import TaskLockedException
from sqlalchemy import update

from runtime.access import SYSTEM_ACTOR
from runtime.app import Runtime
from runtime.history import record_history
from runtime.job_locks import JobLocks
from runtime.jobs import SWEEP_LOCK, EmbeddedWorker, Jobs
from runtime.migrate import migrate
from runtime.settings import Settings
from tests.conftest import REPOSITORY

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None, secret_key="test-secret")
    opened = Runtime.open(APPROVALS, settings)
    migrate(opened.engine, opened.schema, opened.model, backup_root=opened.backup_root)
    yield opened
    opened.close()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    """A queue of its own for each test: on Redis when METADESK_REDIS_URL is set (as in CI), else in a SQLite file."""
    redis_url = os.environ.get("METADESK_REDIS_URL")
    if redis_url:
        huey: Huey = RedisHuey(f"metadesk-test-{uuid.uuid4().hex}", url=redis_url, utc=True)
    else:
        huey = SqliteHuey("metadesk-test", filename=str(tmp_path / "jobs.db"), utc=True)
    yield huey
    huey.flush()


def overdue_record(runtime: Runtime) -> int:
    """Create an expense in review whose approval ran out an hour ago."""
    records = runtime.records
    draft = records.create(SYSTEM_ACTOR, "expense", {"title": "会议费", "amount": "800", "procedure": "single"})
    records.transition(SYSTEM_ACTOR, "expense", draft["id"], "submit", version=draft["version"])
    steps = runtime.schema.flows.steps
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).isoformat()
    with runtime.engine.begin() as connection:
        connection.execute(update(steps).where(steps.c.record_id == draft["id"], steps.c.left_at.is_(None)).values(
            due={"approve": {"due_at": past, "remind_at": None, "reminded": False, "escalated": False, "expired": False}}))
    return int(draft["id"])


def test_sweep_is_periodic_every_minute(runtime: Runtime, queue: Huey) -> None:
    jobs = Jobs(runtime, queue)
    periodic = [task.name for task in queue._registry.periodic_tasks]
    assert periodic == ["flow_timers"]
    task = jobs.flow_timers.task_class()
    for minute in (0, 1, 59):
        assert task.validate_datetime(datetime.datetime(2026, 12, 4, 9, minute))


def test_embedded_consumer_runs_the_sweep(runtime: Runtime, queue: Huey) -> None:
    record_id = overdue_record(runtime)
    jobs = Jobs(runtime, queue)
    worker = EmbeddedWorker(jobs)
    worker.start()
    try:
        # Huey keeps no results of periodic tasks, so the test watches the record instead.
        jobs.flow_timers()
        deadline = time.monotonic() + 30
        while runtime.records.get(SYSTEM_ACTOR, "expense", record_id)["state"] != "rejected" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert runtime.records.get(SYSTEM_ACTOR, "expense", record_id)["state"] == "rejected"
    actions = [entry.action for entry in record_history(runtime.records, SYSTEM_ACTOR, "expense", record_id)]
    assert actions.count("transition:reject") == 1
    # The expiry transition decided the record, so no escalation notification is sent.
    assert actions.count("sla_escalation:approve") == 0


def test_sweep_skipped_while_locked(runtime: Runtime, queue: Huey) -> None:
    record_id = overdue_record(runtime)
    jobs = Jobs(runtime, queue)
    with jobs.locks.hold(SWEEP_LOCK):
        assert jobs.sweep_flow_timers() == {}
    assert runtime.records.get(SYSTEM_ACTOR, "expense", record_id)["state"] == "review"
    assert jobs.sweep_flow_timers()["expiries"] == 1


def test_consumer_stops_within_its_timeout(runtime: Runtime, queue: Huey) -> None:
    worker = EmbeddedWorker(Jobs(runtime, queue))
    worker.start()
    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 10


def test_lock_of_dead_consumer_lapses(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    now = [datetime.datetime(2026, 12, 5, 2, 0, tzinfo=datetime.timezone.utc)]
    locks = JobLocks(runtime.engine, runtime.schema.job_locks, lease=datetime.timedelta(minutes=30), clock=lambda: now[0])
    # A consumer takes the lock and dies without releasing it.
    dead = locks.acquire("schedule:nightly")
    with pytest.raises(TaskLockedException, match="schedule:nightly is locked by"):
        locks.acquire("schedule:nightly")

    now[0] += datetime.timedelta(minutes=31)
    alive = locks.acquire("schedule:nightly")
    assert alive != dead
    # The dead holder's release, had it come back, leaves the new holder's lock alone.
    with caplog.at_level(logging.WARNING):
        locks.release("schedule:nightly", dead)
    assert "no longer held by" in caplog.text
    with pytest.raises(TaskLockedException):
        locks.acquire("schedule:nightly")
    locks.release("schedule:nightly", alive)
    locks.release("schedule:nightly", locks.acquire("schedule:nightly"))
