"""enqueue_after_commit: a task reaches the queue once its transaction commits, and never when it rolls back."""

from __future__ import annotations

from typing import Any

import pytest
from huey.api import Huey
from sqlalchemy import Column, Engine, ForeignKeyConstraint, Integer, MetaData, Table, insert
from sqlalchemy.exc import IntegrityError

from runtime.jobs import enqueue_after_commit
from tests.runtime.job_support import queue

__all__ = ["queue"]

METADATA = MetaData()
PARENT = Table("t_parent", METADATA, Column("id", Integer, primary_key=True))
CHILD = Table("t_child", METADATA, Column("id", Integer, primary_key=True), Column("parent_id", Integer),
              ForeignKeyConstraint(["parent_id"], ["t_parent.id"], deferrable=True, initially="DEFERRED"))


@pytest.fixture
def tables(engine: Engine) -> Engine:
    METADATA.create_all(engine)
    return engine


@pytest.fixture
def notify(queue: Huey) -> Any:
    return queue.task(name="notify")(lambda record_id: record_id)


def queued(huey: Huey) -> list[tuple[Any, ...]]:
    return [task.args for task in huey.pending()]


def test_enqueued_only_after_the_commit(tables: Engine, queue: Huey, notify: Any) -> None:
    with tables.begin() as connection:
        connection.execute(insert(PARENT).values(id=1))
        enqueue_after_commit(connection, notify, 1)
        enqueue_after_commit(connection, notify, 2)
        assert queued(queue) == []
    assert queued(queue) == [(1,), (2,)]


def test_nothing_enqueued_when_the_transaction_rolls_back(tables: Engine, queue: Huey, notify: Any) -> None:
    with pytest.raises(RuntimeError):
        with tables.begin() as connection:
            connection.execute(insert(PARENT).values(id=1))
            enqueue_after_commit(connection, notify, 1)
            raise RuntimeError("validation failed")
    with tables.connect() as connection:
        connection.execute(insert(PARENT).values(id=2))
        enqueue_after_commit(connection, notify, 2)
        connection.rollback()
    assert queued(queue) == []

    # The connections go back to the pool clean: a later commit enqueues only its own task.
    with tables.begin() as connection:
        enqueue_after_commit(connection, notify, 3)
    assert queued(queue) == [(3,)]


def test_nothing_enqueued_when_the_commit_itself_fails(tables: Engine, queue: Huey, notify: Any) -> None:
    with pytest.raises(IntegrityError):
        with tables.begin() as connection:
            # The deferred foreign key is checked at COMMIT, after the commit event.
            connection.execute(insert(CHILD).values(id=1, parent_id=99))
            enqueue_after_commit(connection, notify, 1)
    assert queued(queue) == []
    with tables.begin() as connection:
        enqueue_after_commit(connection, notify, 2)
    assert queued(queue) == [(2,)]


def test_savepoint_rollback_drops_tasks(tables: Engine, queue: Huey, notify: Any) -> None:
    with tables.begin() as connection:
        enqueue_after_commit(connection, notify, 1)
        savepoint = connection.begin_nested()
        enqueue_after_commit(connection, notify, 2)
        savepoint.rollback()
        with connection.begin_nested():
            enqueue_after_commit(connection, notify, 3)
        enqueue_after_commit(connection, notify, 4)
    assert queued(queue) == [(1,), (3,), (4,)]


def test_savepoint_begun_before_the_first_call(tables: Engine, queue: Huey, notify: Any) -> None:
    with tables.begin() as connection:
        savepoint = connection.begin_nested()
        enqueue_after_commit(connection, notify, 1)
        savepoint.rollback()
    assert queued(queue) == []


def test_commit_as_you_go(tables: Engine, queue: Huey, notify: Any) -> None:
    with tables.connect() as connection:
        connection.execute(insert(PARENT).values(id=1))
        enqueue_after_commit(connection, notify, 1)
        connection.commit()
        # The next statement begins a new transaction, which shows the commit went through.
        connection.execute(insert(PARENT).values(id=2))
        assert queued(queue) == [(1,)]
        enqueue_after_commit(connection, notify, 2)
        connection.commit()
    assert queued(queue) == [(1,), (2,)]


def test_no_transaction_enqueues_at_once(tables: Engine, queue: Huey, notify: Any) -> None:
    with tables.connect() as connection:
        enqueue_after_commit(connection, notify, 1)
        assert queued(queue) == [(1,)]
