"""Helpers of the job tests: a queue of each test's own, an app with schedules, and running queued tasks by hand.

Tests run tasks through `Huey.execute`, the consumer's own path with every signal, so the
job log records what a consumer would write, at the moments the test chooses.
"""

from __future__ import annotations

import datetime
import os
import shutil
import textwrap
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from huey import RedisHuey, SqliteHuey
from huey.api import Huey

from runtime.app import Runtime
from runtime.job_log import JobRun
from runtime.jobs import Jobs
from runtime.migrate import migrate
from runtime.settings import Settings
from tests.conftest import REPOSITORY

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"


def make_queue(tmp_path: Path) -> Huey:
    """A queue for one test: on Redis under a name of its own when METADESK_REDIS_URL is set, else in a SQLite file."""
    redis_url = os.environ.get("METADESK_REDIS_URL")
    if redis_url:
        # Not blocking: `run_queued` then finds an empty queue at once instead of after a one-second wait.
        return RedisHuey(f"metadesk-test-{uuid.uuid4().hex}", url=redis_url, utc=True, blocking=False)
    return SqliteHuey("metadesk-test", filename=str(tmp_path / f"jobs-{uuid.uuid4().hex[:8]}.db"), utc=True)


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    huey = make_queue(tmp_path)
    yield huey
    huey.flush()


def schedule_app(tmp_path: Path, schedules: dict[str, str], *, settings: str = "") -> Path:
    """Copy the approvals app with the given schedules/<name>.yaml documents and extra app.yaml settings."""
    root = tmp_path / "app"
    shutil.copytree(APPROVALS, root)
    if settings:
        app_yaml = root / "app.yaml"
        text = app_yaml.read_text(encoding="utf-8").replace("settings:\n", "settings:\n" + textwrap.indent(textwrap.dedent(settings).strip() + "\n", "  "), 1)
        app_yaml.write_text(text, encoding="utf-8")
    for name, document in schedules.items():
        path = root / "schedules" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(document).lstrip("\n"), encoding="utf-8")
    return root


def schedule_yaml(name: str, cron: str, hook: str, *, enabled: bool = True) -> str:
    return (f"name: {name}\nlabel: {{zh-CN: 测试任务 {name}, en: Test job {name}}}\n"
            f'cron: "{cron}"\nhook: {hook}\nenabled: {"true" if enabled else "false"}\n')


def open_runtime(directory: Path, database_url: str, tmp_path: Path) -> Runtime:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None, secret_key="test-secret")
    runtime = Runtime.open(directory, settings)
    migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
    return runtime


def run_queued(huey: Huey, at: datetime.datetime | None = None) -> int:
    """Run every task waiting in the queue, as a consumer would; return how many ran."""
    count = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task, at)
        count += 1
    return count


def run_due(huey: Huey, at: datetime.datetime) -> int:
    """Move the tasks scheduled up to `at` (naive UTC) into the queue and run them, as the scheduler then a worker would."""
    for task in huey.read_schedule(at):
        huey.enqueue(task)
    return run_queued(huey, at)


def runs(jobs: Jobs, task: str | None = None) -> list[JobRun]:
    """Return the job log, oldest first."""
    return list(reversed(jobs.log.recent(limit=1000, task=task)))


def scheduled_etas(huey: Huey) -> list[datetime.datetime]:
    return sorted(task.eta for task in huey.scheduled())


def utc(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=datetime.timezone.utc)  # type: ignore[misc]


def naive_utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def fixed_clock(runtime: Runtime, moment: datetime.datetime) -> Any:
    """Make the system record service's clock read `moment`; return a setter to move it."""
    current = {"now": moment}
    runtime.records.clock = lambda: current["now"]

    def move(to: datetime.datetime) -> None:
        current["now"] = to

    return move
