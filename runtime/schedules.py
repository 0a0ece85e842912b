"""The application's YAML schedules as Huey periodic tasks, each calling its hook as the system.

Every enabled schedule becomes the periodic task `schedule:<name>`, run on the minutes its
cron expression selects in the application's time zone (runtime/cron.py). A run calls the
hook the YAML names (runtime/hooks.py) with a `ScheduleContext`: the system actor and the
system's record service, through which the hook reads and writes like any other caller
(permissions granted, every change audited). A run of a schedule

1. takes the job lock `schedule:<name>`, so that runs of one schedule never overlap: a
   run that finds it held ends as "locked" in the job log and is not retried;
2. claims its minute in the job log (`JobLog.claim`), because every consumer's scheduler
   enqueues periodic tasks: of two runs for 02:00 only one claims it, the other ends as
   "skipped". A retry, or a run started from the admin page, claims nothing;
3. calls the hook. A hook that is not registered fails the run with a message on how to
   install or register it, and the consumer carries on with other tasks.

Retries: a hook raises `RetryLater` to be run again. Huey retries a schedule up to
`RETRIES` times, the first after `RETRY_DELAY` seconds and each later one after twice the
wait before it (1, 2 and 4 minutes). Any other exception fails the run at once.

The lock lives in the application's database with a lease (runtime/job_locks.py), so a
lock left by a consumer that died while running a schedule lapses by itself.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from huey.exceptions import TaskLockedException

from runtime.access import SYSTEM_ACTOR
from runtime.cron import Cron, CronError
from runtime.hooks import HookContext, HookNotRegistered, registry
from runtime.job_log import JobFailure, attempt_of
from runtime.hook_records import HookRecords

if TYPE_CHECKING:
    from metamodel import model as m
    from runtime.jobs import Jobs

logger = logging.getLogger(__name__)

#: Retries of a run whose hook raised RetryLater.
RETRIES = 3
#: Seconds before the first retry; each later retry waits `RETRY_BACKOFF` times longer than the one before.
RETRY_DELAY = 60
RETRY_BACKOFF = 2.0

#: Prefix of the task name and of the lock of each schedule.
TASK_PREFIX = "schedule:"

#: The two ways a run starts: by its cron expression, or from the admin page.
CRON = "cron"
MANUAL = "manual"


class RetryLater(Exception):
    """Raised by a schedule's hook to be run again later, such as when a bank's file has not arrived yet.

    `delay` (seconds) sets the wait before the next attempt instead of the doubling one.
    After the last retry the run fails with `reason` in the job log.
    """

    def __init__(self, reason: str = "", *, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True, kw_only=True)
class ScheduleContext(HookContext):
    """The input of a schedule's hook.

    Of HookContext's fields, `actor` is the system actor, `event` is "schedule", and
    `entity` and `record` are empty: scheduled work belongs to no record.
    """

    #: The record service under the system actor: reads and writes everything, and audits each change.
    records: HookRecords
    #: The schedule's name in the YAML.
    schedule: str
    #: The minute the run was scheduled for, in the application's time zone (the current one for a manual run).
    scheduled_for: datetime.datetime
    #: 1 for the first run, 2 for the first retry, and so on.
    attempt: int
    #: Whether a user started the run from the admin page.
    manual: bool = False


class _RetryLaterLogFilter(logging.Filter):
    """Turn Huey's error with a traceback for a task that raised RetryLater into one line at INFO.

    Huey logs every exception of a task with its traceback at ERROR; a hook that asks to be
    run again has not failed, and the job log keeps its reason.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, RetryLater):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            task = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg, record.args = "task %s asked to be run again later: %s", (task, error.reason)
            record.exc_info = record.exc_text = None
        return True


_RETRY_LATER_FILTER = _RetryLaterLogFilter()


def task_name(schedule: str) -> str:
    return TASK_PREFIX + schedule


def register_schedules(jobs: Jobs) -> dict[str, Any]:
    """Register a periodic task for every enabled schedule of the application; return them by schedule name."""
    runtime = jobs.runtime
    zone = runtime.records.timezone
    # Huey's logger is named "huey"; adding the same filter object twice keeps one.
    logging.getLogger("huey").addFilter(_RETRY_LATER_FILTER)
    tasks: dict[str, Any] = {}
    for schedule in runtime.model.schedules.values():
        if not schedule.enabled:
            logger.info("schedule %s is disabled in the YAML; no task registered", schedule.name)
            continue
        try:
            cron = Cron.parse(schedule.cron)
        except CronError as exc:
            # `metadesk check` rejects such expressions, so this is a model built without it.
            logger.error("schedule %s not registered: %s", schedule.name, exc)
            continue
        run = _runner(jobs, schedule, cron)
        tasks[schedule.name] = jobs.huey.periodic_task(
            cron.validator(zone, utc=jobs.huey.utc), name=task_name(schedule.name), context=True,
            retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=RETRY_BACKOFF,
        )(run)
    return tasks


def _runner(jobs: Jobs, schedule: m.Schedule, cron: Cron) -> Any:
    def run(trigger: str = CRON, task: Any = None) -> None:
        run_schedule(jobs, schedule, cron, task, manual=trigger == MANUAL)

    run.__doc__ = f"Run the hook {schedule.hook} of the schedule {schedule.name}."
    return run


def run_schedule(jobs: Jobs, schedule: m.Schedule, cron: Cron, task: Any, *, manual: bool) -> None:
    """Run one attempt of a schedule inside Huey: lock, claim the minute, call the hook."""
    records = jobs.runtime.records
    zone = records.timezone
    now = records.clock().astimezone(zone)
    attempt = attempt_of(task)
    try:
        holder = jobs.locks.acquire(task_name(schedule.name))
    except TaskLockedException:
        # Another run is under way: this one is reported as locked, never retried.
        task.retries = 0
        raise
    try:
        scheduled_for = now.replace(second=0, microsecond=0)
        if not manual:
            scheduled_for = cron.last_at_or_before(now, zone) or scheduled_for
            if attempt == 1 and not jobs.log.claim(task, scheduled_for):
                jobs.log.skip(f"the run of {scheduled_for:%Y-%m-%d %H:%M} was already made by another consumer",
                              f"{scheduled_for:%Y-%m-%d %H:%M} 的运行已由另一个处理进程完成")
                return
        _call_hook(schedule, task, ScheduleContext(
            actor=SYSTEM_ACTOR, entity="", record={}, event="schedule", records=HookRecords(records, SYSTEM_ACTOR),
            providers=records.providers,
            schedule=schedule.name, scheduled_for=scheduled_for, attempt=attempt, manual=manual,
        ))
    finally:
        jobs.locks.release(task_name(schedule.name), holder)


def _call_hook(schedule: m.Schedule, task: Any, context: ScheduleContext) -> None:
    try:
        function = registry.get(schedule.hook)
    except HookNotRegistered:
        task.retries = 0
        raise JobFailure(
            f"the schedule {schedule.name} calls the hook {schedule.hook}, which is not registered: install the "
            f"package that provides it (entry point group metadesk.hooks) or register it with @hook({schedule.hook!r})",
            f"定时任务 {schedule.name} 调用的钩子 {schedule.hook} 尚未注册：请安装提供它的软件包（入口点组 "
            f"metadesk.hooks），或用 @hook({schedule.hook!r}) 注册它",
        ) from None

    logger.info("schedule %s: running %s (attempt %s, task %s)", schedule.name, schedule.hook, context.attempt, task.id)
    try:
        result = function(context)
    except RetryLater as exc:
        if not task.retries:
            raise JobFailure(
                f"the hook {schedule.hook} still asked to be retried after {context.attempt} attempts: {exc.reason}",
                f"钩子 {schedule.hook} 在第 {context.attempt} 次尝试后仍要求重试：{exc.reason}",
            ) from None
        if exc.delay is not None:
            task.retry_delay = exc.delay
        raise
    except Exception:
        # Only RetryLater requests another attempt.
        task.retries = 0
        raise
    if result:
        logger.info("schedule %s: %s returned %s", schedule.name, schedule.hook, ", ".join(sorted(result)))
