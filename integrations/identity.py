"""Identity check (实名认证): does a name belong to a resident ID number, and, optionally, a mobile number too.

The interface, for hooks (`context.providers["identity_check"]`):

    verify(name, id_number, phone=None) -> IdentityResult

`IdentityResult.matched` is True when the national records hold the name under the ID
number (and, for a three-element check, the phone is registered to that person). Otherwise
`reason` gives the cause: "name_mismatch", "phone_mismatch" or "no_record". A failed call raises
ProviderError. An empty name or an invalid ID number (wrong length, birth date, region or check
character) is rejected with ProviderError "rejected" before any call.

HTTP provider: POST {BASE_URL}/identity/verify with {"name", "id_number", "phone"}; the
provider answers {"request_id", "result": "match" | "mismatch", "reason"}.

Sandbox provider, deterministic by the ID number's sequence digits (the 15th to 17th): 990
to 994 give a name mismatch, 995 to 998 a phone mismatch when a phone is given, 999 no
record; every other valid ID number matches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from integrations.errors import ProviderError
from integrations.http import HttpProvider
from runtime.providers import ProviderConfig, register_provider

INTERFACE = "identity_check"
REASONS = ("name_mismatch", "phone_mismatch", "no_record")


@dataclass(frozen=True)
class IdentityResult:
    matched: bool
    #: Why it did not match: one of REASONS, or None.
    reason: str | None
    #: The provider's id of the check, to quote to its support.
    request_id: str


def masked(id_number: str) -> str:
    """Return an ID number as logs may show it: the first 3 and the last 2 characters."""
    return f"{id_number[:3]}{'*' * max(0, len(id_number) - 5)}{id_number[-2:]}" if len(id_number) > 5 else "***"


def _checked(config: ProviderConfig, name: str, id_number: str) -> str:
    """Return the ID number in its standard form; raise ProviderError "rejected" for an empty name or an invalid number."""
    if not (name or "").strip():
        raise ProviderError(config.name, "rejected", "Enter the name to check", "请填写要核验的姓名")
    text = (id_number or "").strip().upper()
    if not text:
        raise ProviderError(config.name, "rejected", "Enter the ID number", "请填写身份证号")
    try:
        return str(ric.validate(text))
    except ValidationError:
        raise ProviderError(config.name, "rejected", f"The ID number {masked(text)} is not valid; check it and try again",
                            f"身份证号 {masked(text)} 无效，请核对后重试") from None


@register_provider(INTERFACE, "http")
class HttpIdentityCheck(HttpProvider):
    service_en = "the identity check service"
    service_zh = "实名认证服务"

    def verify(self, name: str, id_number: str, phone: str | None = None) -> IdentityResult:
        number = _checked(self.config, name, id_number)
        document = self.call("POST", "/identity/verify", {"name": name.strip(), "id_number": number, "phone": phone or None},
                             operation="verify", ids={"id_number": masked(number)})
        result, reason, request_id = document.get("result"), document.get("reason"), document.get("request_id")
        if result not in ("match", "mismatch") or not isinstance(request_id, str) or (result == "mismatch" and reason not in REASONS):
            raise ProviderError(self.config.name, "bad_response", "The identity check service sent a result that cannot be read; "
                                "try again later", "实名认证服务返回的结果无法解析，请稍后重试")
        return IdentityResult(result == "match", None if result == "match" else str(reason), request_id)


@register_provider(INTERFACE, "sandbox")
class SandboxIdentityCheck:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    def verify(self, name: str, id_number: str, phone: str | None = None) -> IdentityResult:
        number = _checked(self.config, name, id_number)
        sequence = int(number[14:17])
        reason: str | None = None
        if sequence == 999:
            reason = "no_record"
        elif sequence >= 990 and sequence <= 994:
            reason = "name_mismatch"
        elif sequence >= 995 and phone:
            reason = "phone_mismatch"
        digest = hashlib.sha256(f"{name}|{number}|{phone or ''}".encode("utf-8")).hexdigest()[:16]
        return IdentityResult(reason is None, reason, f"sbx-{digest}")


def describe(result: IdentityResult) -> dict[str, Any]:
    """Return a result as JSON data, as a hook may store it on a record."""
    return {"matched": result.matched, "reason": result.reason, "request_id": result.request_id}
