"""The HTTP client of every `http` provider: timeouts, retries, rejections, unreadable responses, settings and logs."""

from __future__ import annotations

import datetime
import email.utils
import logging
import socket
import time
from typing import Any

import pytest

from integrations.errors import ProviderError
from integrations.identity import HttpIdentityCheck
from runtime.providers import ProviderConfig
from tests.integrations.conftest import SECRET, config, id_number
from tests.integrations.mock_provider import MockProvider, Reply

MATCH = {"request_id": "idc-1", "result": "match", "reason": None}


def identity(url: str, **settings: Any) -> HttpIdentityCheck:
    return HttpIdentityCheck(config("identity_check", "identity_check", url=url, **settings))


def failure(provider: HttpIdentityCheck, number: str | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.verify("张三", number or id_number(123))
    return raised.value


def closed_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Timeouts and retries.

def test_timeout_retried_then_fails(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, MATCH, delay_seconds=1.5))
    started = time.monotonic()
    error = failure(identity(mock_provider.url, timeout_seconds=0.2, retries=2, backoff_seconds=0.01))
    elapsed = time.monotonic() - started

    assert error.code == "timeout"
    assert error.en == "The identity check service did not respond in time; try again later"
    assert error.zh == "实名认证服务响应超时，请稍后重试"
    assert len(mock_provider.requests) == 3
    # Three attempts of 0.2 s each, not one wait for the slow reply.
    assert elapsed < 1.4


def test_timeout_without_retries(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, MATCH, delay_seconds=1.5))
    assert failure(identity(mock_provider.url, timeout_seconds=0.2, retries=0)).code == "timeout"
    assert len(mock_provider.requests) == 1


def test_server_error_then_success(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="integrations.http")
    mock_provider.program(Reply(500, {"message": "internal"}), Reply(200, MATCH))
    assert identity(mock_provider.url).verify("张三", id_number(123)).matched
    assert len(mock_provider.requests) == 2
    attempts = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(attempts) == 2
    assert "HTTP 500" in attempts[0]
    assert "attempt 1 of 3" in attempts[0]
    assert "HTTP 200" in attempts[1]
    assert "attempt 2 of 3" in attempts[1]


def test_too_many_requests_retried(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(429, {"message": "slow down"}), Reply(429, {}), Reply(200, MATCH))
    assert identity(mock_provider.url, retries=2).verify("张三", id_number(123)).matched
    assert len(mock_provider.requests) == 3


def test_server_errors_exhaust_retries(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(503, {}))
    error = failure(identity(mock_provider.url, retries=1))
    assert error.code == "unavailable"
    assert error.en == "The identity check service answered HTTP 503; try again later"
    assert error.zh == "实名认证服务返回 HTTP 503，请稍后重试"
    assert len(mock_provider.requests) == 2


def test_backoff_doubles(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(503, {}))
    started = time.monotonic()
    failure(identity(mock_provider.url, retries=2, backoff_seconds=0.2))
    # Waits of 0.2 s and then 0.4 s between the three attempts.
    assert time.monotonic() - started >= 0.6
    assert len(mock_provider.requests) == 3


def test_connection_refused_retried() -> None:
    error = failure(identity(f"http://127.0.0.1:{closed_port()}", retries=1))
    assert error.code == "unavailable"
    assert error.en == "The identity check service could not be reached; try again later"


# Rejections and unreadable responses are not retried.

def test_client_error_rejected_with_message(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(400, {"message": "姓名含有非法字符"}))
    error = failure(identity(mock_provider.url))
    assert error.code == "rejected"
    assert error.en == "The identity check service rejected the request (HTTP 400): 姓名含有非法字符"
    assert error.zh == "实名认证服务拒绝了请求（HTTP 400）：姓名含有非法字符"
    assert len(mock_provider.requests) == 1


def test_client_error_without_message(mock_provider: MockProvider) -> None:
    for body in (b"", b"not json", [1, 2], {"code": 17}):
        mock_provider.program(Reply(403, body))
        error = failure(identity(mock_provider.url))
        assert (error.code, error.en) == ("rejected", "The identity check service rejected the request (HTTP 403)")
        assert len(mock_provider.requests) == 1


def test_long_rejection_message_cut(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(422, {"message": "很长" * 500}))
    error = failure(identity(mock_provider.url))
    assert error.zh == "实名认证服务拒绝了请求（HTTP 422）：" + ("很长" * 100)


@pytest.mark.parametrize("body", [
    b"<html>oops</html>",
    b"",
    [{"result": "match"}],
    "match",
    {"result": "match"},
    {"request_id": "idc-1"},
    {"request_id": "idc-1", "result": "yes"},
    {"request_id": 17, "result": "match"},
    {"request_id": "idc-1", "result": "mismatch"},
    {"request_id": "idc-1", "result": "mismatch", "reason": "bad_mood"},
], ids=["html", "empty", "array", "string", "no-request-id", "no-result", "unknown-result", "numeric-id",
        "mismatch-no-reason", "unknown-reason"])
def test_unreadable_response(mock_provider: MockProvider, body: object) -> None:
    mock_provider.program(Reply(200, body))
    error = failure(identity(mock_provider.url))
    assert error.code == "bad_response"
    assert "cannot be read" in error.en
    assert len(mock_provider.requests) == 1


def test_undecodable_body(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    error = failure(identity(mock_provider.url))
    assert error.code == "bad_response"
    assert len(mock_provider.requests) == 1


def test_redirect_is_not_a_result(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(302, MATCH))
    error = failure(identity(mock_provider.url))
    assert error.code == "bad_response"
    assert "HTTP 302" in error.en
    assert len(mock_provider.requests) == 1


# Configuration.

def test_missing_base_url() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpIdentityCheck(config("identity_check", "identity_check", url=None))
    assert raised.value.code == "not_configured"
    assert raised.value.en == ("Set METADESK_IDENTITY_CHECK_BASE_URL to the address of the identity check service, "
                               "such as https://host/path")
    assert "METADESK_IDENTITY_CHECK_BASE_URL" in raised.value.zh


def test_base_url_without_scheme() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpIdentityCheck(config("identity_check", "identity_check", url="127.0.0.1:8080"))
    assert raised.value.code == "not_configured"


def test_empty_base_url_counts_as_missing() -> None:
    environ = {"METADESK_KYC_BASE_URL": ""}
    with pytest.raises(ProviderError) as raised:
        HttpIdentityCheck(ProviderConfig("kyc", "identity_check", "http", {}, environ))
    assert "METADESK_KYC_BASE_URL" in raised.value.en


@pytest.mark.parametrize(("present", "missing"), [("KEY_ID", "SECRET"), ("SECRET", "KEY_ID")])
def test_half_signing_credentials(present: str, missing: str) -> None:
    environ = {"METADESK_KYC_BASE_URL": "http://127.0.0.1:9", f"METADESK_KYC_{present}": "value"}
    with pytest.raises(ProviderError) as raised:
        HttpIdentityCheck(ProviderConfig("kyc", "identity_check", "http", {}, environ))
    assert raised.value.code == "not_configured"
    assert raised.value.en.startswith(f"Set METADESK_KYC_{missing} as well")


@pytest.mark.parametrize(("key", "value"), [
    ("retries", "two"), ("retries", -1), ("retries", 1.5), ("retries", True),
    ("timeout_seconds", 0), ("timeout_seconds", "soon"), ("backoff_seconds", -0.5),
])
def test_invalid_settings(key: str, value: object) -> None:
    with pytest.raises(ProviderError) as raised:
        identity("http://127.0.0.1:9", **{key: value})
    assert raised.value.code == "not_configured"
    assert raised.value.en.startswith(f"The setting {key} of the integration identity_check must be")
    assert repr(value) in raised.value.en


def test_default_settings() -> None:
    provider = HttpIdentityCheck(ProviderConfig("kyc", "identity_check", "http", {}, {"METADESK_KYC_BASE_URL": "http://127.0.0.1:9"}))
    assert (provider.retries, provider.backoff) == (2, 0.5)
    assert provider.client.timeout.read == 10.0
    provider.close()


# Logs: one line per attempt, with no personal data and no secret.

def test_logs_show_outcome_not_personal_data(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    number, phone, name = id_number(123), "13912345678", "赵六"
    provider = identity(mock_provider.url, retries=2, timeout_seconds=0.2)

    mock_provider.program(Reply(503, {"message": number}), Reply(200, MATCH))
    provider.verify(name, number, phone)
    mock_provider.program(Reply(200, MATCH, delay_seconds=1.0))
    with pytest.raises(ProviderError):
        provider.verify(name, number, phone)
    mock_provider.program(Reply(400, {"message": "bad phone " + phone}))
    with pytest.raises(ProviderError):
        provider.verify(name, number, phone)

    attempts = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(attempts) == 2 + 3 + 1
    for line in attempts:
        assert line.startswith("identity_check verify id_number=110*************")
        assert " ms (attempt " in line
    assert "HTTP 503" in attempts[0]
    assert "HTTP 200" in attempts[1]
    assert all("timed out" in line for line in attempts[2:5])
    assert "HTTP 400" in attempts[5]

    everything = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    for secret_or_personal in (number, number[6:14], phone, name, SECRET):
        assert secret_or_personal not in everything


def test_retry_after_seconds_waited(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(429, {}, headers={"Retry-After": "1"}), Reply(200, MATCH))
    started = time.monotonic()
    assert identity(mock_provider.url, retries=1, backoff_seconds=0.01).verify("张三", id_number(123)).matched
    # The backoff alone would wait 0.01 s; the provider asked for one second.
    assert time.monotonic() - started >= 1.0
    assert len(mock_provider.requests) == 2


def test_retry_after_date_waited(mock_provider: MockProvider) -> None:
    soon = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2), usegmt=True)
    mock_provider.program(Reply(503, {}, headers={"Retry-After": soon}), Reply(200, MATCH))
    started = time.monotonic()
    assert identity(mock_provider.url, retries=1, backoff_seconds=0.01).verify("张三", id_number(123)).matched
    # An HTTP date has whole seconds, so the wait is between one and two seconds.
    assert time.monotonic() - started >= 0.9
    assert len(mock_provider.requests) == 2


def test_retry_after_beyond_max_wait_fails_at_once(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(429, {}, headers={"Retry-After": "120"}), Reply(200, MATCH))
    started = time.monotonic()
    error = failure(identity(mock_provider.url, retries=2, max_wait_seconds=5))

    assert time.monotonic() - started < 1.0
    assert error.code == "unavailable"
    assert error.en == "The identity check service is busy (HTTP 429) and asks to wait 120 seconds; try again after that"
    assert error.zh == "实名认证服务繁忙（HTTP 429），要求等待 120 秒；请稍后重试"
    assert len(mock_provider.requests) == 1


def test_unreadable_retry_after_keeps_the_backoff(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(429, {}, headers={"Retry-After": "soon"}), Reply(200, MATCH))
    started = time.monotonic()
    assert identity(mock_provider.url, retries=1, backoff_seconds=0.01).verify("张三", id_number(123)).matched
    assert time.monotonic() - started < 0.5
