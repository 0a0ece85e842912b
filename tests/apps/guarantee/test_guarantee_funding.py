"""The money steps when something goes wrong: the bank's payment of the advance, the dealer's account, and settlement.

The bank is a mock of its HTTP API on 127.0.0.1 (integrations/bank.py documents the
contract), so a test decides what the bank returns.
"""

from __future__ import annotations

import datetime
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any, Container, Iterator

import pytest

from runtime.errors import ValidationFailed
from tests.integrations.mock_provider import MockProvider, Reply

from guarantee_world import (ADVANCE, GUARANTEE, OTHER_DEALER_UNIT, SYSTEM, World, after_approval, card_number, collateral,
                             compute_overdue, messages, pay_all, to_approved_standard)

HTTP_BANK = """\
name: bank
interface: bank
provider: http
settings:
  timeout_seconds: 2
  retries: 0
"""


@pytest.fixture
def bank() -> Iterator[MockProvider]:
    mock = MockProvider()
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def bank_world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bank: MockProvider) -> Iterator[World]:
    """The guarantee app with its bank integration switched to the HTTP provider, served by the mock."""
    app = tmp_path / "guarantee"
    shutil.copytree(GUARANTEE, app, ignore=shutil.ignore_patterns("__pycache__"))
    (app / "integrations" / "bank.yaml").write_text(HTTP_BANK, encoding="utf-8")
    monkeypatch.setenv("METADESK_BANK_BASE_URL", bank.url)
    monkeypatch.delenv("METADESK_BANK_KEY_ID", raising=False)
    monkeypatch.delenv("METADESK_BANK_SECRET", raising=False)
    built = World(database_url, tmp_path / "data", app=app)
    yield built
    built.close()


def card_issued(world: World, dealer: int | None = None) -> dict[str, Any]:
    """Return an application of the standard flow whose card is issued, ready for the advance."""
    record = to_approved_standard(world, world.application(world.product(), dealer=dealer))
    return world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(998)})


def rejected(world: World, record: dict[str, Any], transition: str, user: str, values: dict[str, Any] | None = None) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as error:
        world.fire(record, transition, user, values=values)
    return error.value


def dealer_name(world: World, dealer: int) -> str:
    return str(world.runtime.records.get(SYSTEM, "dealer", dealer)["name"])


def assert_no_advance(world: World, record: dict[str, Any]) -> None:
    stored = world.read(record)
    assert stored["state"] == "card_issued"
    assert stored["advance_bank_reference"] is None
    assert stored["advance_payment_status"] is None
    assert stored["advance_amount"] is None


def test_advance_request_to_dealer_account(bank_world: World, bank: MockProvider) -> None:
    dealer = bank_world.dealer()
    account = bank_world.runtime.records.get(SYSTEM, "dealer", dealer)["bank_account"]
    record = card_issued(bank_world, dealer)
    reference = f"{record['application_no']}-ADV1"
    bank.program(Reply(200, {"reference": reference, "bank_reference": "ICBC-0001", "status": "succeeded", "reason": None}))

    record = bank_world.fire(record, "advance", "finance", values=ADVANCE)

    assert record["state"] == "advanced"
    assert (record["advance_bank_reference"], record["advance_payment_status"]) == ("ICBC-0001", "succeeded")
    assert [request.path for request in bank.requests] == ["/bank/payments"]
    sent = bank.requests[0].json()
    assert sent["reference"] == reference
    assert (sent["payee_account"], sent["payee_name"]) == (account, dealer_name(bank_world, dealer))
    assert Decimal(sent["amount"]) == Decimal("120000")


@pytest.mark.parametrize(("reason", "shown"), [("账户已冻结", "账户已冻结"), (None, "银行未说明原因 (no reason given)")],
                         ids=["reason", "no_reason"])
def test_bank_failed_payment_recorded(bank_world: World, bank: MockProvider, reason: str | None, shown: str) -> None:
    record = card_issued(bank_world)
    bank.program(Reply(200, {"reference": f"{record['application_no']}-ADV1", "bank_reference": None, "status": "failed",
                             "reason": reason}))

    record = bank_world.fire(record, "advance", "finance", values=ADVANCE)

    # The attempt is kept with the bank's reason, and the loan waits for finance to pay again.
    assert (record["state"], record["advance_payment_status"], record["advance_bank_reference"]) == ("advanced", "failed", None)
    payments = bank_world.users.list(bank_world.actor("finance"), "advance_payment").rows
    assert [(row["attempt"], row["status"], row["failure_reason"]) for row in payments] == [(1, "failed", shown)]
    error = rejected(bank_world, record, "register_mortgage", "operations")
    assert messages(error) == (f"advance_payment_status: The advance to the dealer failed ({shown}); pay it again with "
                               "“Pay the advance again” before registering the mortgage")
    assert len(bank.requests) == 1


def test_bank_other_reference_stops_advance(bank_world: World, bank: MockProvider) -> None:
    record = card_issued(bank_world)
    bank.program(Reply(200, {"reference": "GA20260101-999999-ADV", "bank_reference": "ICBC-0002", "status": "succeeded",
                             "reason": None}))

    error = rejected(bank_world, record, "advance", "finance", ADVANCE)

    # The HTTP provider itself rejects a receipt for another payment, before the hook compares the references.
    assert "check the payment's status with the bank before paying again" in messages(error)
    assert "再次付款前请先向银行核实该笔付款的状态" in messages(error, "zh-CN")
    assert len(bank.requests) == 1
    assert_no_advance(bank_world, record)


def test_processing_advance_waits_for_the_banks_answer(bank_world: World, bank: MockProvider) -> None:
    record = card_issued(bank_world)
    reference = f"{record['application_no']}-ADV1"
    bank.program(Reply(200, {"reference": reference, "bank_reference": "ICBC-0003", "status": "processing", "reason": None}))
    record = bank_world.fire(record, "advance", "finance", values=ADVANCE)
    assert record["advance_payment_status"] == "processing"

    record = collateral(bank_world, record)
    error = rejected(bank_world, record, "register_mortgage", "operations")
    assert "The bank has not confirmed the advance paid (payment status: processing)" in messages(error)
    assert "银行尚未确认垫资款已付款（付款状态：处理中），不能办理抵押登记" in messages(error, "zh-CN")

    bank.program(Reply(200, {"reference": reference, "bank_reference": "ICBC-0003", "status": "succeeded", "reason": None}))
    record = bank_world.users.run_action(bank_world.actor("finance"), "loan_application", record["id"], "refresh_advance",
                                         version=bank_world.read(record)["version"])

    assert [(request.method, request.path) for request in bank.requests][-1] == ("GET", f"/bank/payments/{reference}")
    assert record["advance_payment_status"] == "succeeded"
    record = bank_world.fire(record, "register_mortgage", "operations")
    assert record["state"] == "mortgaged"


@pytest.mark.parametrize("missing", ["bank_name", "account_name"])
def test_incomplete_dealer_account_rejected(bank_world: World, bank: MockProvider, missing: str) -> None:
    blank: dict[str, Any] = {missing: None}
    dealer = bank_world.dealer(**blank)
    record = card_issued(bank_world, dealer)

    error = rejected(bank_world, record, "advance", "finance", ADVANCE)

    assert messages(error) == (f"dealer: The dealer {dealer_name(bank_world, dealer)} has no complete registered company account "
                               "(bank, account name and number); register it on the dealer before paying the advance")
    assert bank.requests == []
    assert_no_advance(bank_world, record)


def test_account_in_other_name_rejected(bank_world: World, bank: MockProvider) -> None:
    dealer = bank_world.dealer(account_name="王某某")
    record = card_issued(bank_world, dealer)

    error = rejected(bank_world, record, "advance", "finance", ADVANCE)

    assert messages(error) == (f"dealer: The registered account is held by 王某某, not by the dealer {dealer_name(bank_world, dealer)}; "
                               "advances are paid only to the dealer's own company account")
    assert "垫资款只能付至经销商本身的对公账户" in messages(error, "zh-CN")
    assert bank.requests == []
    assert_no_advance(bank_world, record)


def test_account_of_other_dealer_rejected(bank_world: World, bank: MockProvider) -> None:
    # The same account registered by a dealer of another unit, which the finance user's own reads would not show.
    first = bank_world.dealer(unit=OTHER_DEALER_UNIT)
    account = bank_world.runtime.records.get(SYSTEM, "dealer", first)["bank_account"]
    second = bank_world.dealer(bank_account=account)
    record = card_issued(bank_world, second)

    error = rejected(bank_world, record, "advance", "finance", ADVANCE)

    assert messages(error) == (f"dealer: The dealer's account is also registered to {dealer_name(bank_world, first)}; "
                               "correct the dealers' accounts before paying")
    assert bank.requests == []
    assert_no_advance(bank_world, record)


def test_account_owner_rejected_while_shared(bank_world: World, bank: MockProvider) -> None:
    first = bank_world.dealer()
    account = bank_world.runtime.records.get(SYSTEM, "dealer", first)["bank_account"]
    second = bank_world.dealer(bank_account=account)
    record = card_issued(bank_world, first)

    error = rejected(bank_world, record, "advance", "finance", ADVANCE)

    assert f"also registered to {dealer_name(bank_world, second)}" in messages(error)
    assert bank.requests == []


def repaying(world: World) -> dict[str, Any]:
    return after_approval(world, to_approved_standard(world, world.application(world.product())))


def paid(rows: list[dict[str, Any]], unpaid: Container[int] = (), short: Container[int] = ()) -> list[dict[str, Any]]:
    """Return the rows paid in full on their due dates, except the periods in `unpaid` (nothing paid) and `short` (1 fen short)."""
    result = []
    for row in rows:
        if row["period"] in unpaid:
            result.append(row)
        else:
            amount = row["amount"] - Decimal("0.01") if row["period"] in short else row["amount"]
            result.append({**row, "paid_on": row["due_date"], "paid_amount": amount})
    return result


def with_payments(world: World, record: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return world.users.update(world.actor("finance"), "loan_application", record["id"], {"instalments": rows}, version=record["version"])


def test_settle_rejected_one_fen_short(world: World) -> None:
    record = repaying(world)
    record = with_payments(world, record, paid(world.read(record)["instalments"], short={36}))

    error = rejected(world, record, "settle", "finance")

    assert messages(error) == ("instalments: 1 instalment(s) are not fully paid (periods 36); the loan can be settled only after "
                               "the last is paid")
    assert messages(error, "zh-CN") == "instalments: 还有 1 期未足额还款（第 36 期），全部还清后才能结清"
    assert world.read(record)["state"] == "repaying"


def test_settle_rejected_lists_twelve_periods(world: World) -> None:
    record = repaying(world)
    unpaid = {3, *range(20, 34)}
    record = with_payments(world, record, paid(world.read(record)["instalments"], unpaid=unpaid))

    error = rejected(world, record, "settle", "finance")

    assert "15 instalment(s) are not fully paid (periods 3, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30 …)" in messages(error)
    assert world.read(record)["settled_on"] is None


def test_settle_after_all_paid(world: World) -> None:
    record = repaying(world)
    compute_overdue(world, datetime.date(2026, 6, 15))
    overdue = world.read(record)
    assert (overdue["days_past_due"], overdue["overdue_bucket"]) == (46, "M2")
    record = pay_all(world, overdue)
    last_due = max(row["due_date"] for row in record["instalments"])

    record = world.fire(record, "settle", "finance")

    assert record["state"] == "settled"
    assert record["settled_on"] == last_due == datetime.date(2029, 3, 30)
    assert record["days_past_due"] == 0
    assert record["overdue_bucket"] is None
