"""The job run log: one row per attempt of each task, from Huey's signals, on SQLite or on Redis."""

from __future__ import annotations

import datetime
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from huey.api import Huey
from sqlalchemy import insert, select

from runtime.app import Runtime
from runtime.database import WRITE_OPTION
from runtime.job_log import JobFailure, short_error
from runtime.jobs import SWEEP_LOCK, Jobs, enqueue_after_commit
from tests.runtime.job_support import APPROVALS, open_runtime, queue, run_due, run_queued, runs, schedule_app

__all__ = ["queue"]

LATER = datetime.datetime(2100, 1, 1)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = open_runtime(APPROVALS, database_url, tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def jobs(runtime: Runtime, queue: Huey) -> Jobs:
    return Jobs(runtime, queue)


def test_success_is_recorded_from_queued_to_succeeded(jobs: Jobs) -> None:
    add = jobs.huey.task(name="add")(lambda a, b: a + b)
    add(2, 3)
    [queued] = runs(jobs)
    assert (queued.task, queued.status, queued.attempt) == ("add", "queued", 1)
    assert queued.queued_at is not None and queued.started_at is None

    assert run_queued(jobs.huey) == 1
    [run] = runs(jobs)
    assert run.status == "succeeded"
    assert run.task_id == queued.task_id
    assert run.started_at is not None
    assert run.finished_at is not None
    assert run.queued_at == queued.queued_at
    assert run.queued_at <= run.started_at <= run.finished_at
    assert run.duration_ms is not None and run.duration_ms >= 0
    assert (run.host, run.pid) == (socket.gethostname(), os.getpid())
    assert run.error is None


def test_failure_error_short_and_masked(jobs: Jobs) -> None:
    def fail() -> None:
        raise RuntimeError("cannot reach postgresql://app:s3cret@127.0.0.1/db with password=hunter2\n[SQL: SELECT secret]")

    jobs.huey.task(name="fail")(fail)()
    run_queued(jobs.huey)
    [run] = runs(jobs)
    assert run.status == "failed"
    assert run.error == "RuntimeError: cannot reach postgresql://app:***@127.0.0.1/db with password=***"
    assert run.error_zh is None
    assert run.reason("zh-CN") == run.error


def test_failure_in_both_languages() -> None:
    assert short_error(JobFailure("the file is missing", "文件不存在")) == ("the file is missing", "文件不存在")
    assert short_error(ValueError("x" * 500))[0].endswith("…")
    assert len(short_error(ValueError("x" * 500))[0]) == 300


def test_each_retry_is_an_attempt_of_its_own(jobs: Jobs) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"bank unreachable ({len(calls)})")
        return "done"

    jobs.huey.task(name="flaky", retries=3, retry_delay=30)(flaky)()
    run_queued(jobs.huey)
    run_due(jobs.huey, LATER)
    run_due(jobs.huey, LATER)
    rows = runs(jobs)
    assert [(row.attempt, row.status) for row in rows] == [(1, "retrying"), (2, "retrying"), (3, "succeeded")]
    assert len({row.task_id for row in rows}) == 1
    assert rows[0].error == "ConnectionError: bank unreachable (1)"
    assert rows[1].error == "ConnectionError: bank unreachable (2)"
    assert rows[2].error is None


def test_retries_exhausted_ends_failed(jobs: Jobs) -> None:
    def broken() -> None:
        raise ValueError("always")

    jobs.huey.task(name="broken", retries=1)(broken)()
    run_queued(jobs.huey)
    assert [(row.attempt, row.status) for row in runs(jobs)] == [(1, "retrying"), (2, "failed")]


def test_locked_run_is_recorded_as_locked(jobs: Jobs) -> None:
    def exclusive() -> None:
        with jobs.huey.lock_task("exclusive"):
            pass

    jobs.huey.task(name="exclusive")(exclusive)()
    with jobs.huey.lock_task("exclusive"):
        run_queued(jobs.huey)
    [run] = runs(jobs)
    assert run.status == "locked"
    assert run.reason("en") == "not run: another run of this task holds its lock"
    assert run.reason("zh-CN") == "未运行：该任务的另一次运行正持有锁"


def test_sweep_skipped_while_locked_is_recorded_as_skipped(jobs: Jobs) -> None:
    jobs.flow_timers()
    with jobs.locks.hold(SWEEP_LOCK):
        run_queued(jobs.huey)
    jobs.flow_timers()
    run_queued(jobs.huey)
    assert [(row.task, row.status, row.error) for row in runs(jobs)] == [
        ("flow_timers", "skipped", "another sweep of the flow timers was running"),
        ("flow_timers", "succeeded", None),
    ]


def test_expired_task_is_recorded_as_expired(jobs: Jobs) -> None:
    jobs.flow_timers()
    task = jobs.huey.dequeue()
    # The sweep expires two minutes after it was queued.
    jobs.huey.execute(task, datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=3))
    [run] = runs(jobs)
    assert (run.status, run.started_at) == ("expired", None)
    assert run.finished_at is not None


def test_prune_deletes_runs_older_than_the_retention(jobs: Jobs) -> None:
    table = jobs.runtime.schema.job_runs
    now = datetime.datetime.now(datetime.timezone.utc)
    with jobs.runtime.engine.begin() as connection:
        for index, age in enumerate((31, 29, 1)):
            connection.execute(insert(table).values(task="old", task_id=f"t{index}", attempt=1, status="succeeded",
                                                    recorded_at=now - datetime.timedelta(days=age)))
    assert jobs.log.retention_days == 30
    assert jobs.log.prune_if_due() == 1
    with jobs.runtime.engine.connect() as connection:
        assert sorted(connection.scalars(select(table.c.task_id))) == ["t1", "t2"]

    with jobs.runtime.engine.begin() as connection:
        connection.execute(insert(table).values(task="old", task_id="t9", attempt=1, status="failed",
                                                recorded_at=now - datetime.timedelta(days=40)))
    # Pruned less than an hour ago: the sweep leaves it for later.
    assert jobs.log.prune_if_due() == 0
    assert jobs.log.prune() == 1


def test_retention_comes_from_the_app_settings(database_url: str, tmp_path: Path, queue: Huey) -> None:
    directory = schedule_app(tmp_path, {}, settings="job_log_retention_days: 7")
    runtime = open_runtime(directory, database_url, tmp_path)
    try:
        assert Jobs(runtime, queue).log.retention_days == 7
    finally:
        runtime.close()


def test_filter_by_status_and_latest_run_per_task(jobs: Jobs) -> None:
    ok = jobs.huey.task(name="ok")(lambda: None)
    bad: Any = jobs.huey.task(name="bad")(lambda: 1 / 0)
    ok()
    bad()
    ok()
    run_queued(jobs.huey)
    assert [run.task for run in jobs.log.recent(status="failed")] == ["bad"]
    assert [run.task for run in jobs.log.recent(status="succeeded")] == ["ok", "ok"]
    latest = jobs.log.latest_by_task()
    assert {name: run.status for name, run in latest.items()} == {"ok": "succeeded", "bad": "failed"}
    assert latest["ok"].id == max(run.id for run in jobs.log.recent(task="ok"))
    assert latest["bad"].error == "ZeroDivisionError: division by zero"


def test_after_commit_enqueue_writes_queued_row(jobs: Jobs) -> None:
    engine = jobs.runtime.engine
    table = jobs.runtime.schema.job_runs
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
        connection.execute(insert(table).values(task="other", task_id="t1", attempt=1, status="succeeded",
                                                recorded_at=datetime.datetime.now(datetime.timezone.utc)))
        enqueue_after_commit(connection, jobs.flow_timers)
        connection.commit()
        # The next write transaction begins first: the queued row is written before it takes SQLite's write lock.
        started = time.monotonic()
        connection.execute(insert(table).values(task="other", task_id="t2", attempt=1, status="succeeded",
                                                recorded_at=datetime.datetime.now(datetime.timezone.utc)))
        assert time.monotonic() - started < 5
        assert [(run.task, run.status) for run in runs(jobs, "flow_timers")] == [("flow_timers", "queued")]
        connection.commit()
    assert len(jobs.huey) == 1
