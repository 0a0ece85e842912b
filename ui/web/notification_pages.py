"""The user's notifications on the home page: reminders and escalations of flow steps, marked read one by one or all."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from runtime.notifications import mark_read, unread
from ui.web import i18n
from ui.web.display import local_time, record_url
from ui.web.forms import redirect
from ui.web.state import actor_of, lang_of, web

logger = logging.getLogger(__name__)


def notification_views(request: Request) -> list[dict[str, Any]]:
    """Return the signed-in user's unread notifications as the home page shows them, newest first."""
    state = web(request)
    lang = lang_of(request)
    zone = str(state.model.app.settings.get("timezone") or "Asia/Shanghai")
    views = []
    for row in unread(state.records, actor_of(request).id):
        url = record_url(row["entity"], row["record_id"]) if row["entity"] and row["record_id"] else None
        views.append({"id": row["id"], "when": local_time(row["created_at"], lang, zone), "url": url,
                      "message": i18n.pick(lang, row["message_en"], row["message_zh"])})
    return views


async def read(request: Request) -> Response:
    """Mark the posted notifications (or every unread one) of the signed-in user as read."""
    actor = actor_of(request)
    async with request.form() as form:
        posted = [str(value) for value in form.getlist("id")]
    state = web(request)
    ids = [int(value) for value in posted if value.isdigit()]
    if not ids:
        ids = [int(row["id"]) for row in unread(state.records, actor.id, limit=1000)]
    mark_read(state.records, actor.id, ids)
    logger.info("%s marked %s notifications read", actor.id, len(ids))
    return redirect(request, "/")


def routes() -> list[BaseRoute]:
    return [Route("/notifications/read", read, methods=["POST"])]
