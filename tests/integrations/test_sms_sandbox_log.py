"""The sandbox SMS provider's file of accepted messages in the data folder, which demos read."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from integrations.sms import HttpSms, SandboxSms, read_sandbox_log, sandbox_log_path
from runtime.providers import ProviderConfig
from tests.integrations.conftest import config
from tests.integrations.mock_provider import MockProvider, Reply


def sandbox(data_dir: Path | None) -> SandboxSms:
    return SandboxSms(ProviderConfig("sms", "sms", "sandbox", {}, {}, data_dir))


def test_sandbox_appends_each_accepted_message(tmp_path: Path) -> None:
    provider = sandbox(tmp_path)
    first = provider.send("138 0013-8000", "SMS_001", {"username": "dlr00001x_01", "password": "Kp7-secret"})
    provider.send("13900139000", "SMS_002", {"code": 4321})
    refused = provider.send("13800000000", "SMS_001", {"code": 1})

    assert not refused.accepted
    path = sandbox_log_path(tmp_path, "sms")
    assert path == tmp_path / "sandbox" / "sms_sms.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(line["phone"], line["template"]) for line in lines] == [("13800138000", "SMS_001"), ("13900139000", "SMS_002")]
    assert lines[0]["variables"] == {"username": "dlr00001x_01", "password": "Kp7-secret"}
    assert lines[0]["message_id"] == first.message_id
    assert lines[0]["time"].endswith("+00:00")
    assert lines[1]["variables"] == {"code": "4321"}


def test_read_sandbox_log_gives_the_newest_first(tmp_path: Path) -> None:
    provider = sandbox(tmp_path)
    for number in range(5):
        provider.send(f"1380013800{number}", "SMS_001", {"code": number})
    path = sandbox_log_path(tmp_path, "sms")
    with path.open("a", encoding="utf-8") as log:
        log.write("not json\n\n")
    assert [item["variables"]["code"] for item in read_sandbox_log(path, 3)] == ["4", "3"]
    assert [item["variables"]["code"] for item in read_sandbox_log(path, 10)] == ["4", "3", "2", "1", "0"]
    assert read_sandbox_log(tmp_path / "missing.jsonl", 10) == []


def test_sandbox_without_a_data_folder_keeps_no_file(tmp_path: Path) -> None:
    provider = sandbox(None)
    assert provider.send("13800138000", "SMS_001", {"code": 1}).accepted
    assert provider.log_path is None
    assert len(provider.outbox) == 1
    assert list(tmp_path.iterdir()) == []


def test_http_provider_keeps_no_file(tmp_path: Path, mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"message_id": "msg-1", "status": "accepted"}))
    provider = HttpSms(dataclasses.replace(config("sms", "sms", url=mock_provider.url), data_dir=tmp_path))
    assert provider.send("13800138000", "SMS_001", {"password": "secret"}).accepted
    assert list(tmp_path.iterdir()) == []
