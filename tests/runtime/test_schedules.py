"""YAML schedules as Huey periodic tasks: cron in the app's zone, the hook's context, retries, locks and one run per minute."""

from __future__ import annotations

import datetime
import logging
import time
import uuid
import zoneinfo
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from huey.api import Huey

from metamodel.build_declarations import cron_problem
from runtime.access import SYSTEM_ACTOR
from runtime.app import Runtime
from runtime.cron import Cron, CronError
from runtime.hooks import HookContext, registry
from runtime.jobs import EmbeddedWorker, Jobs
from runtime.schedules import MANUAL, RETRIES, RetryLater, ScheduleContext
from tests.runtime.job_support import (
    fixed_clock, naive_utc, open_runtime, queue, run_due, run_queued, runs, schedule_app, schedule_yaml, scheduled_etas,
)

__all__ = ["queue"]

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
LATER = datetime.datetime(2100, 1, 1)


def local(*parts: int) -> datetime.datetime:
    """A wall-clock time in Shanghai, the zone of the test app."""
    return datetime.datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


# Cron expressions ----------------------------------------------------------------------------

# 2026-12-06 is a Sunday, 2026-12-07 a Monday.
CASES = [
    ("0 9 * * 0", datetime.datetime(2026, 12, 6, 9, 0), True),
    ("0 9 * * 0", datetime.datetime(2026, 12, 7, 9, 0), False),
    ("0 9 * * 7", datetime.datetime(2026, 12, 6, 9, 0), True),
    ("0 9 * * 1", datetime.datetime(2026, 12, 7, 9, 0), True),
    ("0 9 * * 1-5", datetime.datetime(2026, 12, 5, 9, 0), False),
    ("0 9 * * 1-5", datetime.datetime(2026, 12, 4, 9, 0), True),
    ("0 9 * * 5-7", datetime.datetime(2026, 12, 6, 9, 0), True),
    ("*/15 * * * *", datetime.datetime(2026, 12, 4, 9, 45), True),
    ("*/15 * * * *", datetime.datetime(2026, 12, 4, 9, 50), False),
    ("10-50/20 * * * *", datetime.datetime(2026, 12, 4, 9, 30), True),
    ("10-50/20 * * * *", datetime.datetime(2026, 12, 4, 9, 40), False),
    ("0,30 8-18 * * *", datetime.datetime(2026, 12, 4, 18, 30), True),
    ("0,30 8-18 * * *", datetime.datetime(2026, 12, 4, 19, 0), False),
    ("0 0 */10 * *", datetime.datetime(2026, 12, 21, 0, 0), True),
    ("0 0 */10 * *", datetime.datetime(2026, 12, 20, 0, 0), False),
    ("0 2 1 1,7 *", datetime.datetime(2026, 7, 1, 2, 0), True),
    ("0 2 1 1,7 *", datetime.datetime(2026, 8, 1, 2, 0), False),
    # Both day fields restricted: either one selects the day, as in cron.
    ("0 0 1 * 1", datetime.datetime(2026, 12, 7, 0, 0), True),
    ("0 0 1 * 1", datetime.datetime(2026, 12, 1, 0, 0), True),
    ("0 0 1 * 1", datetime.datetime(2026, 12, 2, 0, 0), False),
    # A day-of-month step starts with *, so it does not count as restricting the day.
    ("0 0 */2 * 1", datetime.datetime(2026, 12, 14, 0, 0), False),
    ("0 0 */2 * 1", datetime.datetime(2026, 12, 7, 0, 0), True),
]


@pytest.mark.parametrize(("text", "moment", "expected"), CASES)
def test_cron_matches_like_cron(text: str, moment: datetime.datetime, expected: bool) -> None:
    cron = Cron.parse(text)
    assert cron.matches(moment) is expected
    assert cron.huey_test()(moment) is expected
    assert cron_problem(text) is None


def test_validator_reads_utc_in_app_zone() -> None:
    validate = Cron.parse("0 2 * * *").validator(SHANGHAI)
    # 02:00 in Shanghai is 18:00 UTC the day before.
    assert validate(datetime.datetime(2026, 12, 3, 18, 0))
    assert not validate(datetime.datetime(2026, 12, 4, 2, 0))
    sunday = Cron.parse("30 7 * * 0").validator(SHANGHAI)
    assert sunday(datetime.datetime(2026, 12, 5, 23, 30))
    assert not sunday(datetime.datetime(2026, 12, 6, 23, 30))


@pytest.mark.parametrize("text", ["0 9 * * */2", "5-1 * * * *", "60 * * * *", "0 24 * * *", "0 0 0 * *", "*/0 * * * *",
                                  "5/15 * * * *", "0 0 * *", "a * * * *"])
def test_cron_refuses_what_check_refuses(text: str) -> None:
    with pytest.raises(CronError):
        Cron.parse(text)
    assert cron_problem(text) is not None


def test_next_run_in_the_app_zone() -> None:
    daily = Cron.parse("0 2 * * *")
    assert daily.next_after(local(2026, 12, 4, 1, 59, 30), SHANGHAI) == local(2026, 12, 4, 2, 0)
    assert daily.next_after(local(2026, 12, 4, 2, 0), SHANGHAI) == local(2026, 12, 5, 2, 0)
    assert daily.next_after(datetime.datetime(2026, 12, 3, 17, 0, tzinfo=datetime.timezone.utc), SHANGHAI) == local(2026, 12, 4, 2, 0)
    assert Cron.parse("0 9 * * 0").next_after(local(2026, 12, 4, 12, 0), SHANGHAI) == local(2026, 12, 6, 9, 0)
    assert Cron.parse("0 0 29 2 *").next_after(local(2026, 12, 4, 12, 0), SHANGHAI) == local(2028, 2, 29, 0, 0)
    assert Cron.parse("*/15 * * * *").last_at_or_before(local(2026, 12, 4, 9, 44, 59), SHANGHAI) == local(2026, 12, 4, 9, 30)


@pytest.mark.parametrize(("text", "english", "chinese"), [
    ("* * * * *", "every minute", "每分钟"),
    ("*/5 * * * *", "every 5 minutes", "每 5 分钟"),
    ("15 * * * *", "every hour at minute 15", "每小时第 15 分钟"),
    ("0 2 * * *", "every day at 02:00", "每天 02:00"),
    ("30 8 * * 1,5", "every Monday, Friday at 08:30", "每周一、周五 08:30"),
    ("0 9 * * 0", "every Sunday at 09:00", "每周日 09:00"),
    ("0 3 1 * *", "on day 1 of every month at 03:00", "每月 1 日 03:00"),
    ("0 2 1 1,7 *", None, None),
])
def test_cron_in_words(text: str, english: str | None, chinese: str | None) -> None:
    cron = Cron.parse(text)
    assert (cron.describe("en"), cron.describe("zh-CN")) == (english, chinese)


# Schedules as periodic tasks ----------------------------------------------------------------------


@pytest.fixture
def hook_name(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[HookContext], Any]], str]:
    """Register a function as a hook under a fresh name, removed after the test."""

    def register(function: Callable[[HookContext], Any]) -> str:
        name = f"testjobs.h{uuid.uuid4().hex[:10]}"
        monkeypatch.setitem(registry._hooks, name, function)
        return name

    return register


@pytest.fixture
def scheduled(database_url: str, tmp_path: Path, queue: Huey) -> Iterator[Callable[..., Jobs]]:
    """Open the approvals app with the given schedules on the test's database and queue."""
    opened: list[Runtime] = []

    def make(**schedules: tuple[str, str] | tuple[str, str, bool]) -> Jobs:
        documents = {name: schedule_yaml(name, spec[0], spec[1], enabled=spec[2] if len(spec) > 2 else True)  # type: ignore[misc]
                     for name, spec in schedules.items()}
        runtime = open_runtime(schedule_app(tmp_path, documents), database_url, tmp_path)
        opened.append(runtime)
        return Jobs(runtime, queue)

    yield make
    for runtime in opened:
        runtime.close()


def fire(jobs: Jobs, name: str, at: datetime.datetime) -> None:
    """Enqueue a schedule's periodic task as a consumer's scheduler does at `at`, after checking that it is due."""
    task = jobs.schedules[name]
    assert task.task_class().validate_datetime(naive_utc(at))
    task()


def test_enabled_schedules_become_periodic_tasks(scheduled: Callable[..., Jobs]) -> None:
    jobs = scheduled(nightly=("0 2 * * *", "testjobs.nightly"), paused=("0 3 * * *", "testjobs.paused", False))
    assert sorted(task.name for task in jobs.huey._registry.periodic_tasks) == ["flow_timers", "schedule:nightly"]
    assert list(jobs.schedules) == ["nightly"]
    check = jobs.schedules["nightly"].task_class().validate_datetime
    assert check(datetime.datetime(2026, 12, 3, 18, 0))
    assert not check(datetime.datetime(2026, 12, 4, 2, 0))


def test_hook_gets_the_system_and_its_record_service(scheduled: Callable[..., Jobs], hook_name: Any) -> None:
    seen: list[HookContext] = []

    def hook(context: HookContext) -> None:
        assert isinstance(context, ScheduleContext)
        seen.append(context)
        context.records.create("expense", {"title": "夜间结算", "amount": "1", "procedure": "single"})

    jobs = scheduled(nightly=("0 2 * * *", hook_name(hook)))
    fixed_clock(jobs.runtime, local(2026, 12, 4, 2, 0, 3))
    fire(jobs, "nightly", local(2026, 12, 4, 2, 0, 1))
    run_queued(jobs.huey)

    [context] = seen
    assert context.actor == SYSTEM_ACTOR
    assert context.records is not None
    assert context.records.actor == SYSTEM_ACTOR
    assert (context.schedule, context.attempt, context.manual, context.event) == ("nightly", 1, False, "schedule")
    assert context.scheduled_for == local(2026, 12, 4, 2, 0)
    [run] = runs(jobs)
    assert (run.task, run.status, run.slot) == ("schedule:nightly", "succeeded", local(2026, 12, 4, 2, 0))
    created = jobs.runtime.records.list(SYSTEM_ACTOR, "expense")
    assert [row["title"] for row in created.rows] == ["夜间结算"]


def test_unregistered_hook_fails_the_run_and_the_consumer_carries_on(scheduled: Callable[..., Jobs]) -> None:
    jobs = scheduled(nightly=("* * * * *", "testjobs.not_installed"))
    worker = EmbeddedWorker(jobs)
    worker.start()

    def statuses() -> set[tuple[str, str]]:
        return {(run.task, run.status) for run in runs(jobs)}

    try:
        # The consumer's scheduler may enqueue both tasks as well, as it starts in a minute they run at.
        jobs.schedules["nightly"](MANUAL)
        jobs.flow_timers()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not {("schedule:nightly", "failed"), ("flow_timers", "succeeded")} <= statuses():
            time.sleep(0.1)
    finally:
        worker.stop()
    nightly = runs(jobs, "schedule:nightly")
    # A run the scheduler enqueued just before the consumer stopped stays queued; none may succeed.
    assert {run.status for run in nightly} <= {"failed", "skipped", "queued"}
    failed = next(run for run in nightly if run.status == "failed")
    assert failed.error == (
        "the schedule nightly calls the hook testjobs.not_installed, which is not registered: install the package "
        "that provides it (entry point group metadesk.hooks) or register it with @hook('testjobs.not_installed')")
    assert failed.reason("zh-CN") == (
        "定时任务 nightly 调用的钩子 testjobs.not_installed 尚未注册：请安装提供它的软件包（入口点组 metadesk.hooks），"
        "或用 @hook('testjobs.not_installed') 注册它")
    assert ("flow_timers", "succeeded") in statuses()
    assert {run.attempt for run in runs(jobs)} == {1}


def test_retry_later_retries_with_a_growing_delay(scheduled: Callable[..., Jobs], hook_name: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="huey")
    attempts: list[int] = []

    def hook(context: HookContext) -> None:
        assert isinstance(context, ScheduleContext)
        attempts.append(context.attempt)
        if context.attempt < 3:
            raise RetryLater("the bank file has not arrived")

    jobs = scheduled(nightly=("0 2 * * *", hook_name(hook)))
    fixed_clock(jobs.runtime, local(2026, 12, 4, 2, 0, 3))
    fire(jobs, "nightly", local(2026, 12, 4, 2, 0))
    started = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    run_queued(jobs.huey)
    [first_eta] = scheduled_etas(jobs.huey)
    run_due(jobs.huey, LATER)
    [second_eta] = scheduled_etas(jobs.huey)
    run_due(jobs.huey, LATER)

    assert attempts == [1, 2, 3]
    assert [(run.attempt, run.status) for run in runs(jobs)] == [(1, "retrying"), (2, "retrying"), (3, "succeeded")]
    assert runs(jobs)[0].error == "RetryLater: the bank file has not arrived"
    # Asking to be run again is no error: Huey's lines about it are INFO, without a traceback.
    retried = [record for record in caplog.records if "run again later" in record.getMessage()]
    assert [record.levelname for record in retried] == ["INFO", "INFO"]
    assert all("the bank file has not arrived" in record.getMessage() and not record.exc_info for record in retried)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    # 60 seconds before the first retry, twice that before the second (both counted from about `started`).
    assert 59 <= (first_eta - started).total_seconds() <= 90
    assert 119 <= (second_eta - started).total_seconds() <= 150


def test_retry_later_gives_up_after_the_last_retry(scheduled: Callable[..., Jobs], hook_name: Any) -> None:
    def hook(context: HookContext) -> None:
        raise RetryLater("still waiting", delay=1)

    jobs = scheduled(nightly=("0 2 * * *", hook_name(hook)))
    jobs.schedules["nightly"](MANUAL)
    run_queued(jobs.huey)
    for _ in range(RETRIES):
        run_due(jobs.huey, LATER)
    rows = runs(jobs)
    assert [run.status for run in rows] == ["retrying"] * RETRIES + ["failed"]
    assert rows[-1].attempt == RETRIES + 1
    assert rows[-1].error == f"the hook {jobs.runtime.model.schedules['nightly'].hook} still asked to be retried after 4 attempts: still waiting"
    assert jobs.huey.scheduled() == []


def test_other_errors_fail_at_once(scheduled: Callable[..., Jobs], hook_name: Any) -> None:
    def hook(context: HookContext) -> None:
        raise KeyError("overdue_days")

    jobs = scheduled(nightly=("0 2 * * *", hook_name(hook)))
    jobs.schedules["nightly"](MANUAL)
    run_queued(jobs.huey)
    [run] = runs(jobs)
    assert (run.status, run.error) == ("failed", "KeyError: 'overdue_days'")
    assert jobs.huey.scheduled() == []


def test_a_schedule_never_overlaps_itself(scheduled: Callable[..., Jobs], hook_name: Any) -> None:
    calls: list[int] = []
    jobs = scheduled(nightly=("0 2 * * *", hook_name(lambda context: calls.append(1))))
    jobs.schedules["nightly"](MANUAL)
    with jobs.locks.hold("schedule:nightly"):
        run_queued(jobs.huey)
    [run] = runs(jobs)
    assert run.status == "locked"
    assert calls == []
    assert jobs.huey.scheduled() == []


def test_two_consumers_run_a_minute_once(scheduled: Callable[..., Jobs], hook_name: Any) -> None:
    calls: list[datetime.datetime] = []

    def hook(context: HookContext) -> None:
        assert isinstance(context, ScheduleContext)
        calls.append(context.scheduled_for)

    jobs = scheduled(nightly=("0 2 * * *", hook_name(hook)))
    move = fixed_clock(jobs.runtime, local(2026, 12, 4, 2, 0, 2))
    # Each consumer's scheduler enqueues the same minute's run.
    fire(jobs, "nightly", local(2026, 12, 4, 2, 0, 1))
    fire(jobs, "nightly", local(2026, 12, 4, 2, 0, 40))
    run_queued(jobs.huey)
    # The second consumer ran late, in the next minute: still the same scheduled run.
    assert calls == [local(2026, 12, 4, 2, 0)]
    rows = runs(jobs)
    assert [run.status for run in rows] == ["succeeded", "skipped"]
    assert rows[1].reason("en") == "the run of 2026-12-04 02:00 was already made by another consumer"
    assert rows[1].reason("zh-CN") == "2026-12-04 02:00 的运行已由另一个处理进程完成"

    move(local(2026, 12, 4, 2, 1, 5))
    fire(jobs, "nightly", local(2026, 12, 4, 2, 0, 59))
    run_queued(jobs.huey)
    assert len(calls) == 1

    move(local(2026, 12, 5, 2, 0, 1))
    fire(jobs, "nightly", local(2026, 12, 5, 2, 0))
    jobs.schedules["nightly"](MANUAL)
    run_queued(jobs.huey)
    assert calls == [local(2026, 12, 4, 2, 0), local(2026, 12, 5, 2, 0), local(2026, 12, 5, 2, 0)]
    assert [run.status for run in runs(jobs)][-2:] == ["succeeded", "succeeded"]
