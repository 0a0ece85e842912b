"""Callbacks from providers: each event stored once, then handed to the integration's callback hook.

A provider parses and verifies a callback (integrations/signing.py) into a `Callback`. The
runtime stores it in `md_callback`, keyed by integration and event id, and in the same
transaction runs the hook the integration's YAML names in its `callback_hook` setting, as
the system. The same event sent again is recognised by its key and neither stored nor
handled twice.

A hook that fails rolls back what it wrote. The event is then kept with status "failed",
with its attempts and the error, and `receive` raises CallbackFailed. The provider's next
delivery of the event runs the hook again. After MAX_FAILED_DELIVERIES failures the response
to the provider lets it stop delivering the event, which waits for an administrator:
`metadesk callbacks` lists such events and runs them again.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from metamodel import model as m
from runtime.access import SYSTEM_ACTOR
from runtime.errors import ValidationFailed
from runtime.hook_records import call_hook
from runtime.hooks import HookContext

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

HANDLED = "handled"
FAILED = "failed"
#: Failed runs of an event's hook after which the provider is no longer asked to deliver it again.
MAX_FAILED_DELIVERIES = 5
#: Days a handled event is kept when app.yaml sets no `callback_retention_days`. A provider's
#: redelivery of an event older than that would run its hook again.
DEFAULT_CALLBACK_RETENTION_DAYS = 90
#: The maximum length, in characters, of the error text kept with a failed event.
MAX_ERROR_CHARS = 2000


class CallbackRejected(Exception):
    """A callback a provider rejects: unsigned, signed wrongly or too old by default; subclasses set another status."""

    #: The HTTP status of the response: 401 here, 400 for an unreadable body, 503 for a provider missing its secret.
    status = 401
    #: The error code of the response's JSON body.
    code = "rejected"

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


@dataclass(frozen=True)
class Callback:
    """One event a provider reported: its id (unique per integration), its kind and its data."""

    event_id: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)


class CallbackFailed(Exception):
    """The callback hook failed; the event is kept as failed with its attempts counted."""

    def __init__(self, integration: str, event_id: str, attempts: int, error: str) -> None:
        super().__init__(f"callback {integration} {event_id}: the hook failed (attempt {attempts}): {error}")
        self.integration = integration
        self.event_id = event_id
        self.attempts = attempts
        self.error = error

    @property
    def given_up(self) -> bool:
        """Whether the provider should stop delivering the event: it waits for an administrator now."""
        return self.attempts >= MAX_FAILED_DELIVERIES


def receive(service: RecordService, integration: m.Integration, callback: Callback) -> bool:
    """Store a callback and run the integration's callback hook; return False, doing nothing, for one already handled.

    An event kept as failed is handled again. Raises CallbackFailed when the hook fails.
    """
    table = service.schema.callbacks
    now = service.clock()
    key = (table.c.integration == integration.name, table.c.event_id == callback.event_id)
    try:
        with service._write() as connection:
            known = connection.execute(select(table.c.id, table.c.status, table.c.attempts).where(*key)).first()
            if known is not None and known.status == HANDLED:
                logger.info("callback %s %s received again; already handled as %s", integration.name, callback.event_id, known.id)
                return False
            if known is None:
                connection.execute(table.insert().values(integration=integration.name, event_id=callback.event_id,
                                                         kind=callback.kind, payload=dict(callback.payload), received_at=now,
                                                         status=HANDLED, attempts=1, handled_at=now))
            else:
                connection.execute(update(table).where(table.c.id == known.id)
                                   .values(status=HANDLED, attempts=known.attempts + 1, error=None, handled_at=now))
            _run_hook(service, connection, integration, callback)
    except IntegrityError:
        # Another worker stored the same event between the look-up and the insert.
        logger.info("callback %s %s stored by another worker at the same moment", integration.name, callback.event_id)
        return False
    except ValidationFailed as failed:
        attempts = _keep_failed(service, integration, callback, str(failed)[:MAX_ERROR_CHARS])
        raise CallbackFailed(integration.name, callback.event_id, attempts, str(failed)) from failed
    logger.info("callback %s %s (%s) handled", integration.name, callback.event_id, callback.kind)
    return True


def failed_callbacks(service: RecordService, integration: str | None = None) -> list[dict[str, Any]]:
    """Return the events whose hook failed last, oldest first, optionally of one integration."""
    table = service.schema.callbacks
    query = select(table).where(table.c.status == FAILED).order_by(table.c.id)
    if integration is not None:
        query = query.where(table.c.integration == integration)
    with service.engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def remove_handled_callbacks(service: RecordService, cutoff: datetime.datetime) -> int:
    """Delete the handled events received before `cutoff`; failed ones stay for an administrator. Return how many."""
    table = service.schema.callbacks
    with service._write() as connection:
        removed = int(connection.execute(delete(table).where(table.c.status == HANDLED, table.c.received_at < cutoff)).rowcount)
    if removed:
        logger.info("callback cleanup removed %s handled events received before %s", removed, cutoff.isoformat())
    return removed


def retry(service: RecordService, integration: m.Integration, event_id: str) -> bool:
    """Run the hook of a failed event again, as its redelivery would; return False if the event is not failed.

    Raises CallbackFailed when the hook fails again.
    """
    table = service.schema.callbacks
    with service.engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.integration == integration.name, table.c.event_id == event_id,
                                                     table.c.status == FAILED)).mappings().first()
    if row is None:
        return False
    return receive(service, integration, Callback(str(row["event_id"]), str(row["kind"]), dict(row["payload"] or {})))


def _run_hook(service: RecordService, connection: Any, integration: m.Integration, callback: Callback) -> None:
    hook_name = integration.settings.get("callback_hook")
    if not hook_name:
        return
    entity = m.Entity(integration.name, m.Label(integration.name, integration.name), integration.source, m.frozen_mapping({}))
    context = HookContext(SYSTEM_ACTOR, "", {}, f"callback:{callback.kind}",
                          extra={"integration": integration.name, "event_id": callback.event_id, "payload": dict(callback.payload)})
    call_hook(service, connection, str(hook_name), context, entity,
              doing=m.Label(f"处理 {integration.name} 回调", f"Handling the {integration.name} callback"))


def _keep_failed(service: RecordService, integration: m.Integration, callback: Callback, error: str) -> int:
    """Keep the event as failed in a transaction of its own, counting the attempt; return the attempts so far."""
    table = service.schema.callbacks
    key = (table.c.integration == integration.name, table.c.event_id == callback.event_id)
    for _ in range(2):
        try:
            with service._write() as connection:
                attempts = connection.scalar(select(table.c.attempts).where(*key))
                if attempts is None:
                    connection.execute(table.insert().values(integration=integration.name, event_id=callback.event_id,
                                                             kind=callback.kind, payload=dict(callback.payload),
                                                             received_at=service.clock(), status=FAILED, attempts=1, error=error))
                    attempts = 1
                else:
                    attempts = int(attempts) + 1
                    connection.execute(update(table).where(*key).values(status=FAILED, attempts=attempts, error=error,
                                                                        handled_at=None))
        except IntegrityError:
            # Another delivery of the event stored it first: count this attempt on that row.
            continue
        level = logging.ERROR if attempts >= MAX_FAILED_DELIVERIES else logging.WARNING
        logger.log(level, "callback %s %s: the hook failed (attempt %s of %s): %s", integration.name, callback.event_id,
                   attempts, MAX_FAILED_DELIVERIES, error)
        return attempts
    raise RuntimeError(f"callback {integration.name} {callback.event_id}: the failure could not be recorded")
