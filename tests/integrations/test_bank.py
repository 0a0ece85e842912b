"""Bank providers: advance payments, data files read into records, and bank callbacks through the application."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
from stdnum import luhn

from integrations import signing
from integrations.bank import (
    SANDBOX_LIMIT,
    BankFile,
    HttpBank,
    OverdueRecord,
    PaymentInstruction,
    PaymentReceipt,
    RepaymentRecord,
    RowProblem,
    SandboxBank,
)
from integrations.bank_files import read_file, sandbox_file
from integrations.callback_events import SANDBOX_SECRET, BadCallback, CallbacksNotConfigured
from integrations.errors import ProviderError
from integrations.values import BadValue
from runtime.callbacks import Callback
from runtime.providers import ProviderConfig
from tests.integrations.conftest import KEY_ID, SECRET, config
from tests.integrations.mock_provider import MockProvider, Received, Reply
from tests.integrations.provider_app import recorded_events, stored_callbacks, write_app
from tests.web.conftest import WebApp, serving

PATH = "/callbacks/bank"
CARD = "622202020011234567" + luhn.calc_check_digit("622202020011234567")
#: The card number as people write it, in groups of four.
GROUPED_CARD = " ".join(CARD[index:index + 4] for index in range(0, len(CARD), 4))
INSTRUCTION = PaymentInstruction("ADV-2026-0001", GROUPED_CARD, "北京某某汽车销售有限公司", "中国工商银行北京朝阳支行",
                                 Decimal("128000.00"))
RECEIPT = {"reference": "ADV-2026-0001", "bank_reference": "B20260301000123", "status": "processing", "reason": None}
REPAYMENT_HEADER = "contract_no,borrower_name,period,due_date,paid_date,principal,interest,penalty,amount\n"
OVERDUE_HEADER = "contract_no,borrower_name,period,due_date,days_overdue,principal,interest,penalty,amount\n"
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)


def http_bank(url: str, **settings: Any) -> HttpBank:
    return HttpBank(config("bank", "bank", url=url, **settings))


def sandbox(now: datetime = NOW, **environ: str) -> SandboxBank:
    provider = SandboxBank(ProviderConfig("bank", "bank", "sandbox", {}, environ))
    provider.clock = lambda: now
    return provider


def assert_signed(request: Received) -> None:
    signing.verify(request.headers, SECRET, request.method, request.path, request.body)
    assert request.header(signing.KEY_HEADER) == KEY_ID


def file_reply(content: str, **changes: Any) -> Reply:
    return Reply(200, {"kind": "repayment", "day": "2026-03-01", "content": content,
                       "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(), **changes})


def result_body(**changes: Any) -> bytes:
    document = {"event_id": "evt-1", "type": "payment_result", "reference": "ADV-2026-0001", "bank_reference": "B20260301000123",
                "status": "succeeded", "reason": None, "amount": "128000.00", **changes}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def disbursement_body(**changes: Any) -> bytes:
    document = {"event_id": "evt-2", "type": "disbursement", "contract_no": "HT20260001", "borrower_name": "张三",
                "amount": "150000.00", "disbursed_on": "2026-03-01", "bank_reference": "L20260301000045", **changes}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def signed(body: bytes, secret: str = SECRET, path: str = PATH) -> dict[str, str]:
    return {"Content-Type": "application/json", **signing.signed_headers("bank", secret, "POST", path, body)}


# Advance payments over HTTP.

def test_http_pay_advance(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, RECEIPT))

    receipt = http_bank(mock_provider.url).pay_advance(INSTRUCTION)

    assert receipt == PaymentReceipt("ADV-2026-0001", "B20260301000123", "processing", None)
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("POST", "/bank/payments")
    assert request.json() == {"reference": "ADV-2026-0001", "payee_account": CARD, "payee_name": "北京某某汽车销售有限公司",
                              "payee_bank": "中国工商银行北京朝阳支行", "amount": "128000.00", "currency": "CNY", "purpose": "垫资"}
    assert_signed(request)


def test_http_amount_sent_with_two_decimals(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, RECEIPT))
    http_bank(mock_provider.url).pay_advance(replace(INSTRUCTION, amount=Decimal("5E+4")))
    assert mock_provider.requests[0].json()["amount"] == "50000.00"


def test_http_failed_payment(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"reference": "ADV-2026-0001", "bank_reference": None, "status": "failed",
                                      "reason": "收款账户已冻结"}))
    receipt = http_bank(mock_provider.url).pay_advance(INSTRUCTION)
    assert receipt == PaymentReceipt("ADV-2026-0001", None, "failed", "收款账户已冻结")


def test_http_timeout_retried(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, RECEIPT, delay_seconds=1.5))
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).pay_advance(INSTRUCTION)
    assert raised.value.code == "timeout"
    assert raised.value.zh == "银行响应超时，请稍后重试"
    assert len(mock_provider.requests) == 3
    # Every attempt carries the same reference and Idempotency-Key, so the bank pays once.
    assert {request.json()["reference"] for request in mock_provider.requests} == {"ADV-2026-0001"}
    assert len({request.header("Idempotency-Key") for request in mock_provider.requests}) == 1


def test_http_server_error_then_success(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(500, {}), Reply(200, {**RECEIPT, "status": "succeeded"}))
    assert http_bank(mock_provider.url).pay_advance(INSTRUCTION).status == "succeeded"
    assert len(mock_provider.requests) == 2
    for request in mock_provider.requests:
        assert_signed(request)


def test_http_rejected_not_retried(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(409, {"message": "付款编号重复"}))
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).pay_advance(INSTRUCTION)
    assert raised.value.code == "rejected"
    assert raised.value.en == "The bank rejected the request (HTTP 409): 付款编号重复"
    assert len(mock_provider.requests) == 1


@pytest.mark.parametrize("body", [
    b"",
    {"status": "processing"},
    {**RECEIPT, "status": "pending"},
    {**RECEIPT, "reference": "ADV-2026-0002"},
    {**RECEIPT, "bank_reference": 123},
    {**RECEIPT, "reason": {"code": 1}},
], ids=["empty", "no-bank-reference", "unknown-status", "other-reference", "numeric-bank-reference", "reason-object"])
def test_http_pay_malformed_body(mock_provider: MockProvider, body: Any) -> None:
    mock_provider.program(Reply(200, body))
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).pay_advance(INSTRUCTION)
    assert raised.value.code == "bad_response"


def test_http_not_configured() -> None:
    with pytest.raises(ProviderError) as raised:
        HttpBank(ProviderConfig("bank", "bank", "http", {}, {"METADESK_BANK_BASE_URL": "http://127.0.0.1:9",
                                                             "METADESK_BANK_KEY_ID": KEY_ID}))
    assert raised.value.code == "not_configured"
    assert "METADESK_BANK_SECRET" in raised.value.en


BAD_CARD = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)


@pytest.mark.parametrize(("changes", "message"), [
    ({"amount": Decimal("0")}, "The amount 0 of payment ADV-2026-0001 must be more than 0 yuan with at most 2 decimals"),
    ({"amount": Decimal("-100.00")}, "The amount -100.00 of payment ADV-2026-0001 must be more than 0 yuan with at most 2 decimals"),
    ({"amount": Decimal("100.001")}, "The amount 100.001 of payment ADV-2026-0001 must be more than 0 yuan with at most 2 decimals"),
    ({"amount": Decimal("NaN")}, "The amount of payment ADV-2026-0001 must be a Decimal, not Decimal"),
    ({"amount": 100.5}, "The amount of payment ADV-2026-0001 must be a Decimal, not float"),
    ({"payee_account": BAD_CARD}, f"The payee account ****{BAD_CARD[-4:]} is not a valid bank card number; check it"),
    ({"payee_account": "62220202"}, "The payee account **** is not a valid bank card number; check it"),
    ({"payee_account": CARD + "0"}, f"The payee account ****{CARD[-3:]}0 is not a valid bank card number; check it"),
    ({"payee_account": CARD[:6] + "-" + CARD[6:]}, f"The payee account ****{CARD[-4:]} is not a valid bank card number; check it"),
    ({"payee_name": " "}, "Enter the payee name of payment ADV-2026-0001, at most 100 characters"),
    ({"payee_bank": ""}, "Enter the payee bank of payment ADV-2026-0001, at most 100 characters"),
    ({"reference": "ADV 1"}, "The reference 'ADV 1' must be 1 to 64 letters, digits, '-' or '_'"),
], ids=["zero", "negative", "three-decimals", "nan", "float", "luhn", "short", "long", "dash", "no-name", "no-bank",
        "reference-space"])
def test_http_local_rejection_sends_nothing(mock_provider: MockProvider, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).pay_advance(replace(INSTRUCTION, **changes))
    assert raised.value.code == "rejected"
    assert raised.value.en == message
    assert CARD not in raised.value.en
    assert BAD_CARD not in raised.value.en
    assert mock_provider.requests == []


def test_http_smallest_amount_accepted(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, RECEIPT))
    http_bank(mock_provider.url).pay_advance(replace(INSTRUCTION, amount=Decimal("0.01")))
    assert mock_provider.requests[0].json()["amount"] == "0.01"


def test_http_logs_masked_card(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    mock_provider.program(Reply(200, RECEIPT))
    http_bank(mock_provider.url).pay_advance(INSTRUCTION)
    lines = [record.getMessage() for record in caplog.records if record.name == "integrations.http"]
    assert len(lines) == 1
    assert lines[0].startswith(f"bank pay_advance reference=ADV-2026-0001 account=****{CARD[-4:]} amount=128000.00: HTTP 200 in ")
    for secret in (CARD, CARD[:12], SECRET, "北京某某汽车销售有限公司"):
        assert secret not in caplog.text


# Data files over HTTP.

def test_http_fetch_repayment_file(mock_provider: MockProvider) -> None:
    content = REPAYMENT_HEADER + "HT20260001,张三,3,2026-03-01,2026-03-01,4000.00,250.50,0,4250.50\n"
    mock_provider.program(file_reply(content))

    fetched = http_bank(mock_provider.url).fetch_file("repayment", date(2026, 3, 1))

    assert fetched == BankFile("repayment", date(2026, 3, 1), (
        RepaymentRecord(2, "HT20260001", "张三", 3, date(2026, 3, 1), date(2026, 3, 1), Decimal("4000.00"), Decimal("250.50"),
                        Decimal("0.00"), Decimal("4250.50")),), ())
    request = mock_provider.requests[0]
    assert (request.method, request.path, request.body) == ("GET", "/bank/files/repayment/2026-03-01", b"")
    assert_signed(request)


def test_http_file_without_hash(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {"content": OVERDUE_HEADER}))
    assert http_bank(mock_provider.url).fetch_file("overdue", date(2026, 3, 1)).records == ()


@pytest.mark.parametrize("reply", [
    file_reply(REPAYMENT_HEADER, sha256=hashlib.sha256(b"other").hexdigest()),
    file_reply(REPAYMENT_HEADER, kind="overdue"),
    file_reply(REPAYMENT_HEADER, day="2026-02-28"),
    file_reply("contract_no,amount\nHT1,1.00\n"),
    file_reply(""),
    Reply(200, {"content": None}),
], ids=["hash-mismatch", "other-kind", "other-day", "missing-columns", "empty", "no-content"])
def test_http_file_unreadable(mock_provider: MockProvider, reply: Reply) -> None:
    mock_provider.program(reply)
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).fetch_file("repayment", date(2026, 3, 1))
    assert raised.value.code == "bad_response"


def test_http_file_hash_mismatch_logged(mock_provider: MockProvider, caplog: pytest.LogCaptureFixture) -> None:
    mock_provider.program(file_reply(REPAYMENT_HEADER, sha256="0" * 64))
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).fetch_file("repayment", date(2026, 3, 1))
    assert raised.value.zh == "银行 2026-03-01 的 repayment 文件与其给出的 SHA-256 不一致，文件可能已损坏，请稍后重试"
    warnings = [record.getMessage() for record in caplog.records if record.name == "integrations.bank"]
    assert warnings == [f"bank fetch_file repayment 2026-03-01: the file's SHA-256 "
                        f"{hashlib.sha256(REPAYMENT_HEADER.encode()).hexdigest()} differs from the stated {'0' * 64}"]


def test_http_file_missing_columns_named(mock_provider: MockProvider) -> None:
    mock_provider.program(file_reply("contract_no,borrower_name,period,due_date,principal,interest,penalty\n"))
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).fetch_file("repayment", date(2026, 3, 1))
    assert raised.value.en == ("The bank sent a repayment file that cannot be read: the repayment file's header lacks the "
                               "columns paid_date, amount; try again later")


@pytest.mark.parametrize(("kind", "day"), [("statement", date(2026, 3, 1)), ("repayment", datetime(2026, 3, 1, 8, 0)),
                                           ("repayment", "2026-03-01")])
def test_http_file_arguments_checked(mock_provider: MockProvider, kind: str, day: Any) -> None:
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).fetch_file(kind, day)
    assert raised.value.code == "rejected"
    assert mock_provider.requests == []


# Reading files.

def test_read_file_reports_bad_rows_by_line() -> None:
    content = (OVERDUE_HEADER
               + "HT1,张三,2,2026-02-01,28,1000.00,5.00,14.00,1019.00\n"
               + "\n"
               + "HT2,李四,0,2026-02-30,0,1000.005,5,0,1005\n"
               + "HT3,王五,1,2026-02-01,28,1000.00,5.00,14.00,1000.00\n"
               + "HT4,赵六,1,2026-02-01\n"
               + '"HT5","钱\n七",1,2026-02-01,28,10.00,0.00,0.00,10.00\n'
               + "HT6,孙八,1,2026-02-01,3,0,0,0,0\n")

    records, problems = read_file("overdue", content)

    assert records == [
        OverdueRecord(2, "HT1", "张三", 2, date(2026, 2, 1), 28, Decimal("1000.00"), Decimal("5.00"), Decimal("14.00"),
                      Decimal("1019.00")),
        OverdueRecord(7, "HT5", "钱\n七", 1, date(2026, 2, 1), 28, Decimal("10.00"), Decimal("0.00"), Decimal("0.00"),
                      Decimal("10.00")),
    ]
    assert [(problem.line, problem.column) for problem in problems] == [
        (4, "period"), (4, "due_date"), (4, "days_overdue"), (4, "principal"), (5, "amount"), (6, None), (9, "amount")]
    assert problems[3] == RowProblem(4, "principal", "line 4, column principal: '1000.005' has more than 2 decimals",
                                     "第 4 行 principal 列：'1000.005' 的小数超过 2 位")
    assert problems[4].en == "line 5, column amount: 1000.00 is not principal + interest + penalty = 1019.00"
    assert problems[5].en == "line 6 has 4 fields; the header has 9"


def test_read_file_reordered_columns_and_bom() -> None:
    content = "\ufeffamount,contract_no,borrower_name,period,due_date,paid_date,principal,interest,penalty,branch\n" \
              "101.00,HT1,张三,1,2026-03-01,2026-03-02,100,1,0,北京\n"
    [record], problems = read_file("repayment", content)
    assert problems == []
    assert (record.contract_no, record.amount, record.principal) == ("HT1", Decimal("101.00"), Decimal("100.00"))


def test_read_file_needs_header() -> None:
    with pytest.raises(BadValue):
        read_file("repayment", "")


# The sandbox.

def test_sandbox_pays_at_once() -> None:
    receipt = sandbox().pay_advance(INSTRUCTION)
    expected = "SBX" + hashlib.sha256(b"ADV-2026-0001").hexdigest()[:16].upper()
    assert receipt == PaymentReceipt("ADV-2026-0001", expected, "succeeded", None)


def test_sandbox_payment_rules() -> None:
    provider = sandbox()
    over = provider.pay_advance(replace(INSTRUCTION, reference="A1", amount=SANDBOX_LIMIT + Decimal("0.01")))
    at_limit = provider.pay_advance(replace(INSTRUCTION, reference="A2", amount=SANDBOX_LIMIT))
    pending = provider.pay_advance(replace(INSTRUCTION, reference="A3", amount=Decimal("1000.99")))
    assert (over.status, over.reason) == ("failed", "limit_exceeded")
    assert at_limit.status == "succeeded"
    assert pending.status == "processing"


def test_sandbox_idempotent_by_reference() -> None:
    provider = sandbox()
    first = provider.pay_advance(INSTRUCTION)
    assert provider.pay_advance(replace(INSTRUCTION, payee_account=CARD)) == first
    with pytest.raises(ProviderError) as raised:
        provider.pay_advance(replace(INSTRUCTION, amount=Decimal("128000.01")))
    assert raised.value.code == "rejected"
    assert raised.value.zh == "付款编号 ADV-2026-0001 已用于另一笔付款，每笔付款应使用不同的编号"


def test_sandbox_local_rejection() -> None:
    with pytest.raises(ProviderError) as raised:
        sandbox().pay_advance(replace(INSTRUCTION, payee_account=BAD_CARD))
    assert raised.value.code == "rejected"


def test_sandbox_files_deterministic() -> None:
    for kind in ("repayment", "overdue"):
        first = sandbox().fetch_file(kind, date(2026, 2, 27))
        assert first == sandbox().fetch_file(kind, date(2026, 2, 27))
        assert 3 <= len(first.records) <= 6
        assert first.problems == ()
        assert first != sandbox().fetch_file(kind, date(2026, 2, 26))
        for record in first.records:
            assert record.amount == record.principal + record.interest + record.penalty
            assert record.principal.as_tuple().exponent == -2


def test_sandbox_overdue_dates_agree() -> None:
    for record in sandbox().fetch_file("overdue", date(2026, 2, 27)).records:
        assert isinstance(record, OverdueRecord)
        assert record.due_date + timedelta(days=record.days_overdue) == date(2026, 2, 27)


def test_sandbox_bad_row_on_28th() -> None:
    fetched = sandbox().fetch_file("repayment", date(2026, 2, 28))
    last_line = len(sandbox_file("repayment", date(2026, 2, 28)).splitlines())
    assert {(problem.line, problem.column) for problem in fetched.problems} == {(last_line, "principal"), (last_line, "amount")}
    assert len(fetched.records) == last_line - 2


def test_sandbox_future_file_rejected() -> None:
    # 02:00 UTC on 1 March is 10:00 in China, so the file of 1 March exists and that of 2 March not yet.
    provider = sandbox()
    assert provider.fetch_file("repayment", date(2026, 3, 1)).day == date(2026, 3, 1)
    with pytest.raises(ProviderError) as raised:
        provider.fetch_file("repayment", date(2026, 3, 2))
    assert raised.value.code == "rejected"
    late_evening = sandbox(datetime(2026, 3, 1, 16, 30, tzinfo=timezone.utc))
    assert late_evening.fetch_file("repayment", date(2026, 3, 2)).day == date(2026, 3, 2)


# Bank callbacks.

def test_sandbox_payment_result_round_trip() -> None:
    provider = sandbox()
    pending = provider.pay_advance(replace(INSTRUCTION, amount=Decimal("1000.99")))

    headers, body = provider.payment_result_request(pending.reference, succeeded=False)

    callback = provider.parse_callback("POST", PATH, headers, body)
    assert callback == Callback(f"{pending.bank_reference}-result", "bank_payment_result", {
        "reference": "ADV-2026-0001", "bank_reference": pending.bank_reference, "status": "failed", "reason": "account_frozen",
        "amount": "1000.99"})
    signing.verify(headers, SANDBOX_SECRET, "POST", PATH, body)


def test_sandbox_disbursement_round_trip() -> None:
    provider = sandbox(METADESK_BANK_SECRET="from-env")
    headers, body = provider.disbursement_request("HT20260001", "张三", Decimal("150000.00"), date(2026, 3, 1))
    callback = provider.parse_callback("POST", PATH, headers, body)
    assert callback.kind == "bank_disbursement"
    assert callback.payload == {"contract_no": "HT20260001", "borrower_name": "张三", "amount": "150000.00",
                                "disbursed_on": "2026-03-01", "bank_reference": callback.event_id}
    assert provider.disbursement_request("HT20260001", "张三", Decimal("150000.00"), date(2026, 3, 1))[1] == body
    signing.verify(headers, "from-env", "POST", PATH, body)


def test_sandbox_result_of_unknown_payment() -> None:
    with pytest.raises(ProviderError) as raised:
        sandbox().payment_result_request("ADV-404")
    assert raised.value.code == "rejected"


def test_http_callbacks_parsed(mock_provider: MockProvider) -> None:
    provider = http_bank(mock_provider.url)
    result = provider.parse_callback("POST", PATH, signed(result_body()), result_body())
    assert result == Callback("evt-1", "bank_payment_result", {"reference": "ADV-2026-0001", "bank_reference": "B20260301000123",
                                                               "status": "succeeded", "reason": None, "amount": "128000.00"})
    notice = provider.parse_callback("POST", PATH, signed(disbursement_body()), disbursement_body())
    assert notice == Callback("evt-2", "bank_disbursement", {"contract_no": "HT20260001", "borrower_name": "张三",
                                                             "amount": "150000.00", "disbursed_on": "2026-03-01",
                                                             "bank_reference": "L20260301000045"})
    assert mock_provider.requests == []


def test_http_callback_without_secret() -> None:
    provider = HttpBank(config("bank", "bank", url="http://127.0.0.1:9", signed=False))
    with pytest.raises(CallbacksNotConfigured):
        provider.parse_callback("POST", PATH, signed(result_body()), result_body())


@pytest.mark.parametrize("body", [
    b"null",
    result_body(type="refund"),
    result_body(status="processing"),
    result_body(amount=128000.0),
    result_body(amount="128000.001"),
    result_body(amount="-1.00"),
    result_body(reference=""),
    disbursement_body(disbursed_on="2026/03/01"),
    disbursement_body(contract_no=None),
    disbursement_body(event_id=12),
], ids=["null", "unknown-type", "processing-result", "numeric-amount", "three-decimals", "negative", "no-reference",
        "slashed-date", "no-contract", "numeric-event-id"])
def test_callback_malformed_body(body: bytes) -> None:
    with pytest.raises(BadCallback) as raised:
        sandbox().parse_callback("POST", PATH, signed(body, SANDBOX_SECRET), body)
    assert raised.value.status == 400


# Callbacks through the application under uvicorn.

@pytest.fixture
def office(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch, mock_provider: MockProvider,
           tmp_path: Path) -> Iterator[tuple[WebApp, httpx.Client]]:
    monkeypatch.setenv("METADESK_BANK_BASE_URL", mock_provider.url)
    monkeypatch.setenv("METADESK_BANK_KEY_ID", KEY_ID)
    monkeypatch.setenv("METADESK_BANK_SECRET", SECRET)
    web_app = make_web_app(write_app(tmp_path / "app"))
    with serving(web_app.app) as live, httpx.Client(base_url=live.url, trust_env=False, timeout=30) as client:
        yield web_app, client


def test_app_stores_bank_events_once(office: tuple[WebApp, httpx.Client]) -> None:
    web_app, client = office
    body = result_body()

    first = client.post(PATH, content=body, headers=signed(body))
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "stored", "event_id": "evt-1"}
    again = client.post(PATH, content=body, headers=signed(body))
    assert again.status_code == 200, again.text
    assert again.json() == {"status": "duplicate", "event_id": "evt-1"}
    notice = disbursement_body()
    assert client.post(PATH, content=notice, headers=signed(notice)).json() == {"status": "stored", "event_id": "evt-2"}

    stored = stored_callbacks(web_app)
    assert [(row["event_id"], row["kind"]) for row in stored] == [("evt-1", "bank_payment_result"), ("evt-2", "bank_disbursement")]
    assert stored[0]["payload"]["amount"] == "128000.00"
    assert recorded_events(web_app) == [("bank", "evt-1", "bank_payment_result"), ("bank", "evt-2", "bank_disbursement")]


def test_app_rejects_bad_bank_callbacks(office: tuple[WebApp, httpx.Client]) -> None:
    web_app, client = office
    body = result_body()

    wrong = client.post(PATH, content=body, headers=signed(body, "not-the-secret"))
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "rejected"
    changed = client.post(PATH, content=result_body(amount="999999.00"), headers=signed(body))
    assert changed.status_code == 401
    malformed = result_body(amount=128000)
    unreadable = client.post(PATH, content=malformed, headers=signed(malformed))
    assert unreadable.status_code == 400
    assert unreadable.json()["error"]["message"].startswith("The bank callback cannot be read: the amount 128000")

    assert stored_callbacks(web_app) == []
    assert recorded_events(web_app) == []
