"""runtime.callbacks.receive on a real database: each event stored once, with its hook run once, even under concurrency."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from sqlalchemy import select

from runtime.callbacks import Callback, receive
from runtime.hooks import HookContext, hook
from tests.conftest import AppFactory
from tests.web.conftest import WebApp

#: What provider_tests.slow_receipt saw, one entry per run.
seen: list[HookContext] = []


@hook("provider_tests.slow_receipt")
def slow_receipt(context: HookContext) -> None:
    """Record the context, then hold the transaction open long enough for a second delivery to arrive."""
    seen.append(context)
    time.sleep(0.3)


def app_with(callback_hook: str | None) -> dict[str, str | bytes | None]:
    settings = f"\n        settings: {{callback_hook: {callback_hook}}}" if callback_hook else ""
    return {"integrations/sms.yaml": f"""
        name: sms
        interface: sms
        provider: sandbox{settings}
    """}


def stored_rows(web_app: WebApp) -> list[dict[str, Any]]:
    table = web_app.runtime.schema.callbacks
    with web_app.runtime.engine.connect() as connection:
        return [dict(row) for row in connection.execute(select(table)).mappings()]


def test_stored_without_hook(make_app: AppFactory, make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(make_app(app_with(None)))
    integration = web_app.runtime.model.integrations["sms"]
    callback = Callback("evt-1", "sms_delivered", {"message_id": "m-1"})

    assert receive(web_app.runtime.records, integration, callback) is True
    assert receive(web_app.runtime.records, integration, callback) is False

    [row] = stored_rows(web_app)
    assert (row["integration"], row["event_id"], row["kind"], row["payload"]) == ("sms", "evt-1", "sms_delivered", {"message_id": "m-1"})
    assert row["received_at"] is not None


def test_hook_context(make_app: AppFactory, make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(make_app(app_with("provider_tests.slow_receipt")))
    seen.clear()
    receive(web_app.runtime.records, web_app.runtime.model.integrations["sms"],
            Callback("evt-1", "sms_failed", {"message_id": "m-1", "status": "failed"}))
    [context] = seen
    assert (context.actor.id, context.event) == ("system", "callback:sms_failed")
    assert dict(context.extra) == {"integration": "sms", "event_id": "evt-1", "payload": {"message_id": "m-1", "status": "failed"}}
    assert context.records is not None
    assert context.providers is not None


def test_concurrent_deliveries_stored_once(make_app: AppFactory, make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(make_app(app_with("provider_tests.slow_receipt")))
    integration = web_app.runtime.model.integrations["sms"]
    callback = Callback("evt-1", "sms_delivered", {"message_id": "m-1"})
    seen.clear()
    results: list[bool] = []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        results.append(receive(web_app.runtime.records, integration, callback))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [False, True]
    assert len(stored_rows(web_app)) == 1
    assert len(seen) == 1
