"""Background jobs on Huey: a SQLite-backed queue by default, Redis when METADESK_REDIS_URL is set.

`Jobs` builds the queue of one application and registers its tasks on it. The producer
(the web app) and the consumer (`metadesk worker`, or the consumer embedded in
`metadesk serve`) build the same `Jobs`, so that both know every task by name. The
embedded consumer runs its worker and scheduler as threads of the server process and
leaves signal handling to uvicorn.

Built-in periodic task: the flow timer sweep (runtime/flow_sweep.py), every minute. It
holds a Huey lock while it runs, so sweeps never overlap, and each step it handles is
locked in the database, so two consumers that both run it act once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from huey.exceptions import TaskLockedException

from runtime.flow_sweep import SweepReport, sweep

if TYPE_CHECKING:
    from runtime.app import Runtime

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


class Jobs:
    """The queue of one application with its tasks registered."""

    def __init__(self, runtime: Runtime, queue: Huey | None = None) -> None:
        self.runtime = runtime
        self.huey = queue if queue is not None else make_queue(runtime)
        # A sweep queued but not started within two minutes is dropped: the next one covers it.
        self.flow_timers: Any = self.huey.periodic_task(crontab(minute="*"), name="flow_timers", expires=120)(self.sweep_flow_timers)

    def sweep_flow_timers(self) -> dict[str, int]:
        """Sweep the flow timers under the queue's lock; a sweep already running makes this one a no-op."""
        try:
            with self.huey.lock_task(SWEEP_LOCK):
                started = time.monotonic()
                report: SweepReport = sweep(self.runtime.records)
                logger.info("flow timer sweep: %s reminders, %s escalations, %s expiries, %s failures in %.3f s",
                            report.reminders, report.escalations, report.expiries, report.failures, time.monotonic() - started)
                return {"reminders": report.reminders, "escalations": report.escalations, "expiries": report.expiries,
                        "failures": report.failures}
        except TaskLockedException:
            logger.info("flow timer sweep skipped: another sweep is running")
            return {}

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
