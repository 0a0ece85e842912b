"""The job run log: every attempt of every background task, written from Huey's signals into md_job_run.

`JobLog.connect` registers the receivers on a queue, and `Jobs` does so for every queue it
builds. Producers thus write the rows of the tasks they enqueue, and consumers the rows of
the tasks they run. A row is one attempt of one task (Huey's task id and the attempt
number) and moves through these states:

    queued    the task was enqueued, or scheduled for later (a retry, a task with an eta)
    running   a consumer started it; its host and process id are written
    succeeded the task returned
    skipped   the task called `JobLog.skip` (nothing to do), or was cancelled or revoked
    failed    the task raised and has no retry left, or the consumer stopped while it ran
    retrying  the task raised and Huey runs it again: the next attempt gets its own row
    locked    the task's lock was held by another run, so it did not run
    expired   the task waited in the queue past its expiry and was dropped

A row may skip states: a task enqueued before its queue had a log starts at "running",
and an expired one never runs. Errors are kept short (`short_error`): the first line of
the message, without SQL, parameters or credentials.

Retention: `prune` deletes the rows written more than `job_log_retention_days` days ago
(an app.yaml setting, 30 by default). The minute sweep (runtime/jobs.py) calls
`prune_if_due`, which prunes at most once an hour.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from huey import signals
from huey.api import Huey
from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from runtime.database import WRITE_OPTION

logger = logging.getLogger(__name__)

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
SKIPPED = "skipped"
FAILED = "failed"
RETRYING = "retrying"
LOCKED = "locked"
EXPIRED = "expired"

#: Every status a run may have, in the order of its life.
STATUSES: tuple[str, ...] = (QUEUED, RUNNING, SUCCEEDED, SKIPPED, FAILED, RETRYING, LOCKED, EXPIRED)

#: Days a row is kept when app.yaml sets no `job_log_retention_days`.
DEFAULT_RETENTION_DAYS = 30

#: Seconds between two prunes by `prune_if_due`.
PRUNE_INTERVAL = 3600.0

#: Characters of an error message kept in the log.
ERROR_LENGTH = 300

_URL_CREDENTIALS = re.compile(r"(\w[\w+.-]*://[^:/@\s]+):[^@\s]+@")
_SECRET_ASSIGNMENT = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|key)(\s*[=:]\s*)\S+")


class JobFailure(Exception):
    """An error a task reports in both languages, written to the log as it is."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


def short_error(exc: BaseException) -> tuple[str, str | None]:
    """Return a short English text of an error, and a Chinese one when the error carries it.

    Only the first line of the message is kept: SQLAlchemy puts the statement and its
    parameters, and PostgreSQL the offending values, on the lines after it. Passwords in
    URLs and `password=...`-like assignments are masked.
    """
    if isinstance(exc, JobFailure):
        return _shorten(exc.en), _shorten(exc.zh)
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    text = _URL_CREDENTIALS.sub(r"\1:***@", text)
    text = _SECRET_ASSIGNMENT.sub(r"\1\2***", text)
    return _shorten(text), None


def _shorten(text: str) -> str:
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def attempt_of(task: Any) -> int:
    """Return which attempt of a task this is: 1 for the first run, 2 for the first retry..."""
    configured = int(getattr(type(task), "default_retries", 0) or 0)
    return max(1, configured - int(task.retries or 0) + 1)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """Return a stored time as an aware UTC time: SQLite returns them naive, as they were written in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=datetime.timezone.utc) if moment.tzinfo is None else moment.astimezone(datetime.timezone.utc)


@dataclass(frozen=True)
class JobRun:
    """One attempt of a task, as stored in the log. Times are aware, in UTC."""

    id: int
    task: str
    task_id: str
    attempt: int
    status: str
    recorded_at: datetime.datetime
    queued_at: datetime.datetime | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    duration_ms: int | None
    error: str | None
    error_zh: str | None
    slot: datetime.datetime | None
    host: str | None
    pid: int | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JobRun:
        return cls(
            id=int(row["id"]), task=row["task"], task_id=row["task_id"], attempt=int(row["attempt"]), status=row["status"],
            recorded_at=_utc(row["recorded_at"]) or utc_now(), queued_at=_utc(row["queued_at"]),
            started_at=_utc(row["started_at"]), finished_at=_utc(row["finished_at"]), duration_ms=row["duration_ms"],
            error=row["error"], error_zh=row["error_zh"], slot=_utc(row["slot"]), host=row["host"], pid=row["pid"],
        )

    def reason(self, lang: str) -> str | None:
        """Return the error or skip reason in `lang` where the runtime wrote both, else as it was raised."""
        if lang != "en" and self.error_zh:
            return self.error_zh
        return self.error


class JobLog:
    """Writes the rows of md_job_run from Huey's signals, and reads them for the admin page."""

    def __init__(self, engine: Engine, table: Table, *, retention_days: int = DEFAULT_RETENTION_DAYS,
                 clock: Callable[[], datetime.datetime] = utc_now) -> None:
        self.engine = engine
        self.table = table
        self.retention_days = retention_days
        self.clock = clock
        self._host = socket.gethostname()[:255]
        # Signals of a task arrive on the consumer thread that runs it.
        self._local = threading.local()
        self._last_prune: float | None = None

    def connect(self, huey: Huey) -> None:
        """Register the log's receivers on a queue's signals."""
        receivers: dict[str, Callable[..., None]] = {
            signals.SIGNAL_ENQUEUED: self._on_queued,
            signals.SIGNAL_SCHEDULED: self._on_queued,
            signals.SIGNAL_EXECUTING: self._on_executing,
            signals.SIGNAL_COMPLETE: self._on_complete,
            signals.SIGNAL_ERROR: self._on_error,
            signals.SIGNAL_TIMEOUT: self._on_timeout,
            signals.SIGNAL_RETRYING: self._on_retrying,
            signals.SIGNAL_LOCKED: self._on_locked,
            signals.SIGNAL_EXPIRED: self._on_expired,
            signals.SIGNAL_CANCELED: self._on_canceled,
            signals.SIGNAL_REVOKED: self._on_revoked,
            signals.SIGNAL_INTERRUPTED: self._on_interrupted,
        }
        for name, receiver in receivers.items():
            huey.signal(name)(receiver)

    # Calls from a running task ----------------------------------------------------------------

    def skip(self, en: str, zh: str) -> None:
        """Mark the task running on this thread as skipped with a reason; it then ends as "skipped", not "succeeded"."""
        task_id = getattr(self._local, "task_id", None)
        if task_id is not None:
            self._local.skipped = (task_id, en, zh)

    def claim(self, task: Any, slot: datetime.datetime) -> bool:
        """Claim the minute a periodic run was scheduled for; False if another run of the task already has it.

        Each consumer's scheduler enqueues periodic tasks, so two consumers of one queue both
        enqueue a run for the same minute. The unique (task, slot) index lets only one claim it.
        """
        values = {"slot": slot.astimezone(datetime.timezone.utc)}
        try:
            self._write(task, values, insert_values={"status": RUNNING})
        except IntegrityError:
            logger.info("%s %s: the run of %s was claimed by another consumer", task.name, task.id, slot.isoformat())
            return False
        return True

    # Receivers -------------------------------------------------------------------------------

    def _on_queued(self, signal: str, task: Any) -> None:
        now = self.clock()
        row = {"task": task.name, "task_id": task.id, "attempt": attempt_of(task), "status": QUEUED,
               "recorded_at": now, "queued_at": now}
        key = (self.table.c.task_id == task.id, self.table.c.attempt == attempt_of(task))
        with self._connection() as connection, connection.begin():
            if connection.execute(select(self.table.c.id).where(*key)).first() is None:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(self.table).values(**row))
                except IntegrityError:
                    # Another producer wrote the row first.
                    logger.debug("%s %s: attempt %s already in the job log", task.name, task.id, row["attempt"])

    def _on_executing(self, signal: str, task: Any) -> None:
        self._local.task_id = task.id
        # Stored, because a task may set its retries to 0 to stop further attempts.
        self._local.attempt = attempt_of(task)
        self._local.started = time.monotonic()
        self._local.skipped = None
        self._write(task, {"status": RUNNING, "started_at": self.clock(), "host": self._host, "pid": os.getpid(),
                           "finished_at": None, "error": None, "error_zh": None})

    def _on_complete(self, signal: str, task: Any) -> None:
        skipped = getattr(self._local, "skipped", None)
        if skipped is not None and skipped[0] == task.id:
            self._finish(task, SKIPPED, skipped[1], skipped[2])
        else:
            self._finish(task, SUCCEEDED)

    def _on_error(self, signal: str, task: Any, exc: BaseException | None = None) -> None:
        en, zh = short_error(exc) if exc is not None else ("unknown error", "未知错误")
        self._finish(task, RETRYING if task.retries else FAILED, en, zh)

    def _on_timeout(self, signal: str, task: Any) -> None:
        en = f"timed out after {task.timeout} s"
        self._finish(task, RETRYING if task.retries else FAILED, en, f"运行超过 {task.timeout} 秒，已超时")

    def _on_retrying(self, signal: str, task: Any) -> None:
        # After an error the row is already "retrying", but a lock or RetryTask left it "running".
        with self._connection() as connection, connection.begin():
            connection.execute(update(self.table).where(*self._key(task), self.table.c.status == RUNNING).values(
                status=RETRYING, finished_at=self.clock()))

    def _on_locked(self, signal: str, task: Any) -> None:
        self._finish(task, LOCKED, "not run: another run of this task holds its lock",
                     "未运行：该任务的另一次运行正持有锁")

    def _on_expired(self, signal: str, task: Any) -> None:
        self._finish(task, EXPIRED, "not run: it waited in the queue past its expiry time",
                     "未运行：在队列中等待超过了有效期", ran=False)

    def _on_canceled(self, signal: str, task: Any) -> None:
        self._finish(task, SKIPPED, "cancelled before it finished", "在完成前被取消")

    def _on_revoked(self, signal: str, task: Any) -> None:
        self._finish(task, SKIPPED, "not run: it was revoked", "未运行：已被撤销", ran=False)

    def _on_interrupted(self, signal: str, task: Any) -> None:
        # The consumer's main thread reports the tasks its workers were running.
        self._finish(task, FAILED, "interrupted: the consumer stopped before the task finished",
                     "已中断：任务完成前处理进程已停止", ran=False)

    # Writing ---------------------------------------------------------------------------------

    def _finish(self, task: Any, status: str, error: str | None = None, error_zh: str | None = None, *, ran: bool = True) -> None:
        """Write how an attempt ended; `ran` is False for the signals of a task that was not started on this thread."""
        values: dict[str, Any] = {"status": status, "finished_at": self.clock(), "error": error, "error_zh": error_zh}
        started = getattr(self._local, "started", None)
        if ran and getattr(self._local, "task_id", None) == task.id and started is not None:
            values["duration_ms"] = int((time.monotonic() - started) * 1000)
        self._write(task, values, ran=ran)

    def _write(self, task: Any, values: Mapping[str, Any], *, insert_values: Mapping[str, Any] | None = None,
               ran: bool = True) -> None:
        """Update the row of a task's attempt, or insert it when no row exists yet (the task was queued elsewhere)."""
        attempt = self._attempt(task) if ran else attempt_of(task)
        key = (self.table.c.task_id == task.id, self.table.c.attempt == attempt)
        with self._connection() as connection, connection.begin():
            changed = connection.execute(update(self.table).where(*key).values(**values)).rowcount
            if changed:
                return
            now = self.clock()
            connection.execute(insert(self.table).values(
                task=task.name, task_id=task.id, attempt=attempt, recorded_at=now,
                **{"status": QUEUED, **(insert_values or {}), **values}))

    def _attempt(self, task: Any) -> int:
        """Return the attempt of the task running on this thread, else the attempt its remaining retries give."""
        if getattr(self._local, "task_id", None) == task.id:
            return int(self._local.attempt)
        return attempt_of(task)

    def _key(self, task: Any) -> tuple[Any, Any]:
        return self.table.c.task_id == task.id, self.table.c.attempt == self._attempt(task)

    def _connection(self) -> Connection:
        return self.engine.connect().execution_options(**{WRITE_OPTION: True})

    # Retention ------------------------------------------------------------------------------

    def prune(self, now: datetime.datetime | None = None) -> int:
        """Delete the rows written more than `retention_days` days before `now`; return how many."""
        cutoff = (now or self.clock()) - datetime.timedelta(days=self.retention_days)
        with self._connection() as connection, connection.begin():
            removed = connection.execute(delete(self.table).where(self.table.c.recorded_at < cutoff)).rowcount
        if removed:
            logger.info("job log: %s runs older than %s days deleted", removed, self.retention_days)
        return int(removed or 0)

    def prune_if_due(self) -> int:
        """Prune unless this log pruned within the last hour."""
        now = time.monotonic()
        if self._last_prune is not None and now - self._last_prune < PRUNE_INTERVAL:
            return 0
        self._last_prune = now
        return self.prune()

    # Reading ---------------------------------------------------------------------------------

    def recent(self, *, limit: int = 100, status: str | None = None, task: str | None = None) -> list[JobRun]:
        """Return the latest runs, newest first, of one status or task when given."""
        query = select(self.table).order_by(self.table.c.recorded_at.desc(), self.table.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(self.table.c.status == status)
        if task is not None:
            query = query.where(self.table.c.task == task)
        with self.engine.connect() as connection:
            return [JobRun.from_row(row) for row in connection.execute(query).mappings()]

    def latest_by_task(self) -> dict[str, JobRun]:
        """Return the newest run of each task that has one."""
        newest = select(func.max(self.table.c.id).label("id")).group_by(self.table.c.task).subquery()
        query = select(self.table).join(newest, self.table.c.id == newest.c.id)
        with self.engine.connect() as connection:
            return {row["task"]: JobRun.from_row(row) for row in connection.execute(query).mappings()}
