"""Bank (银行): pay advances (垫资) to payees, receive disbursement notices and payment results, and fetch daily data files.

The interface, for hooks (`context.providers["bank"]`):

    pay_advance(instruction: PaymentInstruction) -> PaymentReceipt
    payment_status(reference: str) -> PaymentReceipt
    fetch_file(kind, day) -> BankFile
    parse_callback(method, path, headers, body) -> runtime.callbacks.Callback

`pay_advance` instructs the bank to pay `amount` yuan to the payee's bank card. The
instruction's `reference` is the caller's id of the payment and the bank's idempotency
key: the bank pays one reference once, and returns the payment's current receipt for a
repeated instruction. The receipt gives the bank's reference and the status "processing",
"succeeded" or "failed" (with a reason); a processing payment's result arrives later as a
callback, or is asked for with `payment_status(reference)`, which returns the payment's
current receipt. It raises ProviderError "rejected" before any request for an invalid
reference, and passes on the bank's error for a payment the bank has no record of.
`pay_advance` raises ProviderError "rejected" before any request for an amount that is not
a Decimal, is not more than 0 or has more than 2 decimals. It does the same for a payee
account that is not a bank card number of 13 to 19 digits passing the Luhn check
(stdnum.luhn, spaces ignored). It also rejects an empty payee name or bank, and a
reference that is not 1 to 64 letters, digits, "-" or "_". Corporate accounts (对公账户),
which carry no Luhn check digit, are not supported.

`fetch_file(kind, day)` fetches the bank's file of one day: kind "repayment" (还款) or
"overdue" (逾期). A file is CSV text, UTF-8, with a header that names the columns of
integrations/bank_files.COLUMNS: contract_no, borrower_name, period, due_date (YYYY-MM-DD),
paid_date (repayment) or days_overdue (overdue), principal, interest, penalty and amount,
amounts in yuan with at most 2 decimals and amount = principal + interest + penalty. The
result contains the rows that read cleanly as RepaymentRecord or OverdueRecord, and a
RowProblem with the line number (the header is line 1) for each problem of the others. A
file whose header lacks a column, or whose stated SHA-256 does not match, raises
ProviderError "bad_response".

Callbacks arrive at POST /callbacks/<integration>, signed like requests
(integrations/signing.py) with METADESK_<NAME>_SECRET, as JSON with an `event_id` and a `type`:
  "payment_result": {"reference", "bank_reference", "status": "succeeded" | "failed",
    "reason", "amount"}, the outcome of a payment (kind "bank_payment_result");
  "disbursement": {"contract_no", "borrower_name", "amount", "disbursed_on": YYYY-MM-DD,
    "bank_reference"}, a loan the bank paid out (放款通知, kind "bank_disbursement").
Amounts are JSON strings of yuan with at most 2 decimals, such as "1234.50"; a JSON number
is rejected. The payload contains these members, the amount with exactly 2 decimals.

HTTP provider:
  POST {BASE_URL}/bank/payments with {"reference", "payee_account", "payee_name",
    "payee_bank", "amount": decimal text, "currency": "CNY", "purpose"}; the bank responds
    with {"reference", "bank_reference", "status", "reason"}.
  GET {BASE_URL}/bank/payments/{reference}; the bank responds with the same receipt.
  GET {BASE_URL}/bank/files/{kind}/{YYYY-MM-DD}; the bank responds with {"kind", "day",
    "content": CSV text, "sha256": hex of the UTF-8 content, or absent}.

Sandbox provider, deterministic: the bank reference is "SBX" and 16 hex digits of the
SHA-256 of the reference. An amount above SANDBOX_LIMIT fails with "limit_exceeded". One
ending in .99 stays "processing" until SANDBOX_SETTLE_SECONDS have passed by its `clock`:
`payment_status` then finds it succeeded. Every other amount succeeds at once. A reference
reused with another instruction is rejected. `payment_result_request` and `disbursement_request`
return the headers and body of signed callbacks; a payment result it makes also becomes
the payment's status, as the bank would report it from then on. Its files depend only on the kind and
the day (integrations/bank_files.sandbox_file), the file of the 28th of each month ends
with one bad row, and a day after today (China time, by its `clock`) is rejected. Sandbox
callbacks are signed with METADESK_<NAME>_SECRET, or with SANDBOX_SECRET when that is not set.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Mapping, NoReturn

from stdnum import luhn

from integrations.bank_files import COLUMNS, BankRecord, OverdueRecord, RepaymentRecord, RowProblem, read_file, sandbox_file
from integrations.callback_events import BadCallback, callback_secret, read_event, sandbox_request, sandbox_secret
from integrations.errors import ProviderError
from integrations.http import HttpProvider
from integrations.values import MAX_MAGNITUDE, BadValue, amount, day
from runtime.callbacks import Callback
from runtime.providers import ProviderConfig, register_provider

logger = logging.getLogger(__name__)

__all__ = ["BankFile", "HttpBank", "OverdueRecord", "PaymentInstruction", "PaymentReceipt", "RepaymentRecord", "RowProblem",
           "SandboxBank", "masked_account", "parse_notice"]

INTERFACE = "bank"
PAYMENT_STATUSES = ("processing", "succeeded", "failed")
FILE_KINDS = tuple(COLUMNS)
#: The largest advance the sandbox pays, in yuan.
SANDBOX_LIMIT = Decimal("5000000.00")
#: Seconds after which the sandbox settles a processing payment as succeeded, when its status is asked for.
SANDBOX_SETTLE_SECONDS = 60
#: How many payments the sandbox keeps, the newest ones.
SANDBOX_PAYMENTS = 1000
#: China Standard Time, which the bank's days follow; China keeps no daylight saving time.
CHINA = timezone(timedelta(hours=8))
_REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CARD = re.compile(r"^[0-9]{13,19}$")
#: The maximum length of a payee name, a bank name and a purpose, in characters.
MAX_TEXT_CHARS = 100


@dataclass(frozen=True)
class PaymentInstruction:
    #: The caller's id of the payment, unique per payment: the bank's idempotency key.
    reference: str
    #: The payee's bank card number.
    payee_account: str
    payee_name: str
    #: The payee's bank, such as 中国工商银行北京朝阳支行.
    payee_bank: str
    #: Yuan, more than 0, at most 2 decimals.
    amount: Decimal
    #: The remark on the payee's statement.
    purpose: str = "垫资"


@dataclass(frozen=True)
class PaymentReceipt:
    reference: str
    #: The bank's id of the payment; None only for a payment that failed before the bank gave one.
    bank_reference: str | None
    #: One of PAYMENT_STATUSES.
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class BankFile:
    kind: str
    day: date
    records: tuple[BankRecord, ...]
    #: The problems of the rows left out of `records`, by line.
    problems: tuple[RowProblem, ...]


def masked_account(account: str) -> str:
    """Return a card number as logs and messages may show it: its last 4 digits."""
    return f"****{account[-4:]}" if len(account) > 8 else "****"


def parse_notice(secret: str, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
    """Verify a bank callback's signature and read it; raise SignatureRejected or BadCallback."""
    document = read_event(secret, method, path, headers, body, shape_en="event_id and type payment_result or disbursement",
                          shape_zh="event_id 以及 type（payment_result 或 disbursement）")
    kind = document.get("type")
    try:
        if kind == "payment_result":
            payload = _payment_result(document)
        elif kind == "disbursement":
            payload = _disbursement(document)
        else:
            raise BadValue(f"the type {str(kind)[:40]!r} is not payment_result or disbursement",
                           f"type {str(kind)[:40]!r} 不是 payment_result 或 disbursement")
    except BadValue as error:
        raise BadCallback(f"The bank callback cannot be read: {error.en}", f"银行回调无法解析：{error.zh}") from None
    return Callback(document["event_id"], f"bank_{kind}", payload)


def _payment_result(document: Mapping[str, Any]) -> dict[str, Any]:
    reference, bank_reference, status = document.get("reference"), document.get("bank_reference"), document.get("status")
    if not isinstance(reference, str) or not reference or not isinstance(bank_reference, str) or not bank_reference:
        raise BadValue("a payment result needs its reference and bank_reference", "支付结果需要 reference 和 bank_reference")
    if status not in ("succeeded", "failed"):
        raise BadValue(f"the status {str(status)[:40]!r} is not succeeded or failed", f"status {str(status)[:40]!r} 不是 succeeded 或 failed")
    reason = document.get("reason")
    return {"reference": reference, "bank_reference": bank_reference, "status": status,
            "reason": None if reason is None else str(reason), "amount": str(amount(document.get("amount")))}


def _disbursement(document: Mapping[str, Any]) -> dict[str, Any]:
    contract_no, name, bank_reference = document.get("contract_no"), document.get("borrower_name"), document.get("bank_reference")
    if not all(isinstance(value, str) and value for value in (contract_no, name, bank_reference)):
        raise BadValue("a disbursement notice needs its contract_no, borrower_name and bank_reference",
                       "放款通知需要 contract_no、borrower_name 和 bank_reference")
    return {"contract_no": contract_no, "borrower_name": name, "amount": str(amount(document.get("amount"))),
            "disbursed_on": day(document.get("disbursed_on")).isoformat(), "bank_reference": bank_reference}


def _checked_instruction(config: ProviderConfig, instruction: PaymentInstruction) -> PaymentInstruction:
    """Return the instruction with the card number's spaces removed; raise ProviderError "rejected" for an invalid one."""
    _checked_reference(config, instruction.reference)
    value = instruction.amount
    if not isinstance(value, Decimal) or not value.is_finite():
        _reject(config, f"The amount of payment {instruction.reference} must be a Decimal, not {type(value).__name__}",
                f"付款 {instruction.reference} 的金额应为 Decimal 类型，而不是 {type(value).__name__}")
    exponent = value.as_tuple().exponent
    if value <= 0 or value > MAX_MAGNITUDE or (isinstance(exponent, int) and exponent < -2):
        _reject(config, f"The amount {value} of payment {instruction.reference} must be more than 0 yuan with at most 2 decimals",
                f"付款 {instruction.reference} 的金额 {value} 应大于 0 元且最多两位小数")
    account = re.sub(r"\s", "", instruction.payee_account or "") if isinstance(instruction.payee_account, str) else ""
    if not _CARD.match(account) or not luhn.is_valid(account):
        _reject(config, f"The payee account {masked_account(account)} is not a valid bank card number; check it",
                f"收款账号 {masked_account(account)} 不是有效的银行卡号，请核对")
    for text, en, zh in ((instruction.payee_name, "payee name", "收款人户名"), (instruction.payee_bank, "payee bank", "收款银行"),
                         (instruction.purpose, "purpose", "用途")):
        if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT_CHARS:
            _reject(config, f"Enter the {en} of payment {instruction.reference}, at most {MAX_TEXT_CHARS} characters",
                    f"请填写付款 {instruction.reference} 的{zh}，最多 {MAX_TEXT_CHARS} 个字符")
    return PaymentInstruction(instruction.reference, account, instruction.payee_name.strip(), instruction.payee_bank.strip(),
                              value.quantize(Decimal("0.01")), instruction.purpose.strip())


def _checked_reference(config: ProviderConfig, reference: Any) -> None:
    if not isinstance(reference, str) or not _REFERENCE.match(reference):
        _reject(config, f"The reference {str(reference)[:70]!r} must be 1 to 64 letters, digits, '-' or '_'",
                f"付款编号 {str(reference)[:70]!r} 应为 1 到 64 个字母、数字、“-”或“_”")


def _receipt(config: ProviderConfig, reference: str, answer: Mapping[str, Any]) -> PaymentReceipt:
    """Read the bank's receipt of payment `reference`; raise ProviderError "bad_response" for one that cannot be read."""
    status, bank_reference, reason = answer.get("status"), answer.get("bank_reference"), answer.get("reason")
    if (status not in PAYMENT_STATUSES or answer.get("reference", reference) != reference
            or not (bank_reference is None or isinstance(bank_reference, str))
            or (status != "failed" and not bank_reference) or not (reason is None or isinstance(reason, str))):
        raise ProviderError(config.name, "bad_response", "The bank sent a payment receipt that cannot be read; "
                            "check the payment's status with the bank before paying again",
                            "银行返回的付款回执无法解析；再次付款前请先向银行核实该笔付款的状态")
    return PaymentReceipt(reference, bank_reference or None, str(status), reason or None)


def _checked_file(config: ProviderConfig, kind: str, file_day: date) -> None:
    if kind not in FILE_KINDS:
        _reject(config, f"The file kind {str(kind)[:40]!r} is not one of {', '.join(FILE_KINDS)}",
                f"文件类型 {str(kind)[:40]!r} 不是 {', '.join(FILE_KINDS)} 之一")
    if not isinstance(file_day, date) or isinstance(file_day, datetime):
        _reject(config, f"Give the file's day as a date, not {type(file_day).__name__}", f"文件日期应为 date 类型，而不是 {type(file_day).__name__}")


def _reject(config: ProviderConfig, en: str, zh: str) -> NoReturn:
    raise ProviderError(config.name, "rejected", en, zh)


def _bank_file(config: ProviderConfig, kind: str, file_day: date, text: str) -> BankFile:
    try:
        records, problems = read_file(kind, text)
    except BadValue as error:
        raise ProviderError(config.name, "bad_response", f"The bank sent a {kind} file that cannot be read: {error.en}; try again later",
                            f"银行返回的 {kind} 文件无法解析：{error.zh}，请稍后重试") from None
    return BankFile(kind, file_day, tuple(records), tuple(problems))


@register_provider(INTERFACE, "http")
class HttpBank(HttpProvider):
    service_en = "the bank"
    service_zh = "银行"

    def pay_advance(self, instruction: PaymentInstruction) -> PaymentReceipt:
        checked = _checked_instruction(self.config, instruction)
        payload = {"reference": checked.reference, "payee_account": checked.payee_account, "payee_name": checked.payee_name,
                   "payee_bank": checked.payee_bank, "amount": str(checked.amount), "currency": "CNY", "purpose": checked.purpose}
        answer = self.call("POST", "/bank/payments", payload, operation="pay_advance",
                           ids={"reference": checked.reference, "account": masked_account(checked.payee_account),
                                "amount": checked.amount})
        return _receipt(self.config, checked.reference, answer)

    def payment_status(self, reference: str) -> PaymentReceipt:
        _checked_reference(self.config, reference)
        answer = self.call("GET", f"/bank/payments/{reference}", None, operation="payment_status", ids={"reference": reference})
        return _receipt(self.config, reference, answer)

    def fetch_file(self, kind: str, day: date) -> BankFile:
        _checked_file(self.config, kind, day)
        answer = self.call("GET", f"/bank/files/{kind}/{day.isoformat()}", None, operation="fetch_file",
                           ids={"kind": kind, "day": day.isoformat()})
        content, stated = answer.get("content"), answer.get("sha256")
        if (not isinstance(content, str) or answer.get("kind", kind) != kind or answer.get("day", day.isoformat()) != day.isoformat()
                or not (stated is None or isinstance(stated, str))):
            raise ProviderError(self.config.name, "bad_response", f"The bank sent a {kind} file of {day} that cannot be read; "
                                "try again later", f"银行返回的 {day} {kind} 文件无法解析，请稍后重试")
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if stated is not None and digest != stated.strip().lower():
            logger.warning("%s fetch_file %s %s: the file's SHA-256 %s differs from the stated %s", self.config.name, kind,
                           day.isoformat(), digest, stated[:128])
            raise ProviderError(self.config.name, "bad_response", f"The bank's {kind} file of {day} does not match its stated "
                                "SHA-256; it may be damaged, try again later",
                                f"银行 {day} 的 {kind} 文件与其给出的 SHA-256 不一致，文件可能已损坏，请稍后重试")
        return _bank_file(self.config, kind, day, content)

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        return parse_notice(callback_secret(self.config, self.secret), method, path, headers, body)


@register_provider(INTERFACE, "sandbox")
class SandboxBank:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.secret = sandbox_secret(config)
        #: The sandbox's time source, an aware datetime; tests replace it to move "today".
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        #: Each kept payment by reference: its instruction, its current receipt, and when it was made.
        self._payments: OrderedDict[str, tuple[PaymentInstruction, PaymentReceipt, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def pay_advance(self, instruction: PaymentInstruction) -> PaymentReceipt:
        checked = _checked_instruction(self.config, instruction)
        with self._lock:
            previous = self._payments.get(checked.reference)
            if previous is not None:
                if previous[0] != checked:
                    _reject(self.config, f"The reference {checked.reference} was used for another payment; give each payment its own",
                            f"付款编号 {checked.reference} 已用于另一笔付款，每笔付款应使用不同的编号")
                return self._settled(checked.reference)
            bank_reference = "SBX" + hashlib.sha256(checked.reference.encode("utf-8")).hexdigest()[:16].upper()
            if checked.amount > SANDBOX_LIMIT:
                receipt = PaymentReceipt(checked.reference, bank_reference, "failed", "limit_exceeded")
            elif checked.amount % 1 == Decimal("0.99"):
                receipt = PaymentReceipt(checked.reference, bank_reference, "processing")
            else:
                receipt = PaymentReceipt(checked.reference, bank_reference, "succeeded")
            self._payments[checked.reference] = (checked, receipt, self.clock())
            # The provider lives as long as the process, so it keeps only the newest payments.
            while len(self._payments) > SANDBOX_PAYMENTS:
                self._payments.popitem(last=False)
        return receipt

    def payment_status(self, reference: str) -> PaymentReceipt:
        _checked_reference(self.config, reference)
        with self._lock:
            if reference not in self._payments:
                _reject(self.config, f"The bank has no payment {reference}; check the reference",
                        f"银行没有编号为 {reference} 的付款，请核对付款编号")
            return self._settled(reference)

    def _settled(self, reference: str) -> PaymentReceipt:
        """Return a kept payment's receipt, settling a processing one as succeeded once its time has passed; hold the lock."""
        instruction, receipt, made_at = self._payments[reference]
        if receipt.status == "processing" and self.clock() - made_at >= timedelta(seconds=SANDBOX_SETTLE_SECONDS):
            receipt = PaymentReceipt(reference, receipt.bank_reference, "succeeded")
            self._payments[reference] = (instruction, receipt, made_at)
        return receipt

    def fetch_file(self, kind: str, day: date) -> BankFile:
        _checked_file(self.config, kind, day)
        today = self.clock().astimezone(CHINA).date()
        if day > today:
            _reject(self.config, f"The bank has no {kind} file of {day} yet; a day's file exists from that day on",
                    f"银行尚无 {day} 的 {kind} 文件，文件在当天及之后才能获取")
        return _bank_file(self.config, kind, day, sandbox_file(kind, day))

    def payment_result_request(self, reference: str, *, succeeded: bool = True,
                               path: str | None = None) -> tuple[dict[str, str], bytes]:
        """Return the headers and body of the signed callback that reports a kept payment's result, posted to `path`."""
        with self._lock:
            stored = self._payments.get(reference)
            if stored is None:
                _reject(self.config, f"The bank sandbox has no payment {reference}", f"银行沙箱中没有付款 {reference}")
            instruction, receipt, made_at = stored
            outcome = PaymentReceipt(reference, receipt.bank_reference, "succeeded" if succeeded else "failed",
                                     None if succeeded else "account_frozen")
            self._payments[reference] = (instruction, outcome, made_at)
        document = {"event_id": f"{receipt.bank_reference}-result", "type": "payment_result", "reference": reference,
                    "bank_reference": receipt.bank_reference, "status": outcome.status, "reason": outcome.reason,
                    "amount": str(instruction.amount)}
        return sandbox_request(self.secret, path or f"/callbacks/{self.config.name}", document)

    def disbursement_request(self, contract_no: str, borrower_name: str, paid: Decimal, on: date,
                             path: str | None = None) -> tuple[dict[str, str], bytes]:
        """Return the headers and body of a signed disbursement notice of `paid` yuan on the day `on`, posted to `path`."""
        digest = hashlib.sha256(f"{contract_no}|{paid}|{on.isoformat()}".encode("utf-8")).hexdigest()[:16].upper()
        document = {"event_id": f"SBXD{digest}", "type": "disbursement", "contract_no": contract_no,
                    "borrower_name": borrower_name, "amount": str(paid), "disbursed_on": on.isoformat(),
                    "bank_reference": f"SBXD{digest}"}
        return sandbox_request(self.secret, path or f"/callbacks/{self.config.name}", document)

    def parse_callback(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Callback:
        return parse_notice(self.secret, method, path, headers, body)
