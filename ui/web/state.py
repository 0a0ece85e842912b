"""The state of the running web application, and how a request reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from runtime.access import Actor
from runtime.accounts import Accounts
from runtime.app import Runtime
from runtime.attachments import Attachments
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.records import RecordService


@dataclass
class WebState:
    runtime: Runtime
    #: The record service that enforces the application's permissions for the acting user.
    records: RecordService
    accounts: Accounts
    permissions: PermissionStore
    templates: Any
    #: Uploads and downloads of attachment fields, through `records` and so under the user's permissions.
    attachments: Attachments
    #: Changes to users, roles, org units and policies; callers check the "administer" action first.
    admin: PermissionAdmin

    @property
    def model(self) -> Any:
        return self.runtime.model


def web(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def actor_of(request: Request) -> Actor:
    """Return the signed-in user or API client of a request; set by the authentication middleware."""
    actor: Actor = request.scope["actor"]
    return actor


def lang_of(request: Request) -> str:
    actor = request.scope.get("actor")
    if actor is not None:
        return str(actor.lang)
    from ui.web.i18n import normalize

    return normalize(request.scope.get("session", {}).get("lang"))


def is_htmx(request: Request) -> bool:
    """Tell whether the request came from HTMX and expects a fragment rather than a whole page."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true"
