"""Signed JSON callbacks of the e-signature, GPS and bank interfaces: reading one a provider posts, building one in a sandbox.

A callback body is a JSON object whose `event_id` is a non-empty string of at most
MAX_EVENT_ID_CHARS characters, signed like a request (integrations/signing.py). Each
interface's module documents the other members of its callbacks.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from integrations.signing import signed_headers, verify
from integrations.sms import MAX_EVENT_ID_CHARS, SANDBOX_SECRET, BadCallback, CallbacksNotConfigured
from runtime.providers import ProviderConfig

__all__ = ["MAX_EVENT_ID_CHARS", "SANDBOX_SECRET", "BadCallback", "CallbacksNotConfigured", "callback_secret", "read_event",
           "sandbox_request", "sandbox_secret"]

#: The key id sandbox callbacks carry in their signature headers.
SANDBOX_KEY_ID = "sandbox"


def callback_secret(config: ProviderConfig, secret: str | None) -> str:
    """Return the secret callbacks are checked with; raise CallbacksNotConfigured (503) when it is not set."""
    if not secret:
        raise CallbacksNotConfigured(f"Set {config.variable('SECRET')} to receive signed callbacks",
                                     f"请设置 {config.variable('SECRET')} 以接收签名回调")
    return secret


def sandbox_secret(config: ProviderConfig) -> str:
    """Return the secret a sandbox signs and checks callbacks with: METADESK_<NAME>_SECRET, else SANDBOX_SECRET."""
    return config.env("SECRET") or SANDBOX_SECRET


def read_event(secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes, *,
               shape_en: str, shape_zh: str) -> dict[str, Any]:
    """Verify a callback's signature and return its JSON object; raise SignatureRejected (401) or BadCallback (400).

    `shape_en` and `shape_zh` name the members the interface expects, for the message of a body that is not JSON.
    """
    verify(headers, secret, method, path, body)
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict):
        raise BadCallback(f"The callback is not a JSON object with {shape_en}", f"回调不是包含 {shape_zh} 的 JSON 对象")
    event_id = document.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise BadCallback("The callback's event_id is missing or not a string", "回调缺少 event_id 或其不是字符串")
    # Cutting a longer id could make two events one, so the callback is rejected instead.
    if len(event_id) > MAX_EVENT_ID_CHARS:
        raise BadCallback(f"The callback's event_id is longer than {MAX_EVENT_ID_CHARS} characters",
                          f"回调的 event_id 超过 {MAX_EVENT_ID_CHARS} 个字符")
    return document


def sandbox_request(secret: str, path: str, document: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """Return the headers and body a provider would POST to `path` for a callback, signed with `secret`."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json", **signed_headers(SANDBOX_KEY_ID, secret, "POST", path, body)}
    return headers, body
