"""Notifications to users inside the application: reminders, escalations and the like.

A notification is kept in `md_notification` in both languages and shown to its user in
the language they read the screens in. Delivery by e-mail or SMS goes through the
integration providers; this table is what every channel starts from.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import Connection, insert, select, update

if TYPE_CHECKING:
    from runtime.records import RecordService


def notify_users(
    service: RecordService, connection: Connection, users: Iterable[str], *, kind: str, entity: str | None, record_id: int | None,
    at: datetime.datetime, en: str, zh: str,
) -> None:
    rows = [{"user_id": user, "kind": kind, "entity": entity, "record_id": record_id, "message_en": en, "message_zh": zh,
             "created_at": at, "read_at": None} for user in sorted(set(users))]
    if rows:
        connection.execute(insert(service.schema.flows.notifications), rows)


def notify_role(
    service: RecordService, connection: Connection, role: str, *, kind: str, entity: str, record_id: int, at: datetime.datetime,
    en: str, zh: str,
) -> set[str]:
    """Notify every active user holding `role` who may read the record; return their ids."""
    from runtime.approvals import may_fire, roles_including
    from runtime.delegations import actor_of

    access = service.schema.access
    holders = {user for (user,) in connection.execute(
        select(access.user_roles.c.user_id).where(access.user_roles.c.role.in_(roles_including(service.model, (role,)))).distinct())}
    users = set()
    for user_id in holders:
        candidate = actor_of(service, connection, user_id)
        if candidate is not None and may_fire(service, connection, candidate, entity, record_id, "read"):
            users.add(user_id)
    notify_users(service, connection, users, kind=kind, entity=entity, record_id=record_id, at=at, en=en, zh=zh)
    return users


def unread(service: RecordService, user_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Return a user's unread notifications, newest first."""
    table = service.schema.flows.notifications
    with service.engine.connect() as connection:
        rows = connection.execute(
            select(table).where(table.c.user_id == user_id, table.c.read_at.is_(None)).order_by(table.c.id.desc()).limit(limit)
        ).mappings().all()
    return [dict(row) for row in rows]


def mark_read(service: RecordService, user_id: str, notification_ids: Iterable[int]) -> None:
    table = service.schema.flows.notifications
    with service._write() as connection:
        connection.execute(update(table).where(table.c.user_id == user_id, table.c.id.in_(list(notification_ids)))
                           .values(read_at=service.clock()))
