"""The personal information consent of everyone on an application, checked when the dealer submits it.

The credit report query at "开始信审" (and at the fast track's forward) needs the signed consent of
the borrower, the co-borrower and the personal guarantor. The dealer collects the consent, so
submission already refuses an application whose people have none on record; the query keeps
its own check, for a consent cleared after submission.
"""

from __future__ import annotations

from typing import Any

from runtime.hooks import HookContext, HookError, hook

from .context import reference_id, required_reference, system_records

#: The people of an application, by field, with what they are on it in English and Chinese.
PEOPLE = (("customer", "borrower", "借款人"), ("co_borrower", "co-borrower", "共同借款人"), ("guarantor", "personal guarantor", "保证人"))


def missing_consent(people: list[tuple[str, str, str, dict[str, Any]]]) -> HookError | None:
    """Return the refusal naming the first person without a consent on record, or None when everyone has one."""
    for field, en, zh, person in people:
        if not person.get("consent_signed_at"):
            name = person.get("name")
            return HookError(f"The {en} {name} has no signed personal information consent on record; record the date the consent "
                             f"was signed (Personal information consent signed at) on {name}'s customer record, then submit again",
                             f"{zh} {name} 尚未登记个人信息授权；请在 {name} 的客户档案中填写“个人信息授权时间”后再提交",
                             field=field)
    return None


@hook("guarantee.check_consent")
def check_consent(context: HookContext) -> None:
    """At submission and resubmission: the borrower, the co-borrower and the guarantor each signed the consent."""
    reader = system_records(context)
    people = [("customer", "borrower", "借款人", reader.get("customer", required_reference(context, "customer", "borrower", "借款人")))]
    for field, en, zh in PEOPLE[1:]:
        person = reference_id(context.record.get(field))
        if person is not None:
            people.append((field, en, zh, reader.get("customer", person)))
    refusal = missing_consent(people)
    if refusal is not None:
        raise refusal
