"""The page /admin/sandbox-sms: the newest text messages the sandbox SMS provider accepted, for demos.

The sandbox appends each message it accepts to a file in the data folder
(integrations.sms.sandbox_log_path). This page lists the newest of them, for each SMS
integration that uses the sandbox. The messages may hold one-time passwords, so only administrators see it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from integrations.sms import INTERFACE, read_sandbox_log, sandbox_log_path
from ui.web.admin_support import admin_only, admin_page
from ui.web.i18n import pick
from ui.web.state import lang_of, web

#: Messages shown per integration.
MESSAGE_LIMIT = 100


async def sandbox_sms_page(request: Request) -> Response:
    state = web(request)
    data_dir = state.runtime.settings.data_dir
    outboxes = []
    for integration in sorted(state.model.integrations.values(), key=lambda item: item.name):
        if integration.interface != INTERFACE or integration.provider != "sandbox":
            continue
        path = sandbox_log_path(data_dir, integration.name)
        outboxes.append({"integration": integration, "path": path, "messages": read_sandbox_log(path, MESSAGE_LIMIT)})
    title = pick(lang_of(request), "Sandbox text messages", "沙箱短信")
    return admin_page(request, "admin_sandbox_sms.html", {"title": title, "outboxes": outboxes, "limit": MESSAGE_LIMIT})


def routes() -> list[BaseRoute]:
    return [Route("/admin/sandbox-sms", admin_only(sandbox_sms_page), methods=["GET"])]
