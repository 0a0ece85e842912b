"""Hooks of the hooks example that use providers: an identity check on save, and SMS delivery receipts."""

from __future__ import annotations

from typing import Any

from runtime.hooks import HookContext, HookError, hook

#: The messages shown when the identity check does not match, by the provider's reason.
MISMATCH_MESSAGES = {
    "name_mismatch": ("The name does not match the ID number", "姓名与身份证号不一致"),
    "phone_mismatch": ("The mobile number is not registered to this person", "手机号不属于该身份证持有人"),
    "no_record": ("No record of this ID number was found", "未查到该身份证号的记录"),
}


@hook("hooked.verify_identity")
def verify_identity(context: HookContext) -> dict[str, Any]:
    """Check the applicant's name, ID number and mobile with the identity_check provider before the record is saved."""
    if context.providers is None:
        raise HookError("No providers are configured", "未配置第三方服务")
    record = context.record
    result = context.providers["identity_check"].verify(record.get("name") or "", record.get("id_number") or "",
                                                        record.get("phone") or None)
    if not result.matched:
        en, zh = MISMATCH_MESSAGES.get(result.reason, ("The identity check did not match", "实名认证未通过"))
        raise HookError(en, zh, field="id_number")
    return {"verified": True, "check_id": result.request_id}


@hook("hooked.record_delivery")
def record_delivery(context: HookContext) -> None:
    """Store an SMS delivery receipt as a delivery record; a second receipt for one message fails on its unique id."""
    if context.records is None:
        raise HookError("The record service is not available", "记录服务不可用")
    payload = context.extra["payload"]
    context.records.create("delivery", {"message_id": payload["message_id"], "event_id": context.extra["event_id"],
                                        "status": payload["status"], "reason": payload.get("reason")})
