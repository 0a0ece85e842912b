"""POST /callbacks/{integration}: events a provider reports, such as SMS delivery receipts.

The integration's provider verifies the signature and reads the body; the runtime stores
the event once and runs the integration's callback hook (runtime/callbacks.py). The
responses are JSON: 200 {"status": "stored" | "duplicate"}, 400 for an unreadable body,
401 for a missing, wrong or stale signature, 404 for an integration that takes no callbacks,
413 for a body over MAX_CALLBACK_BYTES, 503 for a provider that is not configured (no base
address, or no secret to check signatures with), 500 when the callback hook fails (the
provider delivers again later). After the hook has failed MAX_FAILED_DELIVERIES times the
answer is 200 {"status": "failed"}: the event waits for an administrator (`metadesk
callbacks`), so the provider may stop delivering it. Nothing of a rejected callback is stored.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from runtime.callbacks import CallbackFailed, CallbackRejected, receive
from runtime.hooks import HookError
from runtime.providers import ProviderUnavailable
from ui.web.state import web

logger = logging.getLogger(__name__)

#: The largest callback body read, in bytes.
MAX_CALLBACK_BYTES = 1_000_000


def _answer(status: int, code: str, en: str, zh: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": en, "message_zh": zh}}, status_code=status)


async def _read_body(request: Request) -> bytes | None:
    """Return the request's body, or None as soon as it is known to exceed MAX_CALLBACK_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CALLBACK_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CALLBACK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_callback(request: Request) -> Response:
    name = str(request.path_params["integration"])
    state = web(request)
    address = request.client.host if request.client else "?"
    integration = state.model.integrations.get(name)
    providers = state.records.providers
    if integration is None or providers is None:
        logger.warning("callback for unknown integration %r from %s", name, address)
        return _answer(404, "unknown_integration", f"No integration {name!r} takes callbacks here", f"没有名为 {name!r} 的集成接收回调")

    try:
        provider = providers[name]
    except (ProviderUnavailable, HookError) as error:
        logger.error("callback for %s from %s: provider not available: %s", name, address, error.en)
        return _answer(503, "not_configured", error.en, error.zh)

    parse = getattr(provider, "parse_callback", None)
    if parse is None:
        logger.warning("callback for %s from %s: its provider takes no callbacks", name, address)
        return _answer(404, "no_callbacks", f"The integration {name!r} takes no callbacks", f"集成 {name!r} 不接收回调")

    body = await _read_body(request)
    if body is None:
        logger.warning("callback for %s from %s: body over %s bytes rejected", name, address, MAX_CALLBACK_BYTES)
        return _answer(413, "too_large", f"The callback body is larger than {MAX_CALLBACK_BYTES} bytes",
                       f"回调内容超过 {MAX_CALLBACK_BYTES} 字节")

    try:
        callback = parse(request.method, request.url.path, dict(request.headers), body)
    except CallbackRejected as rejected:
        logger.warning("callback for %s from %s rejected (%s): %s", name, address, rejected.status, rejected.en)
        return _answer(rejected.status, rejected.code, rejected.en, rejected.zh)

    try:
        stored = receive(state.records, integration, callback)
    except CallbackFailed as failed:
        if failed.given_up:
            return JSONResponse({"status": "failed", "event_id": callback.event_id, "attempts": failed.attempts})
        return _answer(500, "hook_failed", "The callback could not be handled; deliver it again later",
                       "回调处理失败，请稍后重新发送")

    return JSONResponse({"status": "stored" if stored else "duplicate", "event_id": callback.event_id})


def routes() -> list[BaseRoute]:
    return [Route("/callbacks/{integration}", receive_callback, methods=["POST"])]
