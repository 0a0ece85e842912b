"""HMAC-SHA256 signatures of provider requests and callbacks, and their checks.

A signed request carries four headers: the key id, a Unix timestamp in seconds, a random
nonce, and a signature. The signature is the hex HMAC-SHA256, under the shared secret, of
these lines joined by "\n": the method, the path, the timestamp, the nonce and the hex
SHA-256 of the body. A callback is checked the same way. One whose timestamp is more than
`WINDOW_SECONDS` away from now is rejected as a replay, and the runtime stores a repeated
event id once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Mapping

from runtime.callbacks import CallbackRejected

KEY_HEADER = "X-Metadesk-Key"
TIMESTAMP_HEADER = "X-Metadesk-Timestamp"
NONCE_HEADER = "X-Metadesk-Nonce"
SIGNATURE_HEADER = "X-Metadesk-Signature"

#: How far a callback's timestamp may be from now, in seconds, before it is taken for a replay.
WINDOW_SECONDS = 300


class SignatureRejected(CallbackRejected):
    """A callback whose signature is missing, wrong or too old; the message names which."""


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    text = "\n".join((method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()))
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, path: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Return the headers that sign a request to `path` with `body`."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(16)
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, method, path, timestamp, nonce, body),
    }


def verify(headers: Mapping[str, str], secret: str, method: str, path: str, body: bytes, *, now: float | None = None) -> None:
    """Raise SignatureRejected unless the headers sign this request with `secret` within the time window."""
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    nonce = lowered.get(NONCE_HEADER.lower(), "")
    sent = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not (timestamp and nonce and sent):
        raise SignatureRejected("The callback is not signed", "回调缺少签名")
    expected = signature(secret, method, path, timestamp, nonce, body)
    if not hmac.compare_digest(expected, sent.lower()):
        raise SignatureRejected("The callback's signature does not match", "回调签名不正确")
    if not timestamp.isdigit() or abs((now if now is not None else time.time()) - int(timestamp)) > WINDOW_SECONDS:
        raise SignatureRejected(f"The callback's timestamp {timestamp} is more than {WINDOW_SECONDS} s from now; it may be a replay",
                                f"回调时间戳 {timestamp} 与当前时间相差超过 {WINDOW_SECONDS} 秒，可能是重放请求")
