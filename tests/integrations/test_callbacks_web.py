"""POST /callbacks/{integration} on the hooks example app under uvicorn: SMS delivery receipts stored once, hook run once."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any, Callable, Iterator

import httpx
import pytest
from sqlalchemy import select

from integrations import signing
from runtime.access import SYSTEM_ACTOR
from tests.conftest import REPOSITORY
from tests.integrations.conftest import KEY_ID, SECRET
from tests.integrations.mock_provider import MockProvider
from tests.web.conftest import WebApp, serving
from runtime.callbacks import MAX_FAILED_DELIVERIES, remove_handled_callbacks
from ui.cli import main
from ui.web.callbacks import MAX_CALLBACK_BYTES

HOOKED = REPOSITORY / "tests" / "apps" / "hooked"
PATH = "/callbacks/sms"


def receipt(event_id: str = "evt-1", message_id: str = "msg-1", status: str = "delivered", **extra: Any) -> bytes:
    return json.dumps({"event_id": event_id, "message_id": message_id, "status": status, "reason": None, **extra}).encode()


def signed(body: bytes, *, secret: str = SECRET, path: str = PATH, now: float | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **signing.signed_headers("sms-provider", secret, "POST", path, body, now=now)}


class Office:
    """The hooks example app served on 127.0.0.1, with a client for the provider's side."""

    def __init__(self, web_app: WebApp, client: httpx.Client) -> None:
        self.web_app = web_app
        self.client = client

    def post(self, body: bytes, headers: dict[str, str], path: str = PATH) -> httpx.Response:
        return self.client.post(path, content=body, headers=headers)

    def stored(self) -> list[dict[str, Any]]:
        table = self.web_app.runtime.schema.callbacks
        with self.web_app.runtime.engine.connect() as connection:
            rows = connection.execute(select(table).order_by(table.c.id)).mappings().all()
        return [dict(row) for row in rows]

    def deliveries(self) -> list[dict[str, Any]]:
        rows = self.web_app.runtime.records.list(SYSTEM_ACTOR, "delivery").rows
        return sorted((dict(row) for row in rows), key=lambda row: row["id"])


@pytest.fixture
def office(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch, mock_provider: MockProvider) -> Iterator[Office]:
    monkeypatch.setenv("METADESK_SMS_BASE_URL", mock_provider.url)
    monkeypatch.setenv("METADESK_SMS_KEY_ID", KEY_ID)
    monkeypatch.setenv("METADESK_SMS_SECRET", SECRET)
    monkeypatch.setenv("METADESK_IDENTITY_CHECK_BASE_URL", mock_provider.url)
    web_app = make_web_app(HOOKED)
    with serving(web_app.app) as live, httpx.Client(base_url=live.url, trust_env=False, timeout=30) as client:
        yield Office(web_app, client)


def test_signed_receipt_stored_once(office: Office) -> None:
    body = receipt()
    headers = signed(body)

    first = office.post(body, headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "stored", "event_id": "evt-1"}
    stored = office.stored()
    assert len(stored) == 1
    assert (stored[0]["integration"], stored[0]["event_id"], stored[0]["kind"]) == ("sms", "evt-1", "sms_delivered")
    assert stored[0]["payload"] == {"message_id": "msg-1", "status": "delivered", "reason": None}
    deliveries = office.deliveries()
    assert [(row["message_id"], row["event_id"], row["status"]) for row in deliveries] == [("msg-1", "evt-1", "delivered")]
    assert deliveries[0]["created_by"] == "system"

    again = office.post(body, headers)
    assert again.status_code == 200, again.text
    assert again.json() == {"status": "duplicate", "event_id": "evt-1"}
    resigned = office.post(body, signed(body))
    assert resigned.json()["status"] == "duplicate"
    assert len(office.stored()) == 1
    assert len(office.deliveries()) == 1

    other = receipt("evt-2", "msg-2", "failed", reason="unreachable")
    assert office.post(other, signed(other)).json() == {"status": "stored", "event_id": "evt-2"}
    assert [row["event_id"] for row in office.stored()] == ["evt-1", "evt-2"]
    assert [(row["message_id"], row["status"], row["reason"]) for row in office.deliveries()][1] == ("msg-2", "failed", "unreachable")


def test_bad_signature_rejected(office: Office) -> None:
    body = receipt()
    wrong_secret = office.post(body, signed(body, secret="not-the-secret"))
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == {"code": "rejected", "message": "The callback's signature does not match",
                                           "message_zh": "回调签名不正确"}
    other_body = office.post(receipt(status="failed"), signed(body))
    assert other_body.status_code == 401
    other_path = office.post(body, signed(body, path="/callbacks/other"))
    assert other_path.status_code == 401
    unsigned = office.post(body, {"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["message_zh"] == "回调缺少签名"
    assert office.stored() == []
    assert office.deliveries() == []


def test_stale_timestamp_rejected(office: Office) -> None:
    body = receipt()
    stale = office.post(body, signed(body, now=time.time() - signing.WINDOW_SECONDS - 5))
    assert stale.status_code == 401
    assert "may be a replay" in stale.json()["error"]["message"]
    assert office.stored() == []
    assert office.deliveries() == []


@pytest.mark.parametrize("body", [b"{not json", b"[]", receipt(status="opened"), receipt(event_id="e" * 129)],
                         ids=["not-json", "array", "unknown-status", "long-event-id"])
def test_malformed_body_rejected(office: Office, body: bytes) -> None:
    response = office.post(body, signed(body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "rejected"
    assert office.stored() == []


def test_oversized_body_rejected(office: Office) -> None:
    body = receipt(padding="x" * MAX_CALLBACK_BYTES)
    response = office.post(body, signed(body))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert office.stored() == []


def test_unknown_integration_not_found(office: Office) -> None:
    body = receipt()
    unknown = office.post(body, signed(body, path="/callbacks/bank"), path="/callbacks/bank")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_integration"
    no_callbacks = office.post(body, signed(body, path="/callbacks/identity_check"), path="/callbacks/identity_check")
    assert no_callbacks.status_code == 404
    assert no_callbacks.json()["error"]["code"] == "no_callbacks"
    assert office.client.get(PATH).status_code == 405
    assert office.stored() == []


def test_failing_hook_keeps_the_event_failed(office: Office) -> None:
    # A delivery of msg-1 exists already, so the hook's create fails on the unique message id.
    blocking = office.web_app.runtime.records.create(SYSTEM_ACTOR, "delivery",
                                                     {"message_id": "msg-1", "event_id": "manual", "status": "failed"})
    body = receipt()
    headers = signed(body)

    failed = office.post(body, headers)
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "hook_failed"
    assert failed.json()["error"]["message_zh"] == "回调处理失败，请稍后重新发送"
    [kept] = office.stored()
    assert (kept["event_id"], kept["status"], kept["attempts"], kept["handled_at"]) == ("evt-1", "failed", 1, None)
    assert "message_id" in kept["error"]
    assert [row["event_id"] for row in office.deliveries()] == ["manual"]

    # Once the cause is gone, the provider's redelivery of the same event is handled afresh.
    office.web_app.runtime.records.update(SYSTEM_ACTOR, "delivery", blocking["id"], {"message_id": "msg-0"},
                                          version=blocking["version"])
    redelivered = office.post(body, headers)
    assert redelivered.status_code == 200, redelivered.text
    assert redelivered.json()["status"] == "stored"
    [handled] = office.stored()
    assert (handled["status"], handled["attempts"], handled["error"]) == ("handled", 2, None)
    assert handled["handled_at"] is not None
    assert [(row["message_id"], row["event_id"]) for row in office.deliveries()] == [("msg-0", "manual"), ("msg-1", "evt-1")]
    assert office.post(body, headers).json()["status"] == "duplicate"


def test_event_failing_every_time_waits_for_an_administrator(office: Office, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    blocking = office.web_app.runtime.records.create(SYSTEM_ACTOR, "delivery",
                                                     {"message_id": "msg-1", "event_id": "manual", "status": "failed"})
    body = receipt()
    headers = signed(body)
    answers = [office.post(body, headers) for _ in range(MAX_FAILED_DELIVERIES)]

    assert [answer.status_code for answer in answers] == [500] * (MAX_FAILED_DELIVERIES - 1) + [200]
    assert answers[-1].json() == {"status": "failed", "event_id": "evt-1", "attempts": MAX_FAILED_DELIVERIES}
    assert [(row["status"], row["attempts"]) for row in office.stored()] == [("failed", MAX_FAILED_DELIVERIES)]

    # The administrator finds it, removes the cause and runs it again from the command line.
    settings = office.web_app.settings
    monkeypatch.setenv("METADESK_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("METADESK_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("METADESK_REDIS_URL", raising=False)
    assert main(["callbacks", str(HOOKED), "--lang", "en"]) == 0
    listed = capsys.readouterr().out
    assert "1 callbacks whose hook failed:" in listed
    assert "sms evt-1 (sms_delivered), received " in listed
    assert "message_id: another record already has this value" in listed
    assert f"{MAX_FAILED_DELIVERIES} attempts" in listed

    assert main(["callbacks", str(HOOKED), "--lang", "en", "--retry", "evt-1"]) == 2
    assert "--retry needs --integration NAME" in capsys.readouterr().out
    assert main(["callbacks", str(HOOKED), "--lang", "en", "--retry-all"]) == 1
    assert "sms evt-1: failed again (attempt 6)" in capsys.readouterr().out

    office.web_app.runtime.records.update(SYSTEM_ACTOR, "delivery", blocking["id"], {"message_id": "msg-0"},
                                          version=blocking["version"])
    assert main(["callbacks", str(HOOKED), "--lang", "en", "--integration", "sms", "--retry", "evt-1"]) == 0
    assert "sms evt-1: handled." in capsys.readouterr().out
    assert [(row["status"], row["attempts"]) for row in office.stored()] == [("handled", 7)]
    assert [row["event_id"] for row in office.deliveries()] == ["manual", "evt-1"]
    assert main(["callbacks", str(HOOKED), "--lang", "zh-CN"]) == 0
    assert "没有待处理的回调" in capsys.readouterr().out
    assert main(["callbacks", str(HOOKED), "--lang", "en", "--integration", "fax"]) == 1
    assert "The application declares no integration 'fax'" in capsys.readouterr().out


def test_missing_secret_not_configured(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METADESK_SMS_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("METADESK_SMS_KEY_ID", raising=False)
    monkeypatch.delenv("METADESK_SMS_SECRET", raising=False)
    web_app = make_web_app(HOOKED)
    body = receipt()
    with serving(web_app.app) as live, httpx.Client(base_url=live.url, trust_env=False, timeout=30) as client:
        response = client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_configured"
    assert "METADESK_SMS_SECRET" in response.json()["error"]["message"]


def test_missing_base_url_not_configured(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METADESK_SMS_BASE_URL", raising=False)
    monkeypatch.setenv("METADESK_SMS_SECRET", SECRET)
    web_app = make_web_app(HOOKED)
    body = receipt()
    with serving(web_app.app) as live, httpx.Client(base_url=live.url, trust_env=False, timeout=30) as client:
        response = client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 503
    assert "METADESK_SMS_BASE_URL" in response.json()["error"]["message"]


def test_old_handled_events_removed_failed_kept(office: Office) -> None:
    office.web_app.runtime.records.create(SYSTEM_ACTOR, "delivery", {"message_id": "msg-9", "event_id": "manual", "status": "failed"})
    for event, message in (("evt-old", "msg-1"), ("evt-new", "msg-2"), ("evt-failing", "msg-9")):
        body = receipt(event, message)
        office.post(body, signed(body))
    table = office.web_app.runtime.schema.callbacks
    long_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=100)
    with office.web_app.runtime.engine.begin() as connection:
        connection.execute(table.update().where(table.c.event_id.in_(["evt-old", "evt-failing"])).values(received_at=long_ago))

    cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=90)
    assert remove_handled_callbacks(office.web_app.runtime.records, cutoff) == 1
    assert sorted((row["event_id"], row["status"]) for row in office.stored()) == [("evt-failing", "failed"), ("evt-new", "handled")]
