"""Locks for jobs that must not overlap, kept in the application's database with a lease.

A lock is a row of `md_job_lock`. Taking it inserts the row, or takes over a row whose
lease has run out, which is what a consumer that died while holding the lock leaves
behind. Otherwise Huey's TaskLockedException is raised, so the job log records the run as
"locked". Releasing deletes the row, but only the holder's. Every consumer of every
process shares the database, whichever queue backend runs the jobs.

The lease (`job_lock_minutes` in app.yaml `settings`, default 60) must exceed the longest
run of a job: a run still going when its lease lapses no longer keeps others out.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

from huey.exceptions import TaskLockedException
from sqlalchemy import Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

logger = logging.getLogger(__name__)

DEFAULT_LEASE_MINUTES = 60


class JobLocks:
    def __init__(self, engine: Engine, table: Table, *, lease: datetime.timedelta,
                 clock: Callable[[], datetime.datetime] | None = None) -> None:
        self.engine = engine
        self.table = table
        self.lease = lease
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """Hold the lock `name` for the block; raise TaskLockedException when another holder's lease runs."""
        holder = self.acquire(name)
        try:
            yield
        finally:
            self.release(name, holder)

    def acquire(self, name: str) -> str:
        """Take the lock and return the holder id to release it with."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        now = self.clock()
        values = {"holder": holder, "acquired_at": now, "expires_at": now + self.lease}
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(self.table).values(name=name, **values))
            return holder
        except IntegrityError:
            pass
        with self.engine.begin() as connection:
            taken = connection.execute(
                update(self.table).where(self.table.c.name == name, self.table.c.expires_at < now).values(**values)
            ).rowcount
            if taken == 1:
                logger.warning("lock %s: the previous holder's lease had run out; taken over by %s", name, holder)
                return holder
            row = connection.execute(select(self.table.c.holder, self.table.c.acquired_at).where(self.table.c.name == name)).first()
        held_by = f"{row.holder} since {row.acquired_at}" if row is not None else "another consumer"
        raise TaskLockedException(f"{name} is locked by {held_by}")

    def release(self, name: str, holder: str) -> None:
        with self.engine.begin() as connection:
            released = connection.execute(delete(self.table).where(self.table.c.name == name, self.table.c.holder == holder)).rowcount
        if released != 1:
            logger.warning("lock %s: no longer held by %s when released (its lease ran out)", name, holder)
