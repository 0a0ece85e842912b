"""Asking the bank for a payment's status: over HTTP, and in the sandbox, where processing payments settle after a while."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from integrations.bank import SANDBOX_SETTLE_SECONDS, PaymentReceipt, SandboxBank
from integrations.errors import ProviderError
from runtime.providers import ProviderConfig
from tests.integrations.mock_provider import MockProvider, Reply
from tests.integrations.test_bank import INSTRUCTION, RECEIPT, assert_signed, http_bank

START = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)


class Clock:
    """A time source the test moves forward."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def sandbox(clock: Clock) -> SandboxBank:
    provider = SandboxBank(ProviderConfig("bank", "bank", "sandbox", {}, {}))
    provider.clock = clock
    return provider


def test_http_payment_status(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {**RECEIPT, "status": "succeeded"}))

    receipt = http_bank(mock_provider.url).payment_status("ADV-2026-0001")

    assert receipt == PaymentReceipt("ADV-2026-0001", "B20260301000123", "succeeded", None)
    request = mock_provider.requests[0]
    assert (request.method, request.path) == ("GET", "/bank/payments/ADV-2026-0001")
    assert_signed(request)


def test_http_payment_status_failed_with_reason(mock_provider: MockProvider) -> None:
    mock_provider.program(Reply(200, {**RECEIPT, "status": "failed", "reason": "收款账户已冻结"}))
    receipt = http_bank(mock_provider.url).payment_status("ADV-2026-0001")
    assert (receipt.status, receipt.reason) == ("failed", "收款账户已冻结")


@pytest.mark.parametrize("body", [{**RECEIPT, "reference": "ADV-OTHER"}, {**RECEIPT, "status": "lost"},
                                  {**RECEIPT, "bank_reference": None}], ids=["other_reference", "unknown_status", "no_bank_reference"])
def test_http_payment_status_unreadable(mock_provider: MockProvider, body: dict[str, object]) -> None:
    mock_provider.program(Reply(200, body))
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).payment_status("ADV-2026-0001")
    assert raised.value.code == "bad_response"
    assert "check the payment's status with the bank before paying again" in raised.value.en


def test_http_payment_status_bad_reference_sends_nothing(mock_provider: MockProvider) -> None:
    with pytest.raises(ProviderError) as raised:
        http_bank(mock_provider.url).payment_status("ADV/../1")
    assert raised.value.code == "rejected"
    assert raised.value.zh == "付款编号 'ADV/../1' 应为 1 到 64 个字母、数字、“-”或“_”"
    assert mock_provider.requests == []


def test_sandbox_processing_settles_after_its_time() -> None:
    clock = Clock()
    provider = sandbox(clock)
    pending = provider.pay_advance(replace(INSTRUCTION, amount=Decimal("1000.99")))
    assert pending.status == "processing"

    clock.now = START + timedelta(seconds=SANDBOX_SETTLE_SECONDS - 1)
    assert provider.payment_status(pending.reference) == pending

    clock.now = START + timedelta(seconds=SANDBOX_SETTLE_SECONDS)
    settled = provider.payment_status(pending.reference)
    assert settled == PaymentReceipt(pending.reference, pending.bank_reference, "succeeded", None)
    # The same instruction sent again gets the current receipt.
    assert provider.pay_advance(replace(INSTRUCTION, amount=Decimal("1000.99"))) == settled


def test_sandbox_reported_result_becomes_the_status() -> None:
    clock = Clock()
    provider = sandbox(clock)
    pending = provider.pay_advance(replace(INSTRUCTION, amount=Decimal("1000.99")))

    provider.payment_result_request(pending.reference, succeeded=False)

    clock.now = START + timedelta(hours=1)
    assert provider.payment_status(pending.reference) == PaymentReceipt(pending.reference, pending.bank_reference, "failed",
                                                                        "account_frozen")


def test_sandbox_unknown_payment_status() -> None:
    with pytest.raises(ProviderError) as raised:
        sandbox(Clock()).payment_status("ADV-404")
    assert raised.value.code == "rejected"
    assert raised.value.en == "The bank has no payment ADV-404; check the reference"
