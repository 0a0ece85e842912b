"""A small application, written to a test's folder, whose bank, e-signature and GPS integrations take callbacks.

Its integrations run the hook `provider_tests.record_event`, which stores each callback
event as a `provider_event` record, so a test can count how often the hook ran. The bank and
GPS integrations use the HTTP providers (their addresses and secrets come from the test's
environment); the e-signature integration uses the sandbox.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from sqlalchemy import select

# Importing the interfaces registers their providers before the application is loaded.
from integrations import bank, e_signature, gps  # noqa: F401
from runtime.access import SYSTEM_ACTOR
from runtime.hooks import HookContext, HookError, hook
from tests.web.conftest import WebApp

FILES = {
    "app.yaml": """
        name: provider_tests
        label: {zh-CN: 集成回调示例, en: Provider callbacks example}
        version: "0.1.0"
        locales: [zh-CN, en]
        default_locale: zh-CN
        settings:
          timezone: Asia/Shanghai
        menus:
          - name: events
            label: {zh-CN: 回调, en: Callbacks}
            items:
              - entity: provider_event
        """,
    "entities/provider_event.yaml": """
        name: provider_event
        label: {zh-CN: 回调事件, en: Provider event}
        title: event_id
        fields:
          - {name: event_id, type: string, label: {zh-CN: 事件编号, en: Event id}, required: true, unique: true, length: {max: 128}}
          - {name: integration, type: string, label: {zh-CN: 集成, en: Integration}, required: true, length: {max: 63}}
          - {name: kind, type: string, label: {zh-CN: 类型, en: Kind}, required: true, length: {max: 63}}
        list:
          columns: [event_id, integration, kind]
        """,
    "permissions/access.yaml": """
        roles:
          - name: clerk
            label: {zh-CN: 经办人, en: Clerk}
        org_units:
          - name: company
            label: {zh-CN: 公司, en: Company}
            kind: company
        grants:
          - {role: clerk, entity: provider_event, actions: [read], scope: all}
        """,
    "integrations/bank.yaml": """
        name: bank
        interface: bank
        provider: http
        settings: {timeout_seconds: 2, retries: 1, backoff_seconds: 0.01, callback_hook: provider_tests.record_event}
        """,
    "integrations/e_signature.yaml": """
        name: e_signature
        interface: e_signature
        provider: sandbox
        settings: {callback_hook: provider_tests.record_event}
        """,
    "integrations/gps.yaml": """
        name: gps
        interface: gps
        provider: http
        settings: {timeout_seconds: 2, retries: 1, backoff_seconds: 0.01, callback_hook: provider_tests.record_event}
        """,
}


@hook("provider_tests.record_event")
def record_event(context: HookContext) -> None:
    """Store a callback event as a provider_event record."""
    if context.records is None:
        raise HookError("The record service is not available", "记录服务不可用")
    context.records.create("provider_event", {"event_id": context.extra["event_id"], "integration": context.extra["integration"],
                                              "kind": context.event.removeprefix("callback:")})


def write_app(folder: Path) -> Path:
    """Write the application's files under `folder`; return the folder."""
    for name, text in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


def stored_callbacks(web_app: WebApp) -> list[dict[str, Any]]:
    """Return the rows of md_callback, oldest first."""
    table = web_app.runtime.schema.callbacks
    with web_app.runtime.engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.id)).mappings().all()
    return [dict(row) for row in rows]


def recorded_events(web_app: WebApp) -> list[tuple[str, str, str]]:
    """Return the (integration, event id, kind) of each provider_event record, oldest first."""
    rows = sorted(web_app.runtime.records.list(SYSTEM_ACTOR, "provider_event").rows, key=lambda row: row["id"])
    return [(row["integration"], row["event_id"], row["kind"]) for row in rows]
