"""Security headers on every response and CSRF protection on every unsafe request.

The CSRF token lives in the signed session. Screens send it back in the `X-CSRF-Token`
header (HTMX adds it to every request from the page's `hx-headers`) or, for plain HTML
forms, in a `csrf_token` form field. Requests authenticated by an API token carry no
cookie and need no CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.web.i18n import normalize, pick

logger = logging.getLogger(__name__)

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Largest request body read to find a form's CSRF field; uploads above it are refused with 413.
MAX_BODY_BYTES = 64 * 1024 * 1024

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    header for header in SECURITY_HEADERS if header[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(session: dict[str, Any]) -> str:
    """Return the session's CSRF token, creating it on first use."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return str(token)


class CSRFMiddleware:
    """Refuses unsafe requests of a cookie session that do not carry the session's token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        signed_callback = scope["path"].startswith("/callbacks/")
        if (signed_callback or headers.get("authorization", "").lower().startswith("bearer ")) and "cookie" not in headers:
            await self.app(scope, receive, send)
            return
        expected = scope.get("session", {}).get(CSRF_FIELD)
        sent = headers.get(CSRF_HEADER)
        body: bytes | None = None
        if sent is None and _is_form(headers):
            body = await _read_body(receive, MAX_BODY_BYTES)
            if body is None:
                response = PlainTextResponse("Request body too large / 请求内容过大", status_code=413)
                await response(scope, receive, send)
                return
            form = await Request(scope, _replay(body)).form()
            field = form.get(CSRF_FIELD)
            sent = field if isinstance(field, str) else None
            await form.close()
        if not expected or not sent or not hmac.compare_digest(str(expected), sent):
            await _reject(scope, receive, send, headers)
            return
        await self.app(scope, _replay(body) if body is not None else receive, send)


def _is_form(headers: Headers) -> bool:
    content_type = headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reject(scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
    logger.warning("CSRF check failed: %s %s from %s", scope["method"], scope["path"], (scope.get("client") or ("?",))[0])
    lang = normalize(scope.get("session", {}).get("lang"))
    message = pick(
        lang,
        "The page has expired or the request did not come from this site. Reload the page and try again.",
        "页面已过期或请求并非来自本站。请刷新页面后重试。",
    )
    if scope["path"].startswith("/api/") or "application/json" in headers.get("accept", ""):
        response: Any = JSONResponse({"error": {"code": "csrf", "message": message}}, status_code=403)
    else:
        response = PlainTextResponse(message, status_code=403)
    await response(scope, receive, send)
