"""SMS providers: sending through the HTTP client and the sandbox, and reading signed delivery receipts."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from integrations import signing
from integrations.errors import ProviderError
from integrations.sms import (
    OUTBOX_SIZE,
    SANDBOX_SECRET,
    BadCallback,
    CallbacksNotConfigured,
    HttpSms,
    SandboxSms,
    SmsReceipt,
)
from runtime.callbacks import Callback
from runtime.providers import ProviderConfig
from tests.integrations.conftest import SECRET, config
from tests.integrations.mock_provider import MockProvider, Reply

PATH = "/callbacks/sms"


def http_sms(url: str, **settings: Any) -> HttpSms:
    return HttpSms(config("sms", "sms", url=url, sign_name="钩子示例", **settings))


def sandbox(**environ: str) -> SandboxSms:
    return SandboxSms(ProviderConfig("sms", "sms", "sandbox", {}, environ))


def receipt_body(**changes: Any) -> bytes:
    document = {"event_id": "evt-1", "message_id": "msg-1", "status": "delivered", "reason": None, **changes}
    return json.dumps(document).encode("utf-8")


def signed(body: bytes, secret: str = SECRET, path: str = PATH) -> dict[str, str]:
    return signing.signed_headers("sms-provider", secret, "POST", path, body)


# Sending over HTTP.

def test_http_send_accepted(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"message_id": "msg-1", "status": "accepted"}))
    receipt = http_sms(mock_provider.url).send("138 0013-8000", "SMS_001", {"code": 4321, "name": "张三"})

    assert receipt == SmsReceipt(True, "msg-1", None)
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/sms/send")
    assert request.json() == {"phone": "13800138000", "template": "SMS_001", "variables": {"code": "4321", "name": "张三"},
                              "sign_name": "钩子示例"}
    signing.verify(request.headers, SECRET, "POST", request.path, request.body)
    assert request.header("Idempotency-Key")


def test_http_send_rejected_by_provider(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"message_id": None, "status": "rejected", "reason": "blacklisted"}))
    receipt = http_sms(mock_provider.url).send("13800138000", "SMS_001", {})
    assert receipt == SmsReceipt(False, None, "blacklisted")


@pytest.mark.parametrize("body", [{"status": "accepted"}, {"status": "queued", "message_id": "m"}, [], b"ok"])
def test_http_send_unreadable_receipt(mock_provider: MockProvider, body: Any) -> None:
    mock_provider.program(Reply(200, body))
    with pytest.raises(ProviderError) as raised:
        http_sms(mock_provider.url).send("13800138000", "SMS_001", {})
    assert raised.value.code == "bad_response"


def test_http_send_retries_then_succeeds(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(502, b""), Reply(200, {"message_id": "msg-2", "status": "accepted"}))
    assert http_sms(mock_provider.url).send("13800138000", "SMS_001", {}).message_id == "msg-2"
    keys = {request.header("Idempotency-Key") for request in mock_provider.requests}
    assert len(mock_provider.requests) == 2
    assert len(keys) == 1


@pytest.mark.parametrize("phone", ["12800138000", "1380013800", "+8613800138000", "", "phone"])
def test_http_send_invalid_phone_sends_nothing(mock_provider: MockProvider, phone: str) -> None:
    with pytest.raises(ProviderError) as raised:
        http_sms(mock_provider.url).send(phone, "SMS_001", {})
    assert raised.value.code == "rejected"
    assert mock_provider.requests == []


def test_http_send_logs_masked_phone(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mock_provider.program(Reply(200, {"message_id": "msg-1", "status": "accepted"}))
    http_sms(mock_provider.url).send("13912345678", "SMS_001", {"code": "864209"})
    lines = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(lines) == 1
    assert lines[0].startswith("sms send phone=139****5678 template=SMS_001: HTTP 200 in ")
    assert "13912345678" not in caplog.text
    assert "864209" not in caplog.text


def test_http_send_not_configured() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpSms(config("sms", "sms", url=None))
    assert raised.value.code == "not_configured"
    assert "METADESK_SMS_BASE_URL" in raised.value.en


# Sending in the sandbox.

def test_sandbox_send_accepts_and_keeps_outbox() -> None:
    provider = sandbox()
    receipt = provider.send("13800138000", "SMS_001", {"code": 1234})
    assert receipt.accepted
    assert receipt.message_id is not None
    assert receipt.message_id.startswith("sbx-")
    assert provider.outbox == [{"phone": "13800138000", "template": "SMS_001", "variables": {"code": 1234},
                                "message_id": receipt.message_id}]


def test_sandbox_send_rejects_numbers_ending_0000() -> None:
    provider = sandbox()
    assert provider.send("13800000000", "SMS_001", {}) == SmsReceipt(False, None, "unknown_number")
    assert provider.outbox == []


def test_sandbox_send_checks_phone() -> None:
    with pytest.raises(ProviderError) as raised:
        sandbox().send("10086", "SMS_001", {})
    assert raised.value.code == "rejected"


def test_sandbox_message_ids_deterministic() -> None:
    first, second = sandbox(), sandbox()
    sends = [("13800138000", "SMS_001", {"code": "1"}), ("13800138000", "SMS_001", {"code": "1"}),
             ("13900139000", "SMS_002", {})]
    ids = [first.send(*send).message_id for send in sends]
    assert [second.send(*send).message_id for send in sends] == ids
    # The same text sent twice is two messages, each with its own receipt.
    assert len(set(ids)) == 3


def test_sandbox_outbox_bounded() -> None:
    provider = sandbox()
    for index in range(OUTBOX_SIZE + 5):
        provider.send("13800138000", "SMS_001", {"n": index})
    assert len(provider.outbox) == OUTBOX_SIZE
    assert provider.outbox[0]["variables"] == {"n": 5}


# Delivery receipts.

def test_sandbox_callback_default_secret() -> None:
    body = receipt_body(status="failed", reason="unreachable")
    callback = sandbox().parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body)
    assert callback == Callback("evt-1", "sms_failed", {"message_id": "msg-1", "status": "failed", "reason": "unreachable"})


def test_sandbox_callback_secret_from_environment() -> None:
    provider = sandbox(METADESK_SMS_SECRET="from-env")
    body = receipt_body()
    assert provider.parse_callback("POST", PATH, signed(body, "from-env"), body).kind == "sms_delivered"
    with pytest.raises(signing.SignatureRejected):
        provider.parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body)


def test_http_callback_parsed(mock_provider: MockProvider) -> None:
    body = receipt_body()
    callback = http_sms(mock_provider.url).parse_callback("POST", PATH, signed(body), body)
    assert callback == Callback("evt-1", "sms_delivered", {"message_id": "msg-1", "status": "delivered", "reason": None})
    assert mock_provider.requests == []


def test_http_callback_without_secret() -> None:
    provider = HttpSms(config("sms", "sms", url="http://127.0.0.1:9", signed=False))
    body = receipt_body()
    with pytest.raises(CallbacksNotConfigured) as raised:
        provider.parse_callback("POST", PATH, signed(body), body)
    assert (raised.value.status, raised.value.code) == (503, "not_configured")
    assert "METADESK_SMS_SECRET" in raised.value.en


@pytest.mark.parametrize("body", [
    b"not json",
    b"\xff\xfe",
    b"[]",
    receipt_body(event_id=""),
    receipt_body(event_id=17),
    receipt_body(message_id=None),
    receipt_body(status="read"),
    receipt_body(event_id="e" * 129),
], ids=["text", "not-utf8", "array", "empty-event", "numeric-event", "no-message", "unknown-status", "long-event"])
def test_callback_malformed_body(body: bytes) -> None:
    with pytest.raises(BadCallback) as raised:
        sandbox().parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body)
    assert raised.value.status == 400


def test_callback_longest_event_id_kept_whole() -> None:
    body = receipt_body(event_id="e" * 128)
    assert sandbox().parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body).event_id == "e" * 128


def test_callback_signature_checked_before_body() -> None:
    with pytest.raises(signing.SignatureRejected):
        sandbox().parse_callback("POST", PATH, signed(b"not json", "wrong"), b"not json")
