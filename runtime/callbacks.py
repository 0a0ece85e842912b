"""Callbacks from providers: each event stored once, then handed to the integration's callback hook.

A provider parses and verifies a callback (integrations/signing.py) into a `Callback`. The
runtime stores it in `md_callback`, keyed by integration and event id, and in the same
transaction runs the hook the integration's YAML names in its `callback_hook` setting, as
the system. The same event sent again is recognised by its key and neither stored nor
handled twice. A hook that fails rolls the event back, so the provider's next delivery
is handled afresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from metamodel import model as m
from runtime.access import SYSTEM_ACTOR
from runtime.hook_records import call_hook
from runtime.hooks import HookContext

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)


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


def receive(service: RecordService, integration: m.Integration, callback: Callback) -> bool:
    """Store a callback and run the integration's callback hook; return False, doing nothing, for one already stored."""
    table = service.schema.callbacks
    now = service.clock()
    entity = m.Entity(integration.name, m.Label(integration.name, integration.name), integration.source, m.frozen_mapping({}))
    hook_name = integration.settings.get("callback_hook")
    try:
        with service._write() as connection:
            known = connection.scalar(select(table.c.id).where(table.c.integration == integration.name,
                                                               table.c.event_id == callback.event_id))
            if known is not None:
                logger.info("callback %s %s received again; already stored as %s", integration.name, callback.event_id, known)
                return False
            connection.execute(table.insert().values(integration=integration.name, event_id=callback.event_id, kind=callback.kind,
                                                     payload=dict(callback.payload), received_at=now))
            if hook_name:
                context = HookContext(SYSTEM_ACTOR, "", {}, f"callback:{callback.kind}",
                                      extra={"integration": integration.name, "event_id": callback.event_id,
                                             "payload": dict(callback.payload)})
                call_hook(service, connection, str(hook_name), context, entity,
                          doing=m.Label(f"处理 {integration.name} 回调", f"Handling the {integration.name} callback"))
    except IntegrityError:
        # Another worker stored the same event between the look-up and the insert.
        logger.info("callback %s %s stored by another worker at the same moment", integration.name, callback.event_id)
        return False
    logger.info("callback %s %s (%s) stored", integration.name, callback.event_id, callback.kind)
    return True
