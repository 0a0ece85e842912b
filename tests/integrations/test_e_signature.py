"""E-signature providers: envelopes through the HTTP client and the sandbox, signed documents, and envelope callbacks."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from integrations import signing
from integrations.callback_events import SANDBOX_SECRET, BadCallback, CallbacksNotConfigured
from integrations.e_signature import (
    Envelope,
    EnvelopeStatus,
    HttpESignature,
    SandboxESignature,
    Signer,
    SigningLink,
    sandbox_pdf,
)
from integrations.e_signature_checks import MAX_SIGNERS
from integrations.errors import ProviderError
from runtime.callbacks import Callback
from runtime.providers import ProviderConfig
from tests.integrations.conftest import KEY_ID, SECRET, config, id_number
from tests.integrations.mock_provider import MockProvider, Received, Reply
from tests.integrations.provider_app import recorded_events, stored_callbacks, write_app
from tests.web.conftest import WebApp, serving

PATH = "/callbacks/e_signature"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n% loan contract of test\n%%EOF\n"
SIGNERS = [("张三", id_number(123), "13800138000"), ("李四", id_number(456, birth="19850101"), "139 0013 9000")]
LINKS = ["https://esign.example.test/s/1", "https://esign.example.test/s/2"]
CREATED = {"envelope_id": "env-1", "status": "sent", "signing_links": LINKS}


def http_esign(url: str, **settings: Any) -> HttpESignature:
    return HttpESignature(config("e_signature", "e_signature", url=url, **settings))


def sandbox(**environ: str) -> SandboxESignature:
    return SandboxESignature(ProviderConfig("e_signature", "e_signature", "sandbox", {}, environ))


def create(provider: HttpESignature | SandboxESignature, document: bytes = PDF, signers: Any = None,
           **changes: Any) -> Envelope:
    arguments: dict[str, Any] = {"filename": "借款合同.pdf", "title": "借款合同 HT2026001", **changes}
    return provider.create_envelope(document, arguments.pop("filename"), SIGNERS if signers is None else signers, **arguments)


def assert_signed(request: Received) -> None:
    """Check the request's signature the way the provider would, with the shared secret."""
    signing.verify(request.headers, SECRET, request.method, request.path, request.body)
    assert request.header(signing.KEY_HEADER) == KEY_ID


def document_reply(content: bytes, **changes: Any) -> Reply:
    body = {"envelope_id": "env-1", "content_base64": base64.b64encode(content).decode("ascii"),
            "digest": hashlib.sha256(content).hexdigest(), **changes}
    return Reply(200, body)


def event_body(**changes: Any) -> bytes:
    document = {"event_id": "evt-1", "envelope_id": "env-1", "event": "envelope_signed", "reason": None,
                "occurred_at": "2026-03-01T10:00:00+08:00", **changes}
    return json.dumps(document).encode("utf-8")


def signed(body: bytes, secret: str = SECRET, path: str = PATH) -> dict[str, str]:
    return signing.signed_headers("esign-provider", secret, "POST", path, body)


# Envelopes over HTTP.

def test_http_create_envelope(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, CREATED))

    envelope = create(http_esign(mock_provider.url))

    assert envelope == Envelope("env-1", "sent", (SigningLink("张三", LINKS[0]), SigningLink("李四", LINKS[1])))
    assert len(mock_provider.requests) == 1
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/esign/envelopes")
    sent = request.json()
    assert base64.b64decode(sent.pop("document_base64")) == PDF
    assert sent == {"title": "借款合同 HT2026001", "filename": "借款合同.pdf", "document_sha256": hashlib.sha256(PDF).hexdigest(),
                    "signers": [{"name": "张三", "id_number": id_number(123), "phone": "13800138000"},
                                {"name": "李四", "id_number": id_number(456, birth="19850101"), "phone": "13900139000"}]}
    assert_signed(request)
    assert request.header("Idempotency-Key")


def test_http_create_accepts_signer_tuples(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {**CREATED, "signing_links": LINKS[:1]}))
    number = id_number(123)[:-1] + id_number(123)[-1].lower()
    envelope = create(http_esign(mock_provider.url), signers=[Signer(" 张三 ", number, "13800138000")])
    assert envelope.links == (SigningLink("张三", LINKS[0]),)
    assert mock_provider.requests[0].json()["signers"][0]["id_number"] == id_number(123)


def test_http_status(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"envelope_id": "env-1", "status": "declined", "reason": "条款有异议"}))
    assert http_esign(mock_provider.url).status("env-1") == EnvelopeStatus("env-1", "declined", "条款有异议")
    request = mock_provider.requests[0]
    assert (request.method, request.path, request.body) == ("GET", "/esign/envelopes/env-1", b"")
    assert_signed(request)


def test_http_download_sha256(mock_provider: MockProvider) -> None:
    signed_pdf = PDF + b"% signature\n%%EOF\n"
    mock_provider.program(document_reply(signed_pdf))

    document = http_esign(mock_provider.url).download("env-1")

    assert document.content == signed_pdf
    assert (document.envelope_id, document.digest_algorithm) == ("env-1", "sha256")
    assert document.digest == hashlib.sha256(signed_pdf).hexdigest()
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("GET", "/esign/envelopes/env-1/document")
    assert_signed(request)


def test_http_download_declared_sm3(mock_provider: MockProvider) -> None:
    digest = hashlib.new("sm3", PDF).hexdigest()
    mock_provider.program(document_reply(PDF, digest_algorithm="sm3", digest=digest.upper()))
    document = http_esign(mock_provider.url).download("env-1")
    assert (document.digest_algorithm, document.digest) == ("sm3", digest)


def test_http_download_digest_mismatch(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    mock_provider.program(document_reply(PDF, digest=hashlib.sha256(b"another file").hexdigest()))
    with pytest.raises(ProviderError) as raised:
        http_esign(mock_provider.url).download("env-1")
    assert raised.value.code == "bad_response"
    assert raised.value.en == ("The signed document of envelope env-1 does not match the sha256 digest the e-signature "
                               "service states; it may be damaged, try again later")
    assert raised.value.zh == "信封 env-1 的签署文件与电子签章服务给出的 sha256 摘要不一致，文件可能已损坏，请稍后重试"
    assert "differs from the stated" in caplog.text


def test_http_download_sm3_digest_checked(mock_provider: MockProvider) -> None:
    # The SHA-256 of the content is not its SM3 digest.
    mock_provider.program(document_reply(PDF, digest_algorithm="sm3"))
    with pytest.raises(ProviderError) as raised:
        http_esign(mock_provider.url).download("env-1")
    assert raised.value.code == "bad_response"


@pytest.mark.parametrize("changes", [
    {"content_base64": "not base64!"},
    {"envelope_id": "env-2"},
    {"digest_algorithm": "md5"},
    {"digest": None},
    {"content_base64": None},
], ids=["base64", "other-envelope", "unknown-algorithm", "no-digest", "no-content"])
def test_http_download_unreadable(mock_provider: MockProvider, changes: dict[str, Any]) -> None:
    mock_provider.program(document_reply(PDF, **changes))
    with pytest.raises(ProviderError) as raised:
        http_esign(mock_provider.url).download("env-1")
    assert raised.value.code == "bad_response"


def test_http_download_not_pdf(mock_provider: MockProvider) -> None:
    mock_provider.program(document_reply(b"<html>signed</html>"))
    with pytest.raises(ProviderError) as raised:
        http_esign(mock_provider.url).download("env-1")
    assert raised.value.code == "bad_response"
    assert raised.value.en == "The signed document of envelope env-1 is not a PDF; try again later"


def test_http_timeout_retried(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, CREATED, delay_seconds=1.5))
    with pytest.raises(ProviderError) as raised:
        create(http_esign(mock_provider.url))
    assert raised.value.code == "timeout"
    assert raised.value.zh == "电子签章服务响应超时，请稍后重试"
    # FAST allows two retries after the first attempt.
    assert len(mock_provider.requests) == 3


def test_http_server_error_then_success(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(503, {}), Reply(200, CREATED))
    assert create(http_esign(mock_provider.url)).envelope_id == "env-1"
    assert len(mock_provider.requests) == 2
    assert len({request.header("Idempotency-Key") for request in mock_provider.requests}) == 1
    for request in mock_provider.requests:
        assert_signed(request)


def test_http_rejected_not_retried(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(400, {"message": "签署人手机号未实名"}))
    with pytest.raises(ProviderError) as raised:
        create(http_esign(mock_provider.url))
    assert raised.value.code == "rejected"
    assert raised.value.en == "The e-signature service rejected the request (HTTP 400): 签署人手机号未实名"
    assert len(mock_provider.requests) == 1


@pytest.mark.parametrize("body", [
    b"not json",
    [],
    {"status": "sent", "signing_links": LINKS},
    {**CREATED, "status": "waiting"},
    {**CREATED, "signing_links": LINKS[:1]},
    {**CREATED, "signing_links": ["ftp://esign.example.test/s/1", LINKS[1]]},
    {**CREATED, "signing_links": "https://esign.example.test/s"},
], ids=["text", "array", "no-id", "unknown-status", "one-link-short", "not-http-link", "links-not-list"])
def test_http_create_malformed_body(mock_provider: MockProvider, body: Any) -> None:
    mock_provider.program(Reply(200, body))
    with pytest.raises(ProviderError) as raised:
        create(http_esign(mock_provider.url))
    assert raised.value.code == "bad_response"


@pytest.mark.parametrize("body", [{"envelope_id": "env-2", "status": "sent"}, {"envelope_id": "env-1", "status": "done"},
                                  {"envelope_id": "env-1", "status": "declined", "reason": 7}])
def test_http_status_malformed_body(mock_provider: MockProvider, body: Any) -> None:
    mock_provider.program(Reply(200, body))
    with pytest.raises(ProviderError) as raised:
        http_esign(mock_provider.url).status("env-1")
    assert raised.value.code == "bad_response"


def test_http_not_configured() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpESignature(config("e_signature", "e_signature", url=None))
    assert raised.value.code == "not_configured"
    assert "METADESK_E_SIGNATURE_BASE_URL" in raised.value.en


@pytest.mark.parametrize("settings", [{"max_document_mb": 0}, {"max_document_mb": "big"}])
def test_http_invalid_size_setting(mock_provider: MockProvider, settings: dict[str, Any]) -> None:
    with pytest.raises(ProviderError) as raised:
        create(http_esign(mock_provider.url, **settings))
    assert raised.value.code == "not_configured"
    assert "max_document_mb" in raised.value.en
    assert mock_provider.requests == []


# Checks before any request.

BAD_ID = id_number(123)[:-1] + ("1" if id_number(123)[-1] != "1" else "2")


@pytest.mark.parametrize(("arguments", "message"), [
    ({"document": b"PK\x03\x04 a zip file"}, "The document 借款合同.pdf is not a PDF: it does not start with %PDF-; "
                                             "upload the contract as a PDF"),
    ({"document": b" %PDF-1.7"}, "The document 借款合同.pdf is not a PDF: it does not start with %PDF-; upload the contract as a PDF"),
    ({"document": PDF + b"x" * 2000, "max": 0.001},
     f"The document 借款合同.pdf is {len(PDF) + 2000} bytes, more than the limit of 1048 bytes; "
     "send a smaller PDF or raise max_document_mb"),
    ({"title": "  "}, "Enter a title of 1 to 100 characters for the envelope"),
    ({"filename": "../etc/借款合同.pdf"}, "The file name '../etc/借款合同.pdf' must be 1 to 100 characters without a folder; correct it"),
    ({"filename": ""}, "The file name '' must be 1 to 100 characters without a folder; correct it"),
    ({"signers": []}, f"An envelope needs 1 to {MAX_SIGNERS} signers"),
    ({"signers": [SIGNERS[0]] * (MAX_SIGNERS + 1)}, f"An envelope needs 1 to {MAX_SIGNERS} signers"),
    ({"signers": [("张三", id_number(123))]}, "Signer 1 must be (name, ID number, mobile number)"),
    ({"signers": [SIGNERS[0], None]}, "Signer 2 must be (name, ID number, mobile number)"),
    ({"signers": [("", id_number(123), "13800138000")]}, "Enter the name of signer 1"),
    ({"signers": [SIGNERS[0], ("李四", BAD_ID, "13900139000")]},
     f"The ID number 110*************{BAD_ID[-2:]} of signer 2 is not valid; check it"),
    ({"signers": [("张三", id_number(123), "12800138000")]},
     "The mobile number 128****8000 of signer 1 is not a mainland mobile number; check it"),
    ({"signers": [SIGNERS[0], ("张小三", id_number(123), "13900139000")]},
     f"The ID number 110*************{id_number(123)[-2:]} is listed for two signers; list each signer once"),
], ids=["zip", "space-before-header", "too-large", "no-title", "path", "no-filename", "no-signers", "too-many-signers",
        "two-values", "not-a-tuple", "no-name", "bad-id", "bad-phone", "same-id"])
def test_http_local_rejection_sends_nothing(mock_provider: MockProvider, arguments: dict[str, Any], message: str) -> None:
    settings = {"max_document_mb": arguments.pop("max")} if "max" in arguments else {}
    with pytest.raises(ProviderError) as raised:
        create(http_esign(mock_provider.url, **settings), **arguments)
    assert raised.value.code == "rejected"
    assert raised.value.en == message
    assert BAD_ID not in raised.value.en
    assert mock_provider.requests == []


@pytest.mark.parametrize("envelope_id", ["", "../admin", "env/1", "env 1", "e" * 65, "信封1"])
def test_http_invalid_envelope_id_sends_nothing(mock_provider: MockProvider, envelope_id: str) -> None:
    provider = http_esign(mock_provider.url)
    for operation in (provider.status, provider.download):
        with pytest.raises(ProviderError) as raised:
            operation(envelope_id)
        assert raised.value.code == "rejected"
    assert mock_provider.requests == []


def test_default_size_limit_20_mib() -> None:
    provider = sandbox()
    largest = PDF + b"0" * (20 * 1024 * 1024 - len(PDF))
    assert create(provider, largest).status == "signed"
    with pytest.raises(ProviderError) as raised:
        create(provider, largest + b"0")
    assert raised.value.code == "rejected"
    assert "more than the limit of 20971520 bytes" in raised.value.en


def test_http_logs_without_personal_data(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mock_provider.program(Reply(200, CREATED))
    create(http_esign(mock_provider.url))

    lines = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(lines) == 1
    masked = f"110*************{id_number(123)[-2:]},110*************{id_number(456, birth='19850101')[-2:]}"
    assert lines[0].startswith(f"e_signature create_envelope bytes={len(PDF)} signers={masked}: HTTP 200 in ")
    for secret in (SECRET, id_number(123), id_number(456, birth="19850101"), "13800138000", "张三",
                   base64.b64encode(PDF).decode("ascii")[:20]):
        assert secret not in caplog.text


# The sandbox.

def test_sandbox_signs_at_once() -> None:
    provider = sandbox()
    envelope = create(provider)
    assert envelope.status == "signed"
    assert re.fullmatch(r"sbx-env-[0-9a-f]{20}", envelope.envelope_id)
    assert [link.signer for link in envelope.links] == ["张三", "李四"]
    assert envelope.links[1].url == f"https://esign.sandbox.invalid/sign/{envelope.envelope_id}/2"
    assert provider.status(envelope.envelope_id) == EnvelopeStatus(envelope.envelope_id, "signed", None)


def test_sandbox_decline_and_expiry_rules() -> None:
    provider = sandbox()
    declined = create(provider, signers=[SIGNERS[0], ("李四", id_number(456), "13900000000")])
    expired = create(provider, signers=[("李四", id_number(456), "13900139999")])
    both = create(provider, signers=[("李四", id_number(456), "13900139999"), ("王五", id_number(789), "13700000000")])

    assert provider.status(declined.envelope_id) == EnvelopeStatus(declined.envelope_id, "declined", "signer_declined")
    assert provider.status(expired.envelope_id) == EnvelopeStatus(expired.envelope_id, "expired", None)
    assert provider.status(both.envelope_id).status == "declined"
    with pytest.raises(ProviderError) as raised:
        provider.download(declined.envelope_id)
    assert raised.value.code == "rejected"
    assert raised.value.zh == f"信封 {declined.envelope_id} 的状态为 declined，尚未签署完成，无法下载"


def test_sandbox_unknown_envelope() -> None:
    with pytest.raises(ProviderError) as raised:
        sandbox().status("sbx-env-00000000000000000000")
    assert raised.value.code == "rejected"
    assert raised.value.en == "The e-signature sandbox has no envelope sbx-env-00000000000000000000"


def test_sandbox_deterministic() -> None:
    first, second = sandbox(), sandbox()
    runs = [create(provider) for provider in (first, second) for _ in range(2)]
    assert runs[0] == runs[2]
    assert runs[1] == runs[3]
    # The same document sent twice is two envelopes.
    assert runs[0].envelope_id != runs[1].envelope_id
    assert first.download(runs[0].envelope_id) == second.download(runs[0].envelope_id)


def test_sandbox_signed_pdf() -> None:
    provider = sandbox()
    envelope = create(provider)

    document = provider.download(envelope.envelope_id)

    assert document.content.startswith(b"%PDF-1.4\n")
    assert document.content.endswith(b"%%EOF\n")
    assert (document.digest_algorithm, document.digest) == ("sha256", hashlib.sha256(document.content).hexdigest())
    assert envelope.envelope_id.encode() in document.content
    assert hashlib.sha256(PDF).hexdigest().encode() in document.content
    assert id_number(123).encode() not in document.content
    assert f"110*************{id_number(123)[-2:]}".encode() in document.content


def test_sandbox_pdf_cross_references() -> None:
    content = sandbox_pdf(["line (one)", "back\\slash"])
    start = int(content.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert content[start:].startswith(b"xref\n0 6\n")
    entries = content[start:].split(b"\n")[3:8]
    for number, entry in enumerate(entries, 1):
        offset = int(entry[:10])
        assert content[offset:].startswith(b"%d 0 obj\n" % number)
    stream = content.split(b"stream\n", 1)[1].split(b"\nendstream", 1)[0]
    assert f"<< /Length {len(stream)} >>".encode() in content
    assert b"(line \\(one\\)) '" in stream
    assert b"(back\\\\slash) '" in stream


def test_sandbox_keeps_newest_envelopes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("integrations.e_signature.SANDBOX_ENVELOPES", 3)
    provider = sandbox()
    envelopes = [create(provider, title=f"合同 {index}") for index in range(5)]
    with pytest.raises(ProviderError):
        provider.status(envelopes[1].envelope_id)
    assert provider.status(envelopes[2].envelope_id).status == "signed"


# Envelope callbacks.

def test_sandbox_callback_round_trip() -> None:
    provider = sandbox()
    declined = create(provider, signers=[("李四", id_number(456), "13900000000")])

    headers, body = provider.callback_request(declined.envelope_id)

    callback = provider.parse_callback("POST", PATH, headers, body)
    assert callback == Callback(f"{declined.envelope_id}-envelope_declined", "envelope_declined",
                                {"envelope_id": declined.envelope_id, "status": "declined", "reason": "signer_declined",
                                 "occurred_at": None})
    signing.verify(headers, SANDBOX_SECRET, "POST", PATH, body)
    # The same outcome gives the same event id, so the runtime stores it once.
    assert json.loads(provider.callback_request(declined.envelope_id)[1])["event_id"] == callback.event_id


def test_sandbox_callback_secret_from_environment() -> None:
    provider = sandbox(METADESK_E_SIGNATURE_SECRET="from-env")
    envelope = create(provider)
    headers, body = provider.callback_request(envelope.envelope_id)
    signing.verify(headers, "from-env", "POST", PATH, body)
    with pytest.raises(signing.SignatureRejected):
        provider.parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body)


def test_http_callback_parsed(mock_provider: MockProvider) -> None:
    body = event_body(event="envelope_expired")
    callback = http_esign(mock_provider.url).parse_callback("POST", PATH, signed(body), body)
    assert callback == Callback("evt-1", "envelope_expired", {"envelope_id": "env-1", "status": "expired", "reason": None,
                                                              "occurred_at": "2026-03-01T10:00:00+08:00"})
    assert mock_provider.requests == []


def test_http_callback_bad_signature() -> None:
    provider = http_esign("http://127.0.0.1:9")
    body = event_body()
    with pytest.raises(signing.SignatureRejected) as raised:
        provider.parse_callback("POST", PATH, signed(body, "not-the-secret"), body)
    assert raised.value.status == 401
    with pytest.raises(signing.SignatureRejected):
        provider.parse_callback("POST", PATH, signed(event_body(event="envelope_declined")), body)
    with pytest.raises(signing.SignatureRejected):
        provider.parse_callback("POST", PATH, {}, body)


def test_http_callback_without_secret() -> None:
    provider = HttpESignature(config("e_signature", "e_signature", url="http://127.0.0.1:9", signed=False))
    body = event_body()
    with pytest.raises(CallbacksNotConfigured) as raised:
        provider.parse_callback("POST", PATH, signed(body), body)
    assert raised.value.status == 503
    assert "METADESK_E_SIGNATURE_SECRET" in raised.value.en


@pytest.mark.parametrize("body", [
    b"not json",
    b"[]",
    event_body(event_id=""),
    event_body(event_id="e" * 129),
    event_body(event="envelope_opened"),
    event_body(envelope_id=None),
    event_body(reason=["no"]),
    event_body(occurred_at=1700000000),
], ids=["text", "array", "empty-event-id", "long-event-id", "unknown-event", "no-envelope", "reason-list", "numeric-time"])
def test_callback_malformed_body(body: bytes) -> None:
    with pytest.raises(BadCallback) as raised:
        sandbox().parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body)
    assert raised.value.status == 400


# Callbacks through the application under uvicorn.

@pytest.fixture
def office(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch,
           tmp_path: Path) -> Iterator[tuple[WebApp, httpx.Client]]:
    monkeypatch.delenv("METADESK_E_SIGNATURE_SECRET", raising=False)
    web_app = make_web_app(write_app(tmp_path / "app"))
    with serving(web_app.app) as live, httpx.Client(base_url=live.url, trust_env=False, timeout=30) as client:
        yield web_app, client


def app_sandbox(web_app: WebApp) -> SandboxESignature:
    """Return the e-signature sandbox the application built, the one whose envelopes its callbacks report."""
    providers = web_app.runtime.records.providers
    assert providers is not None
    provider = providers["e_signature"]
    assert isinstance(provider, SandboxESignature)
    return provider


def test_app_stores_envelope_event_once(office: tuple[WebApp, httpx.Client]) -> None:
    web_app, client = office
    provider = app_sandbox(web_app)
    envelope = create(provider)
    headers, body = provider.callback_request(envelope.envelope_id)
    event_id = f"{envelope.envelope_id}-envelope_signed"

    first = client.post(PATH, content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "stored", "event_id": event_id}
    again = client.post(PATH, content=body, headers=provider.callback_request(envelope.envelope_id)[0])
    assert again.status_code == 200, again.text
    assert again.json() == {"status": "duplicate", "event_id": event_id}

    stored = stored_callbacks(web_app)
    assert [(row["integration"], row["event_id"], row["kind"]) for row in stored] == [("e_signature", event_id, "envelope_signed")]
    assert stored[0]["payload"] == {"envelope_id": envelope.envelope_id, "status": "signed", "reason": None, "occurred_at": None}
    assert recorded_events(web_app) == [("e_signature", event_id, "envelope_signed")]


def test_app_rejects_wrong_signature(office: tuple[WebApp, httpx.Client]) -> None:
    web_app, client = office
    provider = app_sandbox(web_app)
    envelope = create(provider)
    _, body = provider.callback_request(envelope.envelope_id)

    response = client.post(PATH, content=body, headers=signed(body, "not-the-sandbox-secret"))

    assert response.status_code == 401
    assert response.json()["error"]["message_zh"] == "回调签名不正确"
    assert stored_callbacks(web_app) == []
    assert recorded_events(web_app) == []
