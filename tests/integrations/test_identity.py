"""Identity check providers: the HTTP client against a mock provider on 127.0.0.1, and the sandbox's fixed rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations import signing
from integrations.errors import ProviderError
from integrations.identity import HttpIdentityCheck, IdentityResult, SandboxIdentityCheck, describe
from tests.integrations.conftest import KEY_ID, SECRET, config, id_number
from tests.integrations.mock_provider import MockProvider, Received, Reply

MATCH = {"request_id": "idc-1", "result": "match", "reason": None}


def identity(url: str, **settings: Any) -> HttpIdentityCheck:
    return HttpIdentityCheck(config("identity_check", "identity_check", url=url, **settings))


def assert_signed(request: Received) -> None:
    """Check the request's signature the way the provider would, with the shared secret."""
    signing.verify(request.headers, SECRET, request.method, request.path, request.body)
    assert request.header(signing.KEY_HEADER) == KEY_ID


def wrong_check_character(number: str) -> str:
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def test_http_match(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, MATCH))
    number = id_number(123)

    result = identity(mock_provider.url).verify("张三", number, "13800138000")

    assert result == IdentityResult(True, None, "idc-1")
    assert len(mock_provider.requests) == 1
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/identity/verify")
    assert request.json() == {"name": "张三", "id_number": number, "phone": "13800138000"}
    assert request.header("Content-Type") == "application/json"
    assert request.header("Idempotency-Key")
    assert_signed(request)


def test_http_mismatch_reasons(mock_provider: MockProvider) -> None:
    provider = identity(mock_provider.url)
    for reason in ("name_mismatch", "phone_mismatch", "no_record"):
        mock_provider.program(Reply(200, {"request_id": f"idc-{reason}", "result": "mismatch", "reason": reason}))
        result = provider.verify("李四", id_number(456))
        assert result == IdentityResult(False, reason, f"idc-{reason}")
        assert mock_provider.requests[0].json()["phone"] is None


def test_http_signature_covers_base_path(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, MATCH))
    identity(mock_provider.url + "/gateway/v2/").verify("张三", id_number(123))
    request = mock_provider.requests[0]
    assert request.path == "/gateway/v2/identity/verify"
    assert_signed(request)


def test_http_signature_detects_changed_body(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, MATCH))
    identity(mock_provider.url).verify("张三", id_number(123))
    request = mock_provider.requests[0]
    changed = request.body.replace("张三".encode(), "李四".encode())
    with pytest.raises(signing.SignatureRejected):
        signing.verify(request.headers, SECRET, request.method, request.path, changed)


def test_http_unsigned_without_credentials(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, MATCH))
    provider = HttpIdentityCheck(config("identity_check", "identity_check", url=mock_provider.url, signed=False))
    provider.verify("张三", id_number(123))
    request = mock_provider.requests[0]
    assert request.header(signing.SIGNATURE_HEADER) is None
    assert request.header("Idempotency-Key")


def test_http_idempotency_key_kept_across_retries(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(503, {}), Reply(502, b"bad gateway"), Reply(200, MATCH))
    provider = identity(mock_provider.url, retries=2)

    assert provider.verify("张三", id_number(123)).matched

    keys = [request.header("Idempotency-Key") for request in mock_provider.requests]
    assert len(keys) == 3
    assert keys[0]
    assert len(set(keys)) == 1
    for request in mock_provider.requests:
        assert_signed(request)
    # Each attempt is signed afresh, so no two carry the same nonce.
    nonces = {request.header(signing.NONCE_HEADER) for request in mock_provider.requests}
    assert len(nonces) == 3

    mock_provider.program(Reply(200, MATCH))
    provider.verify("张三", id_number(123))
    assert mock_provider.requests[0].header("Idempotency-Key") != keys[0]


def test_http_bad_check_character_sends_nothing(mock_provider: MockProvider) -> None:
    number = wrong_check_character(id_number(123))
    with pytest.raises(ProviderError) as raised:
        identity(mock_provider.url).verify("张三", number)
    assert raised.value.code == "rejected"
    assert raised.value.integration == "identity_check"
    assert raised.value.en == "The ID number 110*************" + number[-2:] + " is not valid; check it and try again"
    assert raised.value.zh == "身份证号 110*************" + number[-2:] + " 无效，请核对后重试"
    assert number not in raised.value.en
    assert mock_provider.requests == []


@pytest.mark.parametrize("number", ["11010519900505123", "1101051990050512345", "110105199013051234", "", "abc"])
def test_http_invalid_numbers_send_nothing(mock_provider: MockProvider, number: str) -> None:
    with pytest.raises(ProviderError) as raised:
        identity(mock_provider.url).verify("张三", number)
    assert raised.value.code == "rejected"
    assert mock_provider.requests == []


def test_http_empty_name_sends_nothing(mock_provider: MockProvider) -> None:
    with pytest.raises(ProviderError) as raised:
        identity(mock_provider.url).verify("  ", id_number(123))
    assert (raised.value.code, raised.value.zh) == ("rejected", "请填写要核验的姓名")
    assert mock_provider.requests == []


def test_http_number_sent_in_standard_form(mock_provider: MockProvider) -> None:
    lower_x = next(number for number in (id_number(sequence) for sequence in range(1, 200)) if number.endswith("X"))
    mock_provider.program(Reply(200, MATCH))
    identity(mock_provider.url).verify(" 张三 ", f" {lower_x.lower()} ")
    assert mock_provider.requests[0].json()["id_number"] == lower_x
    assert mock_provider.requests[0].json()["name"] == "张三"


# The sandbox: deterministic by the sequence digits, the 15th to 17th of the number.

SANDBOX_CASES = [
    (123, None, True, None),
    (123, "13800138000", True, None),
    (989, "13800138000", True, None),
    (990, None, False, "name_mismatch"),
    (994, "13800138000", False, "name_mismatch"),
    (995, None, True, None),
    (995, "13800138000", False, "phone_mismatch"),
    (998, "13800138000", False, "phone_mismatch"),
    (999, None, False, "no_record"),
    (999, "13800138000", False, "no_record"),
]


@pytest.mark.parametrize(("sequence", "phone", "matched", "reason"), SANDBOX_CASES)
def test_sandbox_rules(sequence: int, phone: str | None, matched: bool, reason: str | None) -> None:
    sandbox = SandboxIdentityCheck(config("identity_check", "identity_check", "sandbox", signed=False))
    result = sandbox.verify("王五", id_number(sequence), phone)
    assert (result.matched, result.reason) == (matched, reason)


def test_sandbox_request_ids_deterministic() -> None:
    first = SandboxIdentityCheck(config("identity_check", "identity_check", "sandbox", signed=False))
    second = SandboxIdentityCheck(config("identity_check", "identity_check", "sandbox", signed=False))
    result = first.verify("王五", id_number(123), "13800138000")
    assert result.request_id.startswith("sbx-")
    assert second.verify("王五", id_number(123), "13800138000").request_id == result.request_id
    assert first.verify("王六", id_number(123), "13800138000").request_id != result.request_id
    assert first.verify("王五", id_number(124), "13800138000").request_id != result.request_id


def test_sandbox_checks_input_like_http() -> None:
    sandbox = SandboxIdentityCheck(config("identity_check", "identity_check", "sandbox", signed=False))
    for name, number in (("王五", wrong_check_character(id_number(123))), ("", id_number(123))):
        with pytest.raises(ProviderError) as raised:
            sandbox.verify(name, number)
        assert raised.value.code == "rejected"


def test_describe_result_as_json() -> None:
    result = IdentityResult(False, "no_record", "idc-9")
    assert json.loads(json.dumps(describe(result))) == {"matched": False, "reason": "no_record", "request_id": "idc-9"}
