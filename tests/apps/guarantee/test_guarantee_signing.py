"""E-signing of a loan's contracts through the HTTP e-signature provider, mocked on 127.0.0.1.

The provider leaves each envelope "sent"; its outcome arrives as a signed callback at the
guarantee app's real endpoint POST /callbacks/e_signature under uvicorn, or the "refresh
signing status" action asks for it. integrations/e_signature.py documents the contract.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from integrations import signing
from integrations.e_signature import sandbox_pdf
from runtime.errors import ValidationFailed
from runtime.settings import Settings
from tests.integrations.mock_provider import MockProvider, Reply
from tests.web.conftest import serving
from ui.web.app import build_app, open_state

from guarantee_world import (ADVANCE, GUARANTEE, SYSTEM, World, card_number, install_gps, messages, register, send_contracts,
                             to_approved_standard)

SECRET = "esign-test-secret"
PATH = "/callbacks/e_signature"
HTTP_E_SIGNATURE = """\
name: e_signature
interface: e_signature
provider: http
settings:
  timeout_seconds: 2
  retries: 0
  callback_hook: guarantee.record_signing_event
"""


class Office:
    """The guarantee app with the HTTP e-signature provider: the World for the users, and its server for the provider's callbacks."""

    def __init__(self, world: World, provider: MockProvider, client: httpx.Client) -> None:
        self.world = world
        self.provider = provider
        self.client = client

    def callback(self, envelope_id: str, event: str, event_id: str | None = None) -> httpx.Response:
        body = json.dumps({"event_id": event_id or f"{envelope_id}-{event}", "envelope_id": envelope_id, "event": event,
                           "reason": "signer_declined" if event == "envelope_declined" else None, "occurred_at": None}).encode()
        headers = {"Content-Type": "application/json", **signing.signed_headers("esign", SECRET, "POST", PATH, body)}
        return self.client.post(PATH, content=body, headers=headers)


@pytest.fixture
def office(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Office]:
    app = tmp_path / "guarantee"
    shutil.copytree(GUARANTEE, app, ignore=shutil.ignore_patterns("__pycache__"))
    (app / "integrations" / "e_signature.yaml").write_text(HTTP_E_SIGNATURE, encoding="utf-8")
    provider = MockProvider()
    provider.start()
    monkeypatch.setenv("METADESK_E_SIGNATURE_BASE_URL", provider.url)
    monkeypatch.setenv("METADESK_E_SIGNATURE_SECRET", SECRET)
    monkeypatch.setenv("METADESK_E_SIGNATURE_KEY_ID", "metadesk")
    world = World(database_url, tmp_path / "data", app=app)
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None, secret_key="test-secret")
    state = open_state(app, settings)
    try:
        with serving(build_app(app, settings, state=state)) as live, httpx.Client(base_url=live.url, trust_env=False,
                                                                                    timeout=30) as client:
            yield Office(world, provider, client)
    finally:
        state.runtime.close()
        world.close()
        provider.stop()


def created(*envelopes: str) -> list[Reply]:
    return [Reply(200, {"envelope_id": envelope, "status": "sent", "signing_links": [f"https://esign.test.invalid/{envelope}"]})
            for envelope in envelopes]


def document(envelope: str) -> Reply:
    content = sandbox_pdf([f"signed {envelope}"])
    return Reply(200, {"envelope_id": envelope, "content_base64": base64.b64encode(content).decode("ascii"),
                       "digest_algorithm": "sha256", "digest": hashlib.sha256(content).hexdigest()})


def status(envelope: str, value: str) -> Reply:
    return Reply(200, {"envelope_id": envelope, "status": value, "reason": None})


def ready(office: Office) -> dict[str, Any]:
    """Return a loan in advanced with its registration and a bound GPS device, its contracts sent as env-1 to env-3."""
    world = office.world
    record = to_approved_standard(world, world.application(world.product()))
    record = world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(995)})
    record = world.fire(record, "advance", "finance", values=ADVANCE)
    register(world, record)
    install_gps(world, record)
    office.provider.program(*created("env-1", "env-2", "env-3"))
    return send_contracts(world, world.read(record, "operations"))


def statuses(world: World, record: dict[str, Any]) -> dict[str, str]:
    rows = world.runtime.records.list(SYSTEM, "contract").rows
    return {str(row["kind"]): str(row["status"]) for row in rows if row["application"] == record["id"]}


def blocked(world: World, record: dict[str, Any]) -> str:
    with pytest.raises(ValidationFailed) as error:
        world.fire(world.read(record, "operations"), "register_mortgage", "operations")
    return messages(error.value)


def test_sent_blocks_until_signed_callback(office: Office) -> None:
    world = office.world
    record = ready(office)
    assert [request.path for request in office.provider.requests] == ["/esign/envelopes"] * 3
    assert {request.json()["signers"][0]["phone"] for request in office.provider.requests} != {None}
    assert record["signing_status"] == "sent"
    assert statuses(world, record) == {"guarantee": "sent", "mortgage": "sent", "deduction_authorization": "sent"}
    assert "the guarantee contract (sent, awaiting signature)" in blocked(world, record)

    office.provider.program(document("env-1"), document("env-2"), document("env-3"))
    for envelope in ("env-1", "env-2", "env-3"):
        answer = office.callback(envelope, "envelope_signed")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "stored"
    assert [request.path for request in office.provider.requests] == [f"/esign/envelopes/env-{n}/document" for n in (1, 2, 3)]
    assert set(statuses(world, record).values()) == {"signed"}
    assert world.read(record)["signing_status"] == "signed"

    # The same event delivered again changes nothing.
    assert office.callback("env-1", "envelope_signed").json()["status"] == "duplicate"
    moved = world.fire(world.read(record, "operations"), "register_mortgage", "operations")
    assert moved["state"] == "mortgaged"


def test_unsigned_callback_refused(office: Office) -> None:
    record = ready(office)
    body = json.dumps({"event_id": "forged", "envelope_id": "env-1", "event": "envelope_signed"}).encode()
    headers = {"Content-Type": "application/json", **signing.signed_headers("esign", "another-secret", "POST", PATH, body)}
    assert office.client.post(PATH, content=body, headers=headers).status_code == 401
    assert statuses(office.world, record)["guarantee"] == "sent"


def test_refresh_records_signed_envelopes(office: Office) -> None:
    world = office.world
    record = ready(office)
    office.provider.program(status("env-1", "signed"), document("env-1"), status("env-2", "sent"), status("env-3", "signed"),
                            document("env-3"))

    record = world.users.run_action(world.actor("operations"), "loan_application", record["id"], "refresh_signing",
                                    version=record["version"])

    assert statuses(world, record) == {"guarantee": "signed", "mortgage": "sent", "deduction_authorization": "signed"}
    assert record["signing_status"] == "sent"
    assert "these contracts are not signed: the mortgage contract (sent, awaiting signature)." in blocked(world, record)

    office.provider.program(status("env-2", "signed"), document("env-2"))
    record = world.users.run_action(world.actor("operations"), "loan_application", record["id"], "refresh_signing",
                                    version=record["version"])
    assert record["signing_status"] == "signed"
    assert world.fire(record, "register_mortgage", "operations")["state"] == "mortgaged"


def test_declined_envelope_sent_again(office: Office) -> None:
    world = office.world
    record = ready(office)

    assert office.callback("env-1", "envelope_declined").status_code == 200
    assert statuses(world, record)["guarantee"] == "declined"
    assert world.read(record)["signing_status"] == "declined"
    assert "the guarantee contract (declined)" in blocked(world, record)

    office.provider.program(*created("env-4"))
    record = send_contracts(world, world.read(record, "operations"))
    assert [request.path for request in office.provider.requests] == ["/esign/envelopes"]
    contract = next(row for row in world.runtime.records.list(SYSTEM, "contract").rows if row["kind"] == "guarantee")
    assert (contract["envelope_id"], contract["status"], contract["send_count"], contract["failure_reason"]) == ("env-4", "sent", 2, None)

    # A late event of the replaced envelope is stored and ignored.
    assert office.callback("env-1", "envelope_expired").json()["status"] == "stored"
    assert statuses(world, record)["guarantee"] == "sent"

    office.provider.program(document("env-2"), document("env-3"), document("env-4"))
    for envelope in ("env-2", "env-3", "env-4"):
        assert office.callback(envelope, "envelope_signed").status_code == 200
    assert world.fire(world.read(record, "operations"), "register_mortgage", "operations")["state"] == "mortgaged"
