"""SMS (短信): send a templated text message, and learn from callbacks whether it was delivered.

The interface, for hooks (`context.providers["sms"]`):

    send(phone, template, variables) -> SmsReceipt
    parse_callback(method, path, headers, body) -> runtime.callbacks.Callback

`send` takes a mainland mobile number, the provider's template code and the template's
variables; the receipt tells whether the provider accepted the message and gives its id.
Delivery receipts arrive later as callbacks to POST /callbacks/<integration>, signed like
requests (integrations/signing.py) with METADESK_<NAME>_SECRET, as JSON
{"event_id", "message_id", "status": "delivered" | "failed", "reason"}; the runtime stores
each event once and runs the integration's `callback_hook`.

HTTP provider: POST {BASE_URL}/sms/send with {"phone", "template", "variables", "sign_name"};
the provider answers {"message_id", "status": "accepted" | "rejected", "reason"}.

Sandbox provider: accepts every valid mobile number except those ending in 0000, which it
rejects as unknown numbers. A message id is derived from the content and the number of
messages the provider accepted before it, so a demo that sends the same messages in the same
order gives the same ids each time, and two sends of one text get different ids. It keeps the last OUTBOX_SIZE messages it accepted in `outbox`.
When the runtime gives it the data folder, it also appends each accepted message (time, phone,
template, variables, message id) as a JSON line to sandbox/sms_<integration>.jsonl there
(sandbox_log_path), so that a demo can read what was sent, one-time passwords included;
read_sandbox_log returns the newest of them. Only the sandbox writes this file.
Sandbox callbacks are signed with METADESK_<NAME>_SECRET, or with SANDBOX_SECRET when that
is not set.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from integrations.errors import ProviderError
from integrations.http import HttpProvider
from integrations.signing import verify
from runtime.callbacks import Callback, CallbackRejected
from runtime.providers import ProviderConfig, register_provider

INTERFACE = "sms"
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
#: The callback statuses of a message.
DELIVERY_STATUSES = ("delivered", "failed")
#: The secret sandbox callbacks are signed with when the environment gives none.
SANDBOX_SECRET = "sandbox-callback-secret"
#: The maximum length of a delivery receipt's event id, the width of md_callback.event_id.
MAX_EVENT_ID_CHARS = 128
#: How many accepted messages the sandbox keeps in `outbox`, the newest ones.
OUTBOX_SIZE = 1000


def sandbox_log_path(data_dir: Path, integration: str) -> Path:
    """Return the file where the sandbox provider of `integration` appends the messages it accepts."""
    return data_dir / "sandbox" / f"sms_{integration}.jsonl"


def read_sandbox_log(path: Path, limit: int) -> list[dict[str, Any]]:
    """Return the newest `limit` messages of a sandbox log, newest first; none when the file does not exist."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as lines:
        newest = deque((line for line in lines if line.strip()), maxlen=limit)
    found: list[dict[str, Any]] = []
    for line in reversed(newest):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            found.append(item)
    return found


@dataclass(frozen=True)
class SmsReceipt:
    accepted: bool
    message_id: str | None
    #: The provider's reason for a rejection, or None.
    reason: str | None = None


class BadCallback(CallbackRejected):
    """A callback that is signed correctly but whose body cannot be read."""

    status = 400


class CallbacksNotConfigured(CallbackRejected):
    """A callback that cannot be checked because the secret is not set; the provider delivers it again later."""

    status = 503
    code = "not_configured"


def masked_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "***"


def _checked_phone(config: ProviderConfig, phone: str) -> str:
    number = re.sub(r"[\s-]", "", phone or "")
    if not number:
        raise ProviderError(config.name, "rejected", "Enter a mobile number", "请填写手机号")
    if not _MOBILE.match(number):
        raise ProviderError(config.name, "rejected", f"{masked_phone(number)} is not a mainland mobile number; check it",
                            f"{masked_phone(number)} 不是有效的中国大陆手机号，请核对")
    return number


def parse_delivery(config: ProviderConfig, secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
    """Verify a delivery receipt's signature and read it; raise SignatureRejected or BadCallback."""
    verify(headers, secret, method, path, body)
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if (not isinstance(document, dict) or not isinstance(document.get("event_id"), str) or not document["event_id"]
            or not isinstance(document.get("message_id"), str) or document.get("status") not in DELIVERY_STATUSES):
        raise BadCallback("The delivery receipt is not a JSON object with event_id, message_id and status delivered or failed",
                          "回执不是包含 event_id、message_id 以及 status（delivered 或 failed）的 JSON 对象")
    # Cutting a longer id could make two events one, so the receipt is refused instead.
    if len(document["event_id"]) > MAX_EVENT_ID_CHARS:
        raise BadCallback(f"The delivery receipt's event_id is longer than {MAX_EVENT_ID_CHARS} characters",
                          f"回执的 event_id 超过 {MAX_EVENT_ID_CHARS} 个字符")
    payload = {"message_id": document["message_id"], "status": document["status"], "reason": document.get("reason")}
    return Callback(document["event_id"], f"sms_{document['status']}", payload)


@register_provider(INTERFACE, "http")
class HttpSms(HttpProvider):
    service_en = "the SMS service"
    service_zh = "短信服务"

    def send(self, phone: str, template: str, variables: Mapping[str, Any]) -> SmsReceipt:
        number = _checked_phone(self.config, phone)
        payload = {"phone": number, "template": template, "variables": {key: str(value) for key, value in variables.items()},
                   "sign_name": self.config.settings.get("sign_name")}
        document = self.call("POST", "/sms/send", payload, operation="send", ids={"phone": masked_phone(number), "template": template})
        status, message_id = document.get("status"), document.get("message_id")
        if status not in ("accepted", "rejected") or (status == "accepted" and not isinstance(message_id, str)):
            raise ProviderError(self.config.name, "bad_response", "The SMS service sent a receipt that cannot be read; try again later",
                                "短信服务返回的回执无法解析，请稍后重试")
        reason = document.get("reason")
        return SmsReceipt(status == "accepted", message_id if isinstance(message_id, str) else None,
                          str(reason) if reason else None)

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        if not self.secret:
            raise CallbacksNotConfigured(f"Set {self.config.variable('SECRET')} to receive signed callbacks",
                                         f"请设置 {self.config.variable('SECRET')} 以接收签名回调")
        return parse_delivery(self.config, self.secret, method, path, headers, body)


@register_provider(INTERFACE, "sandbox")
class SandboxSms:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.secret = config.env("SECRET") or SANDBOX_SECRET
        #: The messages accepted, oldest first: phone, template, variables and message id.
        self.outbox: list[dict[str, Any]] = []
        #: How many messages this provider accepted, which makes each message id unique.
        self.sent = 0
        #: The file each accepted message is appended to, or None without a data folder.
        self.log_path = sandbox_log_path(config.data_dir, config.name) if config.data_dir is not None else None
        self._lock = threading.Lock()

    def send(self, phone: str, template: str, variables: Mapping[str, Any]) -> SmsReceipt:
        number = _checked_phone(self.config, phone)
        if number.endswith("0000"):
            return SmsReceipt(False, None, "unknown_number")
        text = json.dumps({"phone": number, "template": template, "variables": {k: str(v) for k, v in variables.items()}},
                          ensure_ascii=False, sort_keys=True)
        with self._lock:
            self.sent += 1
            # The count keeps two sends of the same text apart, so each delivery receipt names one message.
            message_id = "sbx-" + hashlib.sha256(f"{self.sent}|{text}".encode("utf-8")).hexdigest()[:20]
            self.outbox.append({"phone": number, "template": template, "variables": dict(variables), "message_id": message_id})
            # The provider lives as long as the process, so the outbox keeps only the newest messages.
            del self.outbox[:-OUTBOX_SIZE]
            self._append_to_log(number, template, variables, message_id)
        return SmsReceipt(True, message_id)

    def _append_to_log(self, number: str, template: str, variables: Mapping[str, Any], message_id: str) -> None:
        if self.log_path is None:
            return
        line = json.dumps({"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "phone": number,
                           "template": template, "variables": {k: str(v) for k, v in variables.items()}, "message_id": message_id},
                          ensure_ascii=False)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        return parse_delivery(self.config, self.secret, method, path, headers, body)
