"""Anti-fraud providers: the HTTP client against a mock provider on 127.0.0.1, risk levels, and the sandbox's rules."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pytest

from integrations import signing
from integrations.anti_fraud import (
    LISTS,
    SANDBOX_WEIGHTS,
    HttpAntiFraud,
    ListHit,
    SandboxAntiFraud,
    Screening,
    describe,
    risk_level,
)
from integrations.errors import ProviderError
from runtime.providers import registry
from tests.integrations.conftest import KEY_ID, SECRET, config, id_number
from tests.integrations.mock_provider import MockProvider, Received, Reply

PHONE = "13800138000"
RESULT: dict[str, Any] = {
    "screening_id": "afs-1",
    "score": 735,
    "hits": [{"list": "court_dishonest", "reason": "（2022）沪0115执1234号"}, {"list": "multi_lender", "reason": "近3个月申请7家机构"}],
}


def anti_fraud(url: str, **settings: Any) -> HttpAntiFraud:
    return HttpAntiFraud(config("anti_fraud", "anti_fraud", url=url, **settings))


def sandbox() -> SandboxAntiFraud:
    return SandboxAntiFraud(config("anti_fraud", "anti_fraud", "sandbox", signed=False))


def failure(provider: HttpAntiFraud | SandboxAntiFraud, *, name: str = "张三", number: str | None = None, phone: str = PHONE,
            **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.screen(name, id_number(123) if number is None else number, phone, **options)
    return raised.value


def assert_signed(request: Received) -> None:
    """Check the request's signature the way the provider would, with the shared secret."""
    signing.verify(request.headers, SECRET, request.method, request.path, request.body)
    assert request.header(signing.KEY_HEADER) == KEY_ID


def test_both_kinds_registered() -> None:
    assert registry.get("anti_fraud", "http") is HttpAntiFraud
    assert registry.get("anti_fraud", "sandbox") is SandboxAntiFraud


@pytest.mark.parametrize(("score", "level"), [(0, "low"), (399, "low"), (400, "medium"), (699, "medium"), (700, "high"),
                                              (1000, "high")])
def test_risk_level_thresholds(score: int, level: str) -> None:
    assert risk_level(score) == level


def test_lists_have_both_languages() -> None:
    assert set(LISTS) == {"court_dishonest", "fraud_blacklist", "multi_lender", "phone_risk", "device_risk", "ip_risk"}
    assert LISTS["court_dishonest"][1] == "失信被执行人"
    assert LISTS["multi_lender"][1] == "多头借贷"


# Screening over HTTP.

def test_http_screen_returns_hits(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, RESULT))
    number = id_number(123)

    screening = anti_fraud(mock_provider.url).screen(" 张三 ", number.lower(), "138 0013-8000")

    assert screening == Screening("afs-1", 735, "high", (ListHit("court_dishonest", "（2022）沪0115执1234号"),
                                                         ListHit("multi_lender", "近3个月申请7家机构")))
    assert len(mock_provider.requests) == 1
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/anti-fraud/screen")
    assert request.json() == {"name": "张三", "id_number": number, "phone": PHONE, "device_id": None, "ip": None}
    assert request.header("Idempotency-Key")
    assert_signed(request)


def test_http_device_and_ip_sent(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"screening_id": "afs-2", "score": 0, "hits": []}))
    provider = anti_fraud(mock_provider.url + "/risk/v1")

    screening = provider.screen("张三", id_number(123), PHONE, device_id=" dev-8f3a ", ip=" 2001:DB8:0:0::1 ")

    assert screening == Screening("afs-2", 0, "low", ())
    request = mock_provider.requests[0]
    assert request.path == "/risk/v1/anti-fraud/screen"
    assert request.json()["device_id"] == "dev-8f3a"
    assert request.json()["ip"] == "2001:db8::1"
    assert_signed(request)
    changed = request.body.replace(b"dev-8f3a", b"dev-0000")
    with pytest.raises(signing.SignatureRejected):
        signing.verify(request.headers, SECRET, request.method, request.path, changed)


@pytest.mark.parametrize(("score", "level"), [(0, "low"), (399, "low"), (400, "medium"), (700, "high"), (1000, "high")])
def test_http_level_from_score(mock_provider: MockProvider, score: int, level: str) -> None:
    mock_provider.program(Reply(200, {"screening_id": "afs-3", "score": score, "hits": [], "level": "ignored"}))
    screening = anti_fraud(mock_provider.url).screen("张三", id_number(123), PHONE)
    assert (screening.score, screening.level) == (score, level)


def test_http_long_reason_cut(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"screening_id": "afs-4", "score": 500, "hits": [{"list": "ip_risk", "reason": "代理" * 300}]}))
    screening = anti_fraud(mock_provider.url).screen("张三", id_number(123), PHONE)
    assert screening.hits == (ListHit("ip_risk", "代理" * 100),)


def test_http_timeout_retried_then_fails(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, RESULT, delay_seconds=1.5))
    error = failure(anti_fraud(mock_provider.url, timeout_seconds=0.2, retries=2, backoff_seconds=0.01))
    assert error.code == "timeout"
    assert error.integration == "anti_fraud"
    assert error.en == "The anti-fraud service did not respond in time; try again later"
    assert error.zh == "反欺诈服务响应超时，请稍后重试"
    assert len(mock_provider.requests) == 3


def test_http_server_errors_then_success(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(503, {}), Reply(500, b"oops"), Reply(200, RESULT))
    screening = anti_fraud(mock_provider.url, retries=2).screen("张三", id_number(123), PHONE)
    assert screening.screening_id == "afs-1"
    assert len(mock_provider.requests) == 3
    keys = {request.header("Idempotency-Key") for request in mock_provider.requests}
    assert len(keys) == 1
    for request in mock_provider.requests:
        assert_signed(request)


def test_http_bad_request_rejected(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(400, {"message": "手机号格式错误"}))
    error = failure(anti_fraud(mock_provider.url))
    assert error.code == "rejected"
    assert error.en == "The anti-fraud service rejected the request (HTTP 400): 手机号格式错误"
    assert error.zh == "反欺诈服务拒绝了请求（HTTP 400）：手机号格式错误"
    assert len(mock_provider.requests) == 1


MALFORMED = {
    "html": b"<html>busy</html>",
    "empty": b"",
    "array": [RESULT],
    "no-id": {"score": 10, "hits": []},
    "empty-id": {"screening_id": " ", "score": 10, "hits": []},
    "numeric-id": {"screening_id": 7, "score": 10, "hits": []},
    "no-score": {"screening_id": "afs", "hits": []},
    "float-score": {"screening_id": "afs", "score": 500.0, "hits": []},
    "string-score": {"screening_id": "afs", "score": "500", "hits": []},
    "boolean-score": {"screening_id": "afs", "score": True, "hits": []},
    "negative-score": {"screening_id": "afs", "score": -1, "hits": []},
    "score-over-1000": {"screening_id": "afs", "score": 1001, "hits": []},
    "no-hits": {"screening_id": "afs", "score": 10},
    "hits-object": {"screening_id": "afs", "score": 10, "hits": {"list": "multi_lender", "reason": "x"}},
    "hit-string": {"screening_id": "afs", "score": 10, "hits": ["multi_lender"]},
    "unknown-list": {"screening_id": "afs", "score": 10, "hits": [{"list": "bad_mood", "reason": "x"}]},
    "no-reason": {"screening_id": "afs", "score": 10, "hits": [{"list": "multi_lender"}]},
    "numeric-reason": {"screening_id": "afs", "score": 10, "hits": [{"list": "multi_lender", "reason": 3}]},
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_http_malformed_body(mock_provider: MockProvider, body: object) -> None:
    mock_provider.program(Reply(200, body))
    error = failure(anti_fraud(mock_provider.url))
    assert error.code == "bad_response"
    assert "cannot be read" in error.en
    assert len(mock_provider.requests) == 1


def test_http_not_configured() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpAntiFraud(config("anti_fraud", "anti_fraud", url=None))
    assert raised.value.code == "not_configured"
    assert raised.value.en == ("Set METADESK_ANTI_FRAUD_BASE_URL to the address of the anti-fraud service, "
                               "such as https://host/path")


# Screenings rejected before any request.

WRONG_CHECK = id_number(123)[:-1] + ("1" if id_number(123)[-1] != "1" else "2")
LOCAL_REJECTIONS = {
    "empty-name": ({"name": "  "}, "请填写要筛查的人员姓名"),
    "check-character": ({"number": WRONG_CHECK}, f"身份证号 110*************{WRONG_CHECK[-2:]} 无效，请核对后重试"),
    "short-id": ({"number": "11010519900505123"}, "身份证号 110************23 无效，请核对后重试"),
    "empty-id": ({"number": ""}, "身份证号 *** 无效，请核对后重试"),
    "landline": ({"phone": "01065529988"}, "010****9988 不是有效的中国大陆手机号，请核对"),
    "short-phone": ({"phone": "1380013800"}, "*** 不是有效的中国大陆手机号，请核对"),
    "country-code": ({"phone": "+8613800138000"}, "*** 不是有效的中国大陆手机号，请核对"),
    "empty-device": ({"device_id": " "}, "设备号为空；请提供设备号或不传此项"),
    "bad-ip": ({"ip": "10.0.0.300"}, "IP 地址不是有效的 IPv4 或 IPv6 地址，请核对"),
    "host-name": ({"ip": "localhost"}, "IP 地址不是有效的 IPv4 或 IPv6 地址，请核对"),
}


@pytest.mark.parametrize(("arguments", "zh"), list(LOCAL_REJECTIONS.values()), ids=list(LOCAL_REJECTIONS))
def test_http_invalid_input_sends_nothing(mock_provider: MockProvider, arguments: dict[str, Any], zh: str) -> None:
    error = failure(anti_fraud(mock_provider.url), **arguments)
    assert error.code == "rejected"
    assert error.zh == zh
    assert mock_provider.requests == []


# Logs: one line per attempt with masked ID number and phone, never the name, the device or the address.

def test_http_logs_without_personal_data(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    number, phone, name, device, ip = id_number(321), "13912345678", "赵六", "dev-7c21e9", "203.0.113.57"
    provider = anti_fraud(mock_provider.url, retries=1, timeout_seconds=0.2)

    mock_provider.program(Reply(502, {"message": phone}), Reply(200, RESULT))
    provider.screen(name, number, phone, device_id=device, ip=ip)
    mock_provider.program(Reply(200, {"screening_id": "afs", "score": "high", "hits": []}))
    with pytest.raises(ProviderError):
        provider.screen(name, number, phone, device_id=device, ip=ip)

    attempts = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(attempts) == 3
    for line in attempts:
        assert line.startswith(f"anti_fraud screen id_number=110*************{number[-2:]} phone=139****5678: HTTP ")

    everything = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    for personal in (number, number[6:14], phone, name, device, ip, SECRET):
        assert personal not in everything


# The sandbox: hits from the ID number's sequence digits and the mobile number; the score from the hits.

SANDBOX_CASES = [
    (123, PHONE, []),
    (849, PHONE, []),
    (850, PHONE, ["multi_lender"]),
    (879, PHONE, ["multi_lender"]),
    (880, PHONE, ["multi_lender", "court_dishonest"]),
    (899, PHONE, ["multi_lender", "court_dishonest"]),
    (900, PHONE, []),
    (123, "13800139999", ["fraud_blacklist"]),
    (123, "13800199990", []),
    (123, "13800138999", []),
    (123, "17012345678", ["phone_risk"]),
    (123, "16512345678", ["phone_risk"]),
    (123, "17212345678", []),
    (890, "17112349999", ["multi_lender", "court_dishonest", "fraud_blacklist", "phone_risk"]),
]


@pytest.mark.parametrize(("sequence", "phone", "lists"), SANDBOX_CASES)
def test_sandbox_rules(sequence: int, phone: str, lists: list[str]) -> None:
    screening = sandbox().screen("王五", id_number(sequence), phone)
    assert [hit.list_name for hit in screening.hits] == lists
    assert all(hit.reason for hit in screening.hits)
    assert screening.level == risk_level(screening.score)

    # The base of 20 to 199 comes from the first 8 bytes of the hash of the number and phone.
    digest = hashlib.sha256(f"{id_number(sequence)}|{phone}".encode()).digest()
    base = 20 + int.from_bytes(digest[:8], "big") % 180
    assert screening.score == min(1000, base + sum(SANDBOX_WEIGHTS[name] for name in lists))


def test_sandbox_levels_by_hit() -> None:
    provider = sandbox()
    phones = [f"138{index:08d}" for index in range(1, 40)]
    for sequence in (1, 123, 500, 849, 900, 999):
        assert {provider.screen("王五", id_number(sequence), phone).level for phone in phones} == {"low"}
    for sequence in range(850, 880):
        assert provider.screen("王五", id_number(sequence), PHONE).level == "medium"
    for sequence in range(880, 900):
        assert provider.screen("王五", id_number(sequence), PHONE).level == "high"
    for phone in ("13800139999", "15912349999", "18600009999"):
        assert provider.screen("王五", id_number(123), phone).level == "high"
    for phone in ("16212345678", "16712345678", "17012345678", "17112345678"):
        assert provider.screen("王五", id_number(123), phone).level == "low"


def test_sandbox_court_case_number_deterministic() -> None:
    first = sandbox().screen("王五", id_number(888), PHONE).hits[1]
    second = sandbox().screen("王五", id_number(888), PHONE).hits[1]
    other = sandbox().screen("王五", id_number(889), PHONE).hits[1]
    assert first.list_name == "court_dishonest"
    assert first.reason.startswith("（2023）京0105执")
    assert first == second
    assert other.reason != first.reason
    assert sandbox().screen("王五", id_number(888), "13900139000").hits[1] == first


def test_sandbox_deterministic() -> None:
    first = sandbox().screen("王五", id_number(860), PHONE, device_id="dev-1", ip="192.0.2.1")
    assert first.screening_id.startswith("sbx-")
    assert sandbox().screen("王五", id_number(860), PHONE) == first
    assert sandbox().screen("王五", id_number(861), PHONE).screening_id != first.screening_id
    assert sandbox().screen("王五", id_number(860), "13800138001").screening_id != first.screening_id


def test_sandbox_checks_input_like_http() -> None:
    provider = sandbox()
    for arguments in ({"number": WRONG_CHECK}, {"name": ""}, {"phone": "10086"}, {"device_id": ""}, {"ip": "999.1.1.1"}):
        error = failure(provider, **arguments)
        assert error.code == "rejected"
        assert error.integration == "anti_fraud"


def test_describe_screening_as_json() -> None:
    screening = sandbox().screen("王五", id_number(880), "17012345678")
    data = json.loads(json.dumps(describe(screening), ensure_ascii=False))
    assert data["screening_id"] == screening.screening_id
    assert (data["score"], data["level"]) == (screening.score, screening.level)
    assert [hit["list"] for hit in data["hits"]] == ["multi_lender", "court_dishonest", "phone_risk"]
    assert data["hits"][1]["reason"] == screening.hits[1].reason
