"""Build the Starlette application of one metadesk application folder.

The runtime opens in the lifespan, so that a server with several workers opens one per
worker. Middleware runs outermost first: security headers, the signed session, the
authentication of the user or API token, then CSRF on unsafe requests.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus
import logging
import os
from pathlib import Path
from typing import Any, AsyncIterator

from sqlalchemy import inspect
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from runtime.app import SCHEMA_REGISTRY, Runtime
from runtime.jobs import EmbeddedWorker, Jobs
from runtime.attachments import Attachments
from runtime.permission_admin import PermissionAdmin
from runtime.settings import Settings
from ui.web import admin, admin_jobs, api, auth, callbacks, detail, export_pages, forms, home, imports, lists, printing, reports
from ui.web.i18n import pick
from ui.web.rendering import make_templates, render
from ui.web.security import CSRFMiddleware, SecurityHeadersMiddleware
from ui.web.state import WebState, lang_of

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent.parent / "static"
SESSION_COOKIE = "metadesk_session"
#: The application folder `app_from_environment` serves, for servers that import the app by name.
APP_DIRECTORY_VARIABLE = "METADESK_APP_DIR"


class NotMigrated(RuntimeError):
    pass


def _route_modules() -> list[Any]:
    return [auth, home, api, imports, forms, detail, lists, export_pages, printing, reports, admin, admin_jobs, callbacks]


def open_state(directory: str | Path, settings: Settings) -> WebState:
    runtime = Runtime.open(directory, settings)
    if not inspect(runtime.engine).has_table(SCHEMA_REGISTRY):
        runtime.close()
        raise NotMigrated(
            f"the database {runtime.engine.url.render_as_string(hide_password=True)} has no tables yet; "
            f"run `metadesk migrate {directory}` first"
        )
    records = runtime.records_for_users()
    permissions = runtime.permissions()
    return WebState(runtime, records, runtime.accounts(), permissions, make_templates(),
                    Attachments(records, runtime.files), PermissionAdmin(permissions))


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        raise exc
    lang = lang_of(request)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": {"code": f"http_{exc.status_code}", "message": str(exc.detail)}}, status_code=exc.status_code)
    titles = {404: ("Not found", "页面不存在"), 405: ("Method not allowed", "不支持的请求方式"), 403: ("Not allowed", "无权访问")}
    en, zh = titles.get(exc.status_code, ("Error", "出错了"))
    # Starlette's default detail is the English reason phrase, which the translated title already gives.
    detail = None if exc.detail == HTTPStatus(exc.status_code).phrase else exc.detail
    return render(request, "error.html", {"title": pick(lang, en, zh), "detail": detail}, status=exc.status_code)


def build_app(
    directory: str | Path, settings: Settings | None = None, *, state: WebState | None = None, embedded_jobs: bool = False
) -> Starlette:
    """Return the web application of an application folder; the database must be migrated.

    With `embedded_jobs` the server process also consumes the job queue (runtime/jobs.py),
    as the single-process set-up of `make run` does.
    """
    settings = settings or Settings.from_environment()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = state or open_state(directory, settings)
        app.state.web = opened
        worker = EmbeddedWorker(Jobs(opened.runtime)) if embedded_jobs else None
        if worker is not None:
            worker.start()
        logger.info("serving %s", opened.model.app.name)
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if state is None:
                opened.runtime.close()

    routes: list[BaseRoute] = []
    for module in _route_modules():
        routes.extend(module.routes())
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC), name="static"))
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(SessionMiddleware, secret_key=settings.signing_secret(), session_cookie=SESSION_COOKIE,
                   max_age=None, same_site="lax", https_only=os.environ.get("METADESK_SECURE_COOKIES") == "1"),
        Middleware(auth.AuthenticationMiddleware),
        Middleware(CSRFMiddleware),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={HTTPException: _http_error})


def app_from_environment() -> Starlette:
    """Build the application named by METADESK_APP_DIR, for `uvicorn --factory` and several workers."""
    directory = os.environ.get(APP_DIRECTORY_VARIABLE)
    if not directory:
        raise RuntimeError(f"set {APP_DIRECTORY_VARIABLE} to the application folder to serve")
    return build_app(directory)
