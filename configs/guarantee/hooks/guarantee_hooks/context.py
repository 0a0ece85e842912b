"""Helpers every hook of the app uses with its HookContext: the record service, providers, references and today."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runtime.hook_records import HookRecords
from runtime.hooks import HookContext, HookError
from runtime.providers import Providers

#: The folder of the app's data files (anti_fraud_rules.yaml, scorecard.yaml).
DATA_FOLDER = Path(__file__).resolve().parent.parent
#: The app's time zone (app.yaml settings.timezone), for business dates.
CHINA = ZoneInfo("Asia/Shanghai")


def records_of(context: HookContext) -> HookRecords:
    if context.records is None:
        raise HookError("The record service is not available to this hook", "该钩子无法使用记录服务")
    return context.records


def providers_of(context: HookContext) -> Providers:
    if context.providers is None:
        raise HookError("No third-party providers are configured", "未配置第三方服务")
    return context.providers


def system_records(context: HookContext) -> HookRecords:
    """Return the record service as the system, inside the operation's transaction, for the checks' own reads.

    The acting user sees ID numbers and accounts masked and, as dealer staff, no blacklist and
    no other dealer's applications. The risk checks and the advance need those values in
    clear, so they read the records they check as the system; the runtime logs each such use.
    Writes stay with the acting user's service.
    """
    purpose = f"{context.event} of {context.entity} {context.record.get('id')}"
    return records_of(context).as_system(purpose)


def unit_writer(context: HookContext, purpose: str) -> HookRecords:
    """Return the record service as the system, creating records in the org unit of the hook's record.

    The records only the app's steps write (advance payments, disbursement notices, deductions)
    are created through it: no user holds a `create` grant on them, and they belong to the
    loan's unit, so the data scopes of that unit's users reach them and no other unit's.
    """
    unit = context.record.get("org_unit")
    return records_of(context).as_system(f"{purpose} of {context.entity} {context.record.get('id')}",
                                         org_unit=str(unit) if unit else None)


def reference_id(value: Any) -> int | None:
    """Return the record id a reference field holds, or None."""
    if value is None or value == "":
        return None
    return int(value["id"]) if isinstance(value, dict) else int(value)


def required_reference(context: HookContext, field: str, en: str, zh: str) -> int:
    record_id = reference_id(context.record.get(field))
    if record_id is None:
        raise HookError(f"Choose the {en} first", f"请先选择{zh}", field=field)
    return record_id


def today() -> datetime.date:
    """Return today's date in China, the business date."""
    return datetime.datetime.now(CHINA).date()


def created_day(record: Any) -> datetime.date:
    """Return the China date a record was created on, or today for a record without one."""
    created = record.get("created_at")
    if isinstance(created, datetime.datetime):
        aware = created if created.tzinfo is not None else created.replace(tzinfo=datetime.timezone.utc)
        return aware.astimezone(CHINA).date()
    return today()


def birth_date_of(customer: Any) -> datetime.date | None:
    """Return a customer's birth date, from the record or else from the digits 7 to 14 of the resident ID."""
    birth = customer.get("birth_date")
    if isinstance(birth, datetime.date):
        return birth
    number = str(customer.get("id_number") or "")
    if len(number) == 18 and number[6:14].isdigit():
        try:
            return datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            return None
    return None
