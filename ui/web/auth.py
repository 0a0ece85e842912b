"""Who is asking: sessions for people, bearer tokens for integrations, and the sign-in pages.

A session contains the user's id, the password epoch it was signed in under, and the time
of the last request. It ends after the application's `session_timeout_minutes` without a
request, and at once when the password changes. Pages of a request without a valid
session redirect to the sign-in page (HTMX requests get an `HX-Redirect`); the API
answers 401 with a JSON error.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ui.web.i18n import LANGUAGES, normalize, pick
from ui.web.rendering import render
from ui.web.security import CSRF_FIELD, csrf_token
from ui.web.state import WebState, web

logger = logging.getLogger(__name__)

#: Paths anyone may open without signing in. Callbacks from providers carry their own
#: signatures (runtime/callbacks.py) instead of a session.
PUBLIC_PREFIXES = ("/static/", "/sign-in", "/healthz", "/api/openapi.json", "/callbacks/")
SIGN_IN = "/sign-in"
#: How often a session's last-request time is written back to its cookie, at most.
SEEN_RESOLUTION_SECONDS = 60
#: Session key set when a language is picked before signing in, so that sign-in keeps that choice.
_PICKED_SIGNED_OUT = "lang_picked"


def _client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class AuthenticationMiddleware:
    """Sets `scope["actor"]` for a signed-in user or a valid API token, or refuses the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        state: WebState = scope["app"].state.web
        headers = Headers(scope=scope)
        is_api = path.startswith("/api/")

        authorization = headers.get("authorization", "")
        if is_api and authorization.lower().startswith("bearer "):
            user = state.accounts.user_of_token(authorization[7:].strip())
            if user is None:
                await _api_rejection(scope, receive, send, "The API token is unknown or revoked.", "API 令牌无效或已被吊销。")
                return
            scope["actor"] = state.accounts.actor(user, address=_client_address(scope), lang=_api_lang(headers))
            await self.app(scope, receive, send)
            return

        session: dict[str, Any] = scope.get("session", {})
        user, expired = self._session_user(state, session)
        if user is not None:
            scope["actor"] = state.accounts.actor(user, address=_client_address(scope), lang=session.get("lang"))
            await self.app(scope, receive, send)
            return
        if path.startswith(PUBLIC_PREFIXES) or path == "/language":
            await self.app(scope, receive, send)
            return
        if is_api:
            await _api_rejection(scope, receive, send, "Sign in or send an API token.", "请登录或提供 API 令牌。")
            return
        # The raw path and query are percent-encoded already; only the characters that would
        # break the outer query are encoded again.
        raw_path = (scope.get("raw_path") or path.encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        target = raw_path + ("?" + query if query else "")
        location = f"{SIGN_IN}?next={quote(target, safe='%')}" + ("&expired=1" if expired else "")
        if headers.get("hx-request") == "true":
            response: Response = Response(status_code=204, headers={"HX-Redirect": location})
        else:
            response = RedirectResponse(location, status_code=303)
        await response(scope, receive, send)

    def _session_user(self, state: WebState, session: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
        user_id = session.get("uid")
        if not user_id:
            return None, False
        timeout = 60 * float(state.model.app.settings.get("session_timeout_minutes", 30))
        now = time.time()
        if now - float(session.get("seen", 0)) > timeout:
            _end_session(session)
            return None, True
        user = state.accounts.user(user_id)
        if user is None or int(user["session_epoch"] or 0) != int(session.get("epoch", -1)):
            _end_session(session)
            return None, True
        # Rewriting the signed cookie on every request costs a Set-Cookie per response, so the
        # time of the last request is kept to the minute: a session may end up to a minute early.
        if now - float(session.get("seen", 0)) >= SEEN_RESOLUTION_SECONDS:
            session["seen"] = now
        return user, False


def _end_session(session: dict[str, Any]) -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _api_lang(headers: Headers) -> str:
    return normalize(headers.get("accept-language", "").split(",")[0].strip() or None)


async def _api_rejection(scope: Scope, receive: Receive, send: Send, en: str, zh: str) -> None:
    logger.info("API request rejected: %s %s from %s: %s", scope["method"], scope["path"], _client_address(scope), en)
    lang = _api_lang(Headers(scope=scope))
    body = {"error": {"code": "unauthenticated", "message": pick(lang, en, zh)}}
    await JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)


def _safe_next(target: str | None) -> str:
    """Only a path on this site is followed after sign-in, never another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def sign_in_page(request: Request) -> Response:
    if request.scope.get("actor") is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    lang = normalize(request.session.get("lang"))
    notice = None
    if request.query_params.get("expired"):
        notice = pick(lang, "Your session has ended. Sign in again.", "会话已过期，请重新登录。")
    return render(request, "sign_in.html", {"next": request.query_params.get("next", "/"), "notice": notice, "username": ""})


async def sign_in(request: Request) -> Response:
    state = web(request)
    form = await request.form()
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or "/"))
    result = state.accounts.sign_in(username, password, request.client.host if request.client else None)
    if result.user_id is None:
        lang = normalize(request.session.get("lang"))
        limit = state.model.app.settings.get("login_lock_after_failures", 5)
        error = pick(
            lang,
            f"The user name or password is wrong. After {limit} failed attempts the account is locked for a while.",
            f"用户名或密码错误。连续失败 {limit} 次后账号将被暂时锁定。",
        )
        return render(request, "sign_in.html", {"next": target, "error": error, "username": username}, status=400)

    user = state.accounts.user(result.user_id)
    # A language picked on the sign-in page wins over the saved preference and becomes it;
    # a language merely left over from an earlier session does not.
    picked = request.session.get("lang") if request.session.get(_PICKED_SIGNED_OUT) else None
    if picked and user is not None and user.get("lang") != picked:
        state.accounts.set_language(result.user_id, picked)
    chosen_before = request.session.get("lang")
    request.session.clear()
    request.session.update({
        "uid": result.user_id,
        "epoch": result.session_epoch,
        "seen": time.time(),
        "lang": picked or (user or {}).get("lang") or chosen_before or state.model.app.default_locale,
    })
    csrf_token(request.session)
    return RedirectResponse(target, status_code=303)


async def sign_out(request: Request) -> Response:
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse(SIGN_IN, status_code=303)


async def choose_language(request: Request) -> Response:
    form = await request.form()
    lang = str(form.get("lang") or "")
    if lang not in LANGUAGES:
        return Response(f"Unknown language {lang!r}; use one of {', '.join(LANGUAGES)}", status_code=400)
    request.session["lang"] = lang
    actor = request.scope.get("actor")
    if actor is not None:
        web(request).accounts.set_language(actor.id, lang)
    else:
        request.session[_PICKED_SIGNED_OUT] = True
    back = _safe_next(request.headers.get("hx-current-url") and urlsplit(request.headers["hx-current-url"]).path
                      or str(form.get("next") or "/"))
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(back, status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route(SIGN_IN, sign_in_page, methods=["GET"]),
        Route(SIGN_IN, sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
        Route("/language", choose_language, methods=["POST"]),
    ]


__all__ = ["AuthenticationMiddleware", "routes", "CSRF_FIELD"]
