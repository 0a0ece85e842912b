"""Background jobs on Huey: a SQLite-backed queue by default, Redis when METADESK_REDIS_URL is set.

`Jobs` builds the queue of one application and registers its tasks on it. The producer
(the web app) and the consumer (`metadesk worker`, or the consumer embedded in
`metadesk serve`) build the same `Jobs`, so that both know every task by name. The
embedded consumer runs its worker and scheduler as threads of the server process and
leaves signal handling to uvicorn.

Built-in periodic task: the flow timer sweep (runtime/flow_sweep.py), every minute. It
holds a job lock (runtime/job_locks.py) while it runs, so sweeps never overlap, and each step it handles is
locked in the database, so two consumers that both run it act once. The sweep also prunes
the job log (runtime/job_log.py) once an hour.

The application's YAML schedules are periodic tasks too (runtime/schedules.py), and every
run of every task is written to the job log from Huey's signals.

Queued task: `export_file` writes the file of a large export (runtime/export_jobs.py).
Queued task: `import_file` checks or writes the rows of a large import (runtime/imports_jobs.py).
After a sweep, the same process removes expired export files, import uploads and handled
provider callbacks (older than app.yaml's `callback_retention_days`, default 90), each at most
once an hour.

Work that a database change starts is enqueued with `enqueue_after_commit`, so that a
consumer never picks up a task for a change that was rolled back or is not visible yet.
"""

from __future__ import annotations

import datetime
import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import SQLAlchemyError

from runtime.callbacks import DEFAULT_CALLBACK_RETENTION_DAYS, remove_handled_callbacks
from runtime.export_jobs import EXPORT_TASK, ExportJobs
from runtime.flow_sweep import SweepReport, sweep
from runtime.imports_jobs import import_runs, register_import_task
from runtime.job_locks import DEFAULT_LEASE_MINUTES, JobLocks
from runtime.job_log import DEFAULT_RETENTION_DAYS, JobLog
from runtime.schedules import register_schedules

if TYPE_CHECKING:
    from runtime.app import Runtime
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: Name of the lock held while the flow timers are swept.
SWEEP_LOCK = "flow-timer-sweep"


def make_queue(runtime: Runtime) -> Huey:
    """Return the application's Huey: on Redis when a Redis URL is set, else in data_dir/jobs.db."""
    name = f"metadesk-{runtime.model.app.name}"
    settings = runtime.settings
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url, utc=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.data_dir / "jobs.db"), utc=True)


#: The cleanup of import uploads and handled callbacks runs at most this often, in seconds.
CLEANUP_INTERVAL = 3600.0

class Jobs:
    """The queue of one application with its tasks registered."""

    def __init__(self, runtime: Runtime, queue: Huey | None = None) -> None:
        self.runtime = runtime
        self.huey = queue if queue is not None else make_queue(runtime)
        retention = int(runtime.model.app.settings.get("job_log_retention_days", DEFAULT_RETENTION_DAYS))
        self.log = JobLog(runtime.engine, runtime.schema.job_runs, retention_days=retention)
        self.log.connect(self.huey)
        install_after_commit(runtime.engine)
        # A sweep queued but not started within two minutes is dropped: the next one covers it.
        self.flow_timers: Any = self.huey.periodic_task(crontab(minute="*"), name="flow_timers", expires=120)(self.sweep_flow_timers)
        #: The periodic task of each enabled schedule of the YAML, by schedule name.
        self.schedules: dict[str, Any] = register_schedules(self)
        #: The task that checks or writes a large import (runtime/imports_jobs.py).
        self.imports: Any = register_import_task(self)
        self._policy_records: RecordService | None = None
        lease = int(runtime.model.app.settings.get("job_lock_minutes", DEFAULT_LEASE_MINUTES))
        #: Locks of the jobs that must not overlap, in the database (runtime/job_locks.py).
        self.locks = JobLocks(runtime.engine, runtime.schema.job_locks, lease=datetime.timedelta(minutes=lease),
                              clock=runtime.records.clock)
        #: Files users export in the background (runtime/export_jobs.py), and the task that writes one.
        self.exports = ExportJobs(runtime, self.policy_records,
                                  lambda connection, job_id: enqueue_after_commit(connection, self.export_file, job_id))
        self.export_file: Any = self.huey.task(name=EXPORT_TASK)(self.exports.run)
        self._last_cleanup: float | None = None

    def policy_records(self) -> RecordService:
        """Return the record service that enforces the application's permissions, built on first use.

        The sweep writes as the system, but finds who may act on a record through the
        permissions' data scopes, so a reminder goes only to approvers who can see the record.
        """
        if self._policy_records is None:
            self._policy_records = self.runtime.records_for_users()
        return self._policy_records

    def sweep_flow_timers(self) -> dict[str, int]:
        """Sweep the flow timers under the queue's lock; a sweep already running makes this one a no-op.

        Afterwards the job log is pruned, and expired export files, import uploads and handled callbacks are removed, each at most once an hour.
        """
        try:
            with self.locks.hold(SWEEP_LOCK):
                started = time.monotonic()
                report: SweepReport = sweep(self.policy_records())
                logger.info("flow timer sweep: %s reminders, %s escalations, %s expiries, %s failures in %.3f s",
                            report.reminders, report.escalations, report.expiries, report.failures, time.monotonic() - started)
        except TaskLockedException:
            logger.info("flow timer sweep skipped: another sweep is running")
            self.log.skip("another sweep of the flow timers was running", "另一次流程时限检查正在运行")
            return {}
        self._prune_log()
        return {"reminders": report.reminders, "escalations": report.escalations, "expiries": report.expiries,
                "failures": report.failures}

    def _prune_log(self) -> None:
        try:
            self.log.prune_if_due()
        except SQLAlchemyError:
            # The sweep itself succeeded; the next hour's prune catches up.
            logger.exception("job log prune failed")
        try:
            self.exports.remove_expired_if_due()
        except (SQLAlchemyError, OSError):
            logger.exception("export cleanup failed")
        now = time.monotonic()
        if self._last_cleanup is not None and now - self._last_cleanup < CLEANUP_INTERVAL:
            return
        self._last_cleanup = now
        runtime = self.runtime
        try:
            import_runs(runtime, runtime.records).remove_expired(datetime.timedelta(days=runtime.settings.import_retention_days))
        except (SQLAlchemyError, OSError):
            logger.exception("import cleanup failed")
        try:
            days = int(runtime.model.app.settings.get("callback_retention_days", DEFAULT_CALLBACK_RETENTION_DAYS))
            remove_handled_callbacks(runtime.records, runtime.records.clock() - datetime.timedelta(days=days))
        except SQLAlchemyError:
            logger.exception("callback cleanup failed")

    def consumer(self, *, workers: int = 1, embedded: bool = False) -> Consumer:
        """Return a consumer of this queue: with signal handlers for `metadesk worker`, without them when embedded."""
        consumer_class = _EmbeddedConsumer if embedded else Consumer
        return consumer_class(self.huey, workers=workers, worker_type="thread", periodic=True, check_worker_health=not embedded)


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer running inside the web server: its threads stop with the server, whose signals uvicorn handles."""

    def _set_signal_handlers(self) -> None:
        return None


class EmbeddedWorker:
    """Runs an embedded consumer in the background of a server process, started and stopped by its lifespan."""

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._consumer is not None:
                return
            self._consumer = self.jobs.consumer(embedded=True)
            self._consumer.start()
            logger.info("embedded job consumer started for %s", self.jobs.huey.name)

    def stop(self) -> None:
        with self._lock:
            if self._consumer is None:
                return
            self._consumer.stop(graceful=True)
            self._consumer = None
            logger.info("embedded job consumer stopped for %s", self.jobs.huey.name)


def run_now(jobs: Jobs, task: Any, *args: Any, timeout: float = 30.0) -> Any:
    """Enqueue a task and wait for its result; for commands and tests."""
    result = task(*args)
    return result.get(blocking=True, timeout=timeout)


# Enqueueing after a commit ---------------------------------------------------------------------

#: Key in `Connection.info` of the tasks waiting for the connection's transaction to end.
_PENDING = "metadesk_after_commit"

Enqueue = Callable[[], Any]


class _AfterCommit:
    """The tasks one connection enqueues once its transaction commits.

    `pending` contains the calls made in the open transaction, and `marks` the length of
    `pending` when each open savepoint began. `committed` contains the calls whose
    transaction requested its commit. The commit event comes before the database's COMMIT,
    so these calls wait until the connection begins its next transaction or returns to the
    pool. A failed COMMIT reaches `handle_error` first, which drops them.
    """

    def __init__(self) -> None:
        self.pending: list[Enqueue] = []
        self.marks: list[int] = []
        self.committed: list[Enqueue] = []


def _state(connection: Connection) -> _AfterCommit | None:
    state: _AfterCommit | None = connection.info.get(_PENDING)
    return state


def enqueue_after_commit(connection: Connection, task: Any, *args: Any) -> None:
    """Enqueue `task(*args)` once the transaction of `connection` commits; never if it rolls back.

    Calls made inside a savepoint that rolls back are dropped with it. Without a transaction
    under way the task is enqueued at once. A task that cannot be enqueued after the commit
    (the queue is down) is logged: the change it belongs to is already committed.
    """
    install_after_commit(connection.engine)
    call: Enqueue = functools.partial(task, *args)
    if not connection.in_transaction():
        call()
        return
    state = connection.info.setdefault(_PENDING, _AfterCommit())
    state.pending.append(call)


def install_after_commit(engine: Engine) -> None:
    """Listen to the transaction events of `engine` that `enqueue_after_commit` needs; safe to call again."""
    if event.contains(engine, "commit", _on_commit):
        return
    event.listen(engine, "begin", _on_begin)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "before_cursor_execute", _on_statement)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _on_rollback)
    event.listen(engine, "savepoint", _on_savepoint)
    event.listen(engine, "release_savepoint", _on_release_savepoint)
    event.listen(engine, "rollback_savepoint", _on_rollback_savepoint)
    event.listen(engine, "handle_error", _on_error)
    event.listen(engine, "checkin", _on_checkin)


def _on_statement(connection: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                  executemany: bool) -> None:
    # On SQLite the engine's own "begin" listener sends BEGIN (IMMEDIATE for writers) before
    # `_on_begin` runs. The tasks go out before it, or the job log's write on another connection
    # would wait for the write lock this connection is about to take.
    if statement.startswith("BEGIN"):
        _on_begin(connection)


def _on_commit(connection: Connection) -> None:
    state = _state(connection)
    if state is not None:
        state.committed.extend(state.pending)
        state.pending.clear()
        state.marks.clear()


def _on_begin(connection: Connection) -> None:
    # A new transaction: the one before it committed.
    state = _state(connection)
    if state is not None and state.committed:
        _run(state)


def _on_rollback(connection: Connection) -> None:
    state = _state(connection)
    if state is not None:
        state.pending.clear()
        state.marks.clear()
        state.committed.clear()


def _on_savepoint(connection: Connection, name: str | None) -> None:
    state = _state(connection)
    if state is not None:
        state.marks.append(len(state.pending))


def _on_release_savepoint(connection: Connection, name: str, context: Any) -> None:
    state = _state(connection)
    if state is not None and state.marks:
        state.marks.pop()


def _on_rollback_savepoint(connection: Connection, name: str, context: Any) -> None:
    state = _state(connection)
    if state is None:
        return
    # No mark: the savepoint began before the first call, so every pending call is inside it.
    mark = state.marks.pop() if state.marks else 0
    del state.pending[mark:]


def _on_error(context: Any) -> None:
    connection = context.connection
    state = _state(connection) if connection is not None else None
    if state is not None and state.committed:
        # The COMMIT itself failed.
        state.committed.clear()


def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    state = record.info.get(_PENDING) if record is not None else None
    if state is None:
        return
    state.pending.clear()
    state.marks.clear()
    if state.committed:
        _run(state)


def _run(state: _AfterCommit) -> None:
    calls = list(state.committed)
    state.committed.clear()
    for call in calls:
        try:
            call()
        except Exception:
            logger.exception("a task could not be enqueued after its transaction committed")
