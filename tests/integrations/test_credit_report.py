"""Credit report providers: the HTTP client against a mock provider on 127.0.0.1, and the sandbox's profiles."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from integrations import signing
from integrations.credit_report import (
    AMOUNT_FIELDS,
    COUNT_FIELDS,
    QUERY_REASONS,
    CreditReport,
    HttpCreditReport,
    SandboxCreditReport,
    describe,
    sandbox_profile,
)
from integrations.errors import ProviderError
from runtime.providers import registry
from tests.integrations.conftest import KEY_ID, SECRET, config, id_number
from tests.integrations.mock_provider import MockProvider, Received, Reply

REPORT: dict[str, Any] = {
    "report_id": "crr-20240501-0001",
    "queried_at": "2024-05-01T10:30:00+08:00",
    "thin_file": False,
    "current_overdue_count": 1,
    "overdue_count_24m": 4,
    "max_overdue_months": 2,
    "overdue_amount": "3210.50",
    "loan_count": 2,
    "loan_balance": "186000.00",
    "credit_card_used": "12345.6",
    "queries_3m": 2,
    "queries_6m": 3,
}
AUTHORIZATION = "AUTH-2024-000123"
ZERO = Decimal("0.00")


def credit(url: str, **settings: Any) -> HttpCreditReport:
    return HttpCreditReport(config("credit_report", "credit_report", url=url, **settings))


def sandbox() -> SandboxCreditReport:
    return SandboxCreditReport(config("credit_report", "credit_report", "sandbox", signed=False))


def report_with(**changes: Any) -> dict[str, Any]:
    """Return REPORT with the given fields changed; a value of `...` leaves the field out."""
    document = {**REPORT, **changes}
    return {key: value for key, value in document.items() if value is not ...}


def failure(provider: HttpCreditReport | SandboxCreditReport, *, name: str = "张三", number: str | None = None,
            authorization_id: str = AUTHORIZATION, reason: str = "loan_approval") -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        provider.query(name, id_number(123) if number is None else number, authorization_id, reason=reason)
    return raised.value


def assert_signed(request: Received) -> None:
    """Check the request's signature the way the provider would, with the shared secret."""
    signing.verify(request.headers, SECRET, request.method, request.path, request.body)
    assert request.header(signing.KEY_HEADER) == KEY_ID


def test_both_kinds_registered() -> None:
    assert registry.get("credit_report", "http") is HttpCreditReport
    assert registry.get("credit_report", "sandbox") is SandboxCreditReport


# Querying over HTTP.

def test_http_query_returns_report(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, REPORT))
    number = id_number(123)

    report = credit(mock_provider.url).query(" 张三 ", number, f" {AUTHORIZATION} ", reason="guarantee_review")

    assert report == CreditReport(
        report_id="crr-20240501-0001",
        queried_at=datetime(2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=8))),
        thin_file=False, current_overdue_count=1, overdue_count_24m=4, max_overdue_months=2,
        overdue_amount=Decimal("3210.50"), loan_count=2, loan_balance=Decimal("186000.00"),
        credit_card_used=Decimal("12345.60"), queries_3m=2, queries_6m=3)
    for key in AMOUNT_FIELDS:
        assert type(getattr(report, key)) is Decimal
        assert getattr(report, key).as_tuple().exponent == -2
    assert len(mock_provider.requests) == 1
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/credit-report/query")
    assert request.json() == {"name": "张三", "id_number": number, "authorization_id": AUTHORIZATION,
                              "reason": "guarantee_review"}
    assert request.header("Idempotency-Key")
    assert_signed(request)


def test_http_signature_detects_changed_body(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, REPORT))
    credit(mock_provider.url + "/bureau/").query("张三", id_number(123), AUTHORIZATION, reason="loan_approval")
    request = mock_provider.requests[0]
    assert request.path == "/bureau/credit-report/query"
    assert_signed(request)
    changed = request.body.replace(AUTHORIZATION.encode(), b"AUTH-FORGED")
    with pytest.raises(signing.SignatureRejected):
        signing.verify(request.headers, SECRET, request.method, request.path, changed)


def test_http_thin_file_report(mock_provider: MockProvider) -> None:
    zero = {key: 0 for key in COUNT_FIELDS} | {key: "0" for key in AMOUNT_FIELDS}
    mock_provider.program(Reply(200, report_with(thin_file=True, **zero)))
    report = credit(mock_provider.url).query("张三", id_number(123), AUTHORIZATION, reason="loan_approval")
    assert report.thin_file
    assert report.loan_balance == Decimal("0.00")
    assert str(report.loan_balance) == "0.00"


def test_http_timeout_retried_then_fails(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, REPORT, delay_seconds=1.5))
    error = failure(credit(mock_provider.url, timeout_seconds=0.2, retries=2, backoff_seconds=0.01))
    assert error.code == "timeout"
    assert error.integration == "credit_report"
    assert error.en == "The credit report service did not respond in time; try again later"
    assert error.zh == "征信服务响应超时，请稍后重试"
    assert len(mock_provider.requests) == 3


def test_http_server_errors_then_success(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(500, {"message": "internal"}), Reply(503, b""), Reply(200, REPORT))
    report = credit(mock_provider.url, retries=2).query("张三", id_number(123), AUTHORIZATION, reason="loan_approval")
    assert report.report_id == "crr-20240501-0001"
    assert len(mock_provider.requests) == 3
    keys = {request.header("Idempotency-Key") for request in mock_provider.requests}
    assert len(keys) == 1
    for request in mock_provider.requests:
        assert_signed(request)


def test_http_server_errors_exhaust_retries(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(502, b""))
    error = failure(credit(mock_provider.url, retries=1))
    assert (error.code, error.zh) == ("unavailable", "征信服务返回 HTTP 502，请稍后重试")
    assert len(mock_provider.requests) == 2


def test_http_bad_request_rejected(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(400, {"message": "授权书已过期"}))
    error = failure(credit(mock_provider.url))
    assert error.code == "rejected"
    assert error.en == "The credit report service rejected the request (HTTP 400): 授权书已过期"
    assert error.zh == "征信服务拒绝了请求（HTTP 400）：授权书已过期"
    assert len(mock_provider.requests) == 1


@pytest.mark.parametrize("body", [b"<html>busy</html>", b"", [REPORT], "report", {}],
                         ids=["html", "empty", "array", "string", "empty-object"])
def test_http_malformed_body(mock_provider: MockProvider, body: object) -> None:
    mock_provider.program(Reply(200, body))
    error = failure(credit(mock_provider.url))
    assert error.code == "bad_response"
    assert len(mock_provider.requests) == 1


BAD_AMOUNTS = [1234.56, 1234, 0, None, ..., "", " 12.00", "12.00 ", "1,234.00", "-5.00", "+5.00", "1e3", "12.345",
               "12.", ".5", "0012.00", "NaN", "Infinity", "１２.００", "12.00\n", "1000000000000.00"]


@pytest.mark.parametrize("key", AMOUNT_FIELDS)
@pytest.mark.parametrize("value", BAD_AMOUNTS, ids=[repr(value) for value in BAD_AMOUNTS])
def test_http_bad_amount(mock_provider: MockProvider, key: str, value: Any) -> None:
    mock_provider.program(Reply(200, report_with(**{key: value})))
    error = failure(credit(mock_provider.url))
    assert error.code == "bad_response"
    assert error.en == f"The credit report service sent a report whose {key} is missing or invalid; try again later"
    assert error.zh == f"征信服务返回的报告中 {key} 缺失或无效，请稍后重试"


@pytest.mark.parametrize(("value", "expected"), [("0", "0.00"), ("0.5", "0.50"), ("7", "7.00"), ("3210.50", "3210.50"),
                                                 ("98765432.1", "98765432.10"), ("999999999999.99", "999999999999.99")])
def test_http_amount_forms_accepted(mock_provider: MockProvider, value: str, expected: str) -> None:
    mock_provider.program(Reply(200, report_with(credit_card_used=value)))
    report = credit(mock_provider.url).query("张三", id_number(123), AUTHORIZATION, reason="loan_approval")
    assert str(report.credit_card_used) == expected


BAD_COUNTS = [-1, 1.0, True, "2", None, ...]


@pytest.mark.parametrize("key", COUNT_FIELDS)
@pytest.mark.parametrize("value", BAD_COUNTS, ids=[repr(value) for value in BAD_COUNTS])
def test_http_bad_count(mock_provider: MockProvider, key: str, value: Any) -> None:
    mock_provider.program(Reply(200, report_with(**{key: value})))
    error = failure(credit(mock_provider.url))
    assert error.code == "bad_response"
    assert f" {key} " in error.en


@pytest.mark.parametrize(("changes", "key"), [
    ({"report_id": ""}, "report_id"),
    ({"report_id": 17}, "report_id"),
    ({"report_id": ...}, "report_id"),
    ({"queried_at": "2024-05-01T10:30:00"}, "queried_at"),
    ({"queried_at": "2024-05-01"}, "queried_at"),
    ({"queried_at": "yesterday"}, "queried_at"),
    ({"queried_at": 1714530600}, "queried_at"),
    ({"thin_file": "false"}, "thin_file"),
    ({"thin_file": 0}, "thin_file"),
    ({"queries_3m": 4, "queries_6m": 3}, "queries_6m"),
    ({"current_overdue_count": 0}, "overdue_amount"),
    ({"overdue_amount": "0.00"}, "overdue_amount"),
], ids=["empty-id", "numeric-id", "no-id", "naive-time", "date-only", "word-time", "epoch-time", "string-flag",
        "numeric-flag", "queries-shrink", "amount-without-account", "account-without-amount"])
def test_http_invalid_field(mock_provider: MockProvider, changes: dict[str, Any], key: str) -> None:
    mock_provider.program(Reply(200, report_with(**changes)))
    error = failure(credit(mock_provider.url))
    assert error.code == "bad_response"
    assert error.en == f"The credit report service sent a report whose {key} is missing or invalid; try again later"


def test_http_utc_time_accepted(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, report_with(queried_at="2024-05-01T02:30:00Z")))
    report = credit(mock_provider.url).query("张三", id_number(123), AUTHORIZATION, reason="loan_approval")
    assert report.queried_at == datetime(2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=8)))


def test_http_not_configured() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpCreditReport(config("credit_report", "credit_report", url=None))
    assert raised.value.code == "not_configured"
    assert raised.value.en == ("Set METADESK_CREDIT_REPORT_BASE_URL to the address of the credit report service, "
                               "such as https://host/path")
    assert raised.value.zh == "请将 METADESK_CREDIT_REPORT_BASE_URL 设置为征信服务的地址，例如 https://host/path"


# Queries rejected before any request.

@pytest.mark.parametrize("authorization_id", ["", "   "])
def test_http_missing_authorization_sends_nothing(mock_provider: MockProvider, authorization_id: str) -> None:
    error = failure(credit(mock_provider.url), authorization_id=authorization_id)
    assert error.code == "rejected"
    assert error.en == ("A credit report may be queried only with the person's signed authorization; "
                        "record it and give its id")
    assert error.zh == "查询征信须有被查询人签署的授权书，请先登记授权书并提供其编号"
    assert mock_provider.requests == []


@pytest.mark.parametrize("number", ["11010519900505123", "1101051990050512345", "110105199013051234", "", "abc",
                                    id_number(123)[:-1] + ("1" if id_number(123)[-1] != "1" else "2")],
                         ids=["short", "long", "month-13", "empty", "letters", "check-character"])
def test_http_invalid_id_number_sends_nothing(mock_provider: MockProvider, number: str) -> None:
    error = failure(credit(mock_provider.url), number=number)
    assert error.code == "rejected"
    assert error.zh.startswith("身份证号 ")
    if len(number) > 5:
        assert number not in error.en
    assert mock_provider.requests == []


def test_http_empty_name_sends_nothing(mock_provider: MockProvider) -> None:
    error = failure(credit(mock_provider.url), name=" ")
    assert (error.code, error.zh) == ("rejected", "请填写被查询人的姓名")
    assert mock_provider.requests == []


def test_http_unknown_reason_sends_nothing(mock_provider: MockProvider) -> None:
    error = failure(credit(mock_provider.url), reason="curiosity")
    assert error.code == "rejected"
    assert error.en == f"The query reason 'curiosity' is not one of {', '.join(QUERY_REASONS)}"
    assert mock_provider.requests == []


# Logs: one line per attempt with the masked ID number, never the name, the number or the report.

def test_http_logs_without_personal_data(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    number, name = id_number(321), "赵六"
    provider = credit(mock_provider.url, retries=1)

    mock_provider.program(Reply(503, {"message": number}), Reply(200, REPORT))
    provider.query(name, number, AUTHORIZATION, reason="loan_approval")
    mock_provider.program(Reply(200, report_with(loan_balance=186000.5)))
    with pytest.raises(ProviderError):
        provider.query(name, number, AUTHORIZATION, reason="loan_approval")

    attempts = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(attempts) == 3
    for line in attempts:
        assert line.startswith(f"credit_report query id_number=110*************{number[-2:]} "
                               f"authorization_id={AUTHORIZATION} reason=loan_approval: HTTP ")
    warnings = [record.getMessage() for record in caplog.records if record.name == "integrations.credit_report"]
    assert warnings == ["credit_report query: the report's loan_balance is missing or invalid"]

    everything = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    for personal in (number, number[6:14], name, "186000", "3210.50", SECRET):
        assert personal not in everything


# The sandbox: the sequence digits choose a profile, a hash of the number picks the values.

@pytest.mark.parametrize(("sequence", "profile"), [
    (0, "clean"), (123, "clean"), (599, "clean"), (600, "minor_overdue"), (799, "minor_overdue"),
    (800, "serious_overdue"), (899, "serious_overdue"), (900, "thin_file"), (999, "thin_file"),
])
def test_sandbox_profile_by_sequence(sequence: int, profile: str) -> None:
    assert sandbox_profile(id_number(sequence)) == profile


def in_range(value: Decimal, low: int, high: int) -> bool:
    return Decimal(low) <= value <= Decimal(high)


def test_sandbox_reports_follow_documented_ranges() -> None:
    provider = sandbox()
    for sequence in range(1000):
        report = provider.query("王五", id_number(sequence), AUTHORIZATION, reason="loan_approval")
        profile = sandbox_profile(id_number(sequence))
        for key in AMOUNT_FIELDS:
            assert getattr(report, key).as_tuple().exponent == -2, (sequence, key)
        assert report.queries_6m >= report.queries_3m, sequence
        assert report.thin_file == (profile == "thin_file"), sequence

        if profile == "thin_file":
            assert (report.loan_count, report.loan_balance, report.credit_card_used) == (0, ZERO, ZERO), sequence
            assert (report.current_overdue_count, report.overdue_count_24m, report.max_overdue_months) == (0, 0, 0), sequence
            assert report.overdue_amount == 0, sequence
            assert report.queries_3m == 0, sequence
            assert report.queries_6m <= 1, sequence
        elif profile == "serious_overdue":
            assert 1 <= report.current_overdue_count <= 2, sequence
            assert in_range(report.overdue_amount, 5_000, 80_000), sequence
            assert 6 <= report.overdue_count_24m <= 18, sequence
            assert 3 <= report.max_overdue_months <= 6, sequence
            assert 2 <= report.loan_count <= 5, sequence
            assert in_range(report.loan_balance, 100_000, 900_000), sequence
            assert in_range(report.credit_card_used, 20_000, 100_000), sequence
            assert 4 <= report.queries_3m <= 9, sequence
            assert report.queries_6m - report.queries_3m <= 4, sequence
        else:
            assert (report.current_overdue_count, report.overdue_amount) == (0, ZERO), sequence
            if profile == "minor_overdue":
                assert 1 <= report.overdue_count_24m <= 3, sequence
                assert report.max_overdue_months == 1, sequence
            else:
                assert (report.overdue_count_24m, report.max_overdue_months) == (0, 0), sequence
            assert 0 <= report.loan_count <= 3, sequence
            if report.loan_count:
                assert in_range(report.loan_balance, 30_000, 600_000), sequence
            else:
                assert report.loan_balance == 0, sequence
            assert in_range(report.credit_card_used, 0, 30_000), sequence
            assert report.queries_3m <= 2, sequence
            assert report.queries_6m - report.queries_3m <= 2, sequence


def test_sandbox_values_vary_within_profile() -> None:
    provider = sandbox()
    balances = {provider.query("王五", id_number(sequence), AUTHORIZATION, reason="loan_approval").loan_balance
                for sequence in range(800, 900)}
    # A hash picks each value, so a hundred people of one profile do not share one balance.
    assert len(balances) > 50


def test_sandbox_deterministic() -> None:
    number = id_number(850)
    started = datetime.now(timezone.utc)
    first = sandbox().query("王五", number, AUTHORIZATION, reason="loan_approval")
    second = sandbox().query("王五", number, AUTHORIZATION, reason="loan_approval")

    assert first.report_id.startswith("sbx-")
    assert describe(first) | {"queried_at": None} == describe(second) | {"queried_at": None}
    assert started <= first.queried_at <= second.queried_at <= datetime.now(timezone.utc)
    assert sandbox().query("王五", number, "AUTH-OTHER", reason="loan_approval").report_id != first.report_id
    assert sandbox().query("王五", number, AUTHORIZATION, reason="post_loan_management").report_id != first.report_id
    assert sandbox().query("王五", id_number(851), AUTHORIZATION, reason="loan_approval").report_id != first.report_id


def test_sandbox_checks_input_like_http() -> None:
    provider = sandbox()
    wrong = id_number(123)[:-1] + ("1" if id_number(123)[-1] != "1" else "2")
    for error in (failure(provider, number=wrong), failure(provider, authorization_id=""), failure(provider, name=""),
                  failure(provider, reason="marketing")):
        assert error.code == "rejected"
        assert error.integration == "credit_report"


def test_describe_report_as_json() -> None:
    report = sandbox().query("王五", id_number(800), AUTHORIZATION, reason="loan_approval")
    data = json.loads(json.dumps(describe(report)))
    assert data["report_id"] == report.report_id
    assert datetime.fromisoformat(data["queried_at"]) == report.queried_at
    assert Decimal(data["overdue_amount"]) == report.overdue_amount
    assert data["overdue_amount"] == str(report.overdue_amount)
    assert set(data) == {"report_id", "queried_at", "thin_file", *COUNT_FIELDS, *AMOUNT_FIELDS}
