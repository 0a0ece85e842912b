"""The table of the job run log (runtime/job_log.py): one row per attempt of a background task."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

#: The type of row ids, as in runtime.schema.
_ID = BigInteger().with_variant(Integer(), "sqlite")


def job_run_table(metadata: MetaData, prefix: str) -> Table:
    """Build the job run table in `metadata`, named `<prefix>job_run`."""
    return Table(
        prefix + "job_run",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        #: The Huey task name: a built-in such as "flow_timers", or "schedule:<name>" for a YAML schedule.
        Column("task", String(127), nullable=False),
        #: Huey's id of the task; every retry of a task keeps it, so (task_id, attempt) names a row.
        Column("task_id", String(64), nullable=False),
        #: 1 for the first run, 2 for the first retry, and so on.
        Column("attempt", Integer, nullable=False),
        #: queued, running, succeeded, failed, retrying, locked, skipped or expired (runtime.job_log.STATUSES).
        Column("status", String(16), nullable=False),
        #: When the row was written first; the retention of the log counts from it.
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("queued_at", DateTime(timezone=True), nullable=True),
        Column("started_at", DateTime(timezone=True), nullable=True),
        Column("finished_at", DateTime(timezone=True), nullable=True),
        Column("duration_ms", BigInteger, nullable=True),
        #: A short error or skip reason in English, without SQL parameters or credentials.
        Column("error", Text, nullable=True),
        #: The same reason in Chinese, where the runtime wrote it; None for an error raised by other code.
        Column("error_zh", Text, nullable=True),
        #: The minute a periodic run was scheduled for, claimed by one consumer only (see runtime/schedules.py).
        Column("slot", DateTime(timezone=True), nullable=True),
        #: The consumer that ran it.
        Column("host", String(255), nullable=True),
        Column("pid", Integer, nullable=True),
        Index(None, "task_id", "attempt", unique=True),
        # NULL slots never collide, so only claimed minutes are unique per task.
        Index(None, "task", "slot", unique=True),
        Index(None, "recorded_at"),
        Index(None, "task", "recorded_at"),
    )


def job_lock_table(metadata: MetaData, prefix: str) -> Table:
    """Build the table of job locks (runtime/job_locks.py), named `<prefix>job_lock`: one row per lock held."""
    return Table(
        prefix + "job_lock",
        metadata,
        Column("name", String(127), primary_key=True),
        #: The consumer that holds the lock: host, process and a random part.
        Column("holder", String(255), nullable=False),
        Column("acquired_at", DateTime(timezone=True), nullable=False),
        #: When the lock lapses, so that a consumer that died while holding it does not block the job for ever.
        Column("expires_at", DateTime(timezone=True), nullable=False),
    )
