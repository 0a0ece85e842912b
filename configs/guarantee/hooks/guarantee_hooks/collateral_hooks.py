"""Hooks of the mortgage registration and the GPS devices, and the check register_mortgage runs before it passes."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from runtime.hook_records import HookRecords
from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, ListQuery

from .collateral import collateral_refusal, full_imei
from .context import CHINA, providers_of, reference_id, system_records, today
from .contract_hooks import contracts_of

logger = logging.getLogger(__name__)

#: How far back the GPS platform's reports count when a device is bound.
BIND_REPORT_WINDOW = datetime.timedelta(hours=24)
#: Loan states after which a loan no longer has its vehicle as collateral, so its devices may serve another vehicle.
CLOSED_STATES = ("released", "rejected", "cancelled")
REASON = "kept in step with the mortgage registration records"


def _application_vehicle(context: HookContext, reader: HookRecords) -> tuple[dict[str, Any], int]:
    """Return the record's loan application and the vehicle the record names, the application's when it names none.

    Refuses a vehicle other than the application's.
    """
    application_id = reference_id(context.record.get("application"))
    if application_id is None:
        raise HookError("Choose the loan application first", "请先选择贷款申请", field="application")
    application = reader.get("loan_application", application_id)
    expected = reference_id(application.get("vehicle"))
    chosen = reference_id(context.record.get("vehicle"))
    if expected is None:
        raise HookError("The loan application has no vehicle; enter the vehicle on the application first",
                        "该贷款申请没有车辆，请先在申请中填写车辆", field="application")
    if chosen is not None and chosen != expected:
        raise HookError("The vehicle must be the loan application's vehicle; leave it empty to take that one",
                        "车辆须为该贷款申请的车辆；留空即自动取申请中的车辆", field="vehicle")
    return application, expected


# Mortgage registration -------------------------------------------------------------

@hook("guarantee.check_mortgage_registration")
def check_mortgage_registration(context: HookContext) -> dict[str, Any]:
    """Take the vehicle from the application, refuse a future date, and keep one registration per application."""
    reader = system_records(context)
    application, vehicle = _application_vehicle(context, reader)
    registered_on = context.record.get("registered_on")
    if isinstance(registered_on, datetime.date) and registered_on > today():
        raise HookError(f"The registration date {registered_on} is in the future; enter the date the vehicle office registered it",
                        f"抵押登记日期 {registered_on} 晚于今天，请填写车管所实际办理登记的日期", field="registered_on")
    others = reader.list("mortgage_registration", ListQuery(where=Condition("application", "eq", int(application["id"])), limit=5))
    other = next((row for row in others.rows if row["id"] != context.record.get("id")), None)
    if other is not None:
        raise HookError(f"The application {application.get('application_no')} already has the mortgage registration "
                        f"{other.get('mortgage_no')}; correct that record instead of adding another",
                        f"贷款申请 {application.get('application_no')} 已有抵押登记 {other.get('mortgage_no')}，"
                        "请修改该记录，不要重复录入", field="application")
    return {"vehicle": vehicle}


@hook("guarantee.mark_vehicle_mortgaged")
def mark_vehicle_mortgaged(context: HookContext) -> None:
    """Show the registration on the vehicle: mortgaged, with its certificate number and who keeps the certificate."""
    record = context.record
    vehicle_id = reference_id(record.get("vehicle"))
    if vehicle_id is None:
        return
    reader = system_records(context)
    vehicle = reader.get("vehicle", vehicle_id)
    values = {"mortgage_status": "mortgaged", "registration_certificate_no": record.get("registration_certificate_no"),
              "certificate_custody": record.get("certificate_custody")}
    changed = {name: value for name, value in values.items() if vehicle.get(name) != value}
    if changed:
        reader.update("vehicle", vehicle_id, changed, version=int(vehicle["version"]), reason=REASON)


# GPS devices ------------------------------------------------------------------------

def _bound_elsewhere(reader: HookRecords, imei: str, record_id: Any) -> dict[str, Any] | None:
    """Return another bound device record with this IMEI whose loan still has its vehicle as collateral, if any."""
    page = reader.list("gps_device", ListQuery(where=Condition("imei", "eq", imei), limit=50))
    for row in page.rows:
        if row["id"] == record_id or row.get("status") != "bound":
            continue
        application_id = reference_id(row.get("application"))
        loan = reader.get("loan_application", application_id) if application_id is not None else {}
        if loan.get("state") not in CLOSED_STATES:
            return dict(row)
    return None


def _refuse_bound_elsewhere(reader: HookRecords, imei: str, other: dict[str, Any]) -> HookError:
    vehicle_id = reference_id(other.get("vehicle"))
    vin = reader.get("vehicle", vehicle_id).get("vin") if vehicle_id is not None else "?"
    application_id = reference_id(other.get("application"))
    number = reader.get("loan_application", application_id).get("application_no") if application_id is not None else "?"
    return HookError(f"The device {imei} is bound to the vehicle {vin} of the application {number}; unbind it there first",
                     f"设备 {imei} 已绑定在贷款申请 {number} 的车辆 {vin} 上，请先在该处解绑", field="imei")


def _recorded_elsewhere(reader: HookRecords, imei: str, record_id: Any) -> HookError | None:
    """Return the refusal naming another device record with this IMEI, or None; each device has one record, moved with it."""
    rows = reader.list("gps_device", ListQuery(where=Condition("imei", "eq", imei), limit=2)).rows
    other = next((row for row in rows if row["id"] != record_id), None)
    if other is None:
        return None
    application_id = reference_id(other.get("application"))
    number = reader.get("loan_application", application_id).get("application_no") if application_id is not None else None
    number = number or (f"#{application_id}" if application_id is not None else "-")
    return HookError(f"The device {imei} is recorded already as device #{other['id']} of the application {number}; open that "
                     "record instead (unbind it there first to move the device to another vehicle)",
                     f"设备 {imei} 已登记为贷款申请 {number} 的设备记录 #{other['id']}；请打开该记录处理"
                     "（如需改装到其他车辆，请先在该记录中解绑）", field="imei")


@hook("guarantee.normalize_gps_device")
def normalize_gps_device(context: HookContext) -> dict[str, Any]:
    """Before the checks: complete the IMEI with its check digit, so that the unique IMEI compares the full number,
    and refuse a device recorded already, naming its record. A malformed IMEI is left to check_gps_device's message."""
    try:
        imei = full_imei(str(context.record.get("imei") or ""))
    except ValueError:
        return {}
    recorded = _recorded_elsewhere(system_records(context), imei, context.record.get("id"))
    if recorded is not None:
        raise recorded
    return {"imei": imei}


@hook("guarantee.check_gps_device")
def check_gps_device(context: HookContext) -> dict[str, Any]:
    """Check the IMEI (adding a missing check digit), take the application's vehicle, and keep a bound device where it is."""
    record = context.record
    try:
        imei = full_imei(str(record.get("imei") or ""))
    except ValueError as problem:
        if str(problem) == "check":
            raise HookError(f"The device number {record.get('imei')} has a wrong check digit; check it against the device's label",
                            f"设备号 {record.get('imei')} 校验位不正确，请对照设备标签核对", field="imei") from None
        raise HookError("Enter the device number as the 15 digits of its IMEI", "请填写 15 位数字的设备号（IMEI）", field="imei") from None
    reader = system_records(context)
    _, vehicle = _application_vehicle(context, reader)

    if record.get("id") is not None:
        stored = reader.get("gps_device", int(record["id"]))
        moved = stored.get("imei") != imei or reference_id(stored.get("vehicle")) != vehicle
        if stored.get("status") == "bound" and moved:
            raise HookError("A bound device keeps its number and vehicle; unbind it before changing them",
                            "已绑定的设备不能修改设备号或车辆，请先解绑", field="imei")
    if record.get("status") == "bound":
        other = _bound_elsewhere(reader, imei, record.get("id"))
        if other is not None:
            raise _refuse_bound_elsewhere(reader, imei, other)
    return {"imei": imei, "vehicle": vehicle}


@hook("guarantee.bind_gps_device")
def bind_gps_device(context: HookContext) -> dict[str, Any]:
    """Bind the device once the GPS platform reports it online; a device it reports offline or does not know is marked faulty."""
    record = context.record
    imei = str(record.get("imei"))
    if record.get("status") == "bound":
        raise HookError(f"The device {imei} is bound already", f"设备 {imei} 已绑定", field="imei")
    reader = system_records(context)
    other = _bound_elsewhere(reader, imei, record.get("id"))
    if other is not None:
        raise _refuse_bound_elsewhere(reader, imei, other)

    now = datetime.datetime.now(datetime.timezone.utc)
    positions = providers_of(context)["gps"].positions([imei], now - BIND_REPORT_WINDOW)
    latest = next((item for item in positions if item.device_id == imei), None)
    if latest is None:
        logger.info("gps_device %s: %s has not reported in %s; marked faulty", record.get("id"), imei, BIND_REPORT_WINDOW)
        return {"status": "faulty", "last_report": "平台 24 小时内未收到该设备的定位 (no report from the device in 24 hours)"}
    seen = latest.time.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    report = f"{seen} {latest.lat},{latest.lon}"
    if not latest.online:
        logger.info("gps_device %s: %s is offline since %s; marked faulty", record.get("id"), imei, seen)
        return {"status": "faulty", "last_report": f"离线，最后定位 {report} (offline)"}
    logger.info("gps_device %s: %s bound, online at %s", record.get("id"), imei, seen)
    return {"status": "bound", "bound_at": now, "last_report": f"在线，定位 {report} (online)"}


@hook("guarantee.unbind_gps_device")
def unbind_gps_device(context: HookContext) -> dict[str, Any]:
    """Release the device from its vehicle, so that it no longer counts for it and may be bound to another."""
    if context.record.get("status") == "unbound":
        raise HookError(f"The device {context.record.get('imei')} is not bound", f"设备 {context.record.get('imei')} 未绑定")
    return {"status": "unbound", "bound_at": None}


# register_mortgage --------------------------------------------------------------------

@hook("guarantee.check_collateral")
def check_collateral(context: HookContext) -> dict[str, Any]:
    """Let the mortgage step pass only with all contracts signed, the registration recorded and enough GPS devices bound.

    Returns the loan's summaries of them: the registration date and that GPS is installed.
    """
    reader = system_records(context)
    application_id = int(context.record["id"])
    contracts = contracts_of(reader, application_id)
    by_application = Condition("application", "eq", application_id)
    registrations = reader.list("mortgage_registration", ListQuery(where=by_application, sort=("-registered_on",), limit=5)).rows
    devices = reader.list("gps_device", ListQuery(where=by_application, limit=50)).rows
    vehicle_id = reference_id(context.record.get("vehicle"))
    condition = reader.get("vehicle", vehicle_id).get("condition") if vehicle_id is not None else None

    refusal = collateral_refusal(list(contracts.values()), len(registrations), devices, condition)
    if refusal is not None:
        raise HookError(refusal.en, refusal.zh)
    return {"mortgage_registered_on": registrations[0].get("registered_on"), "gps_installed": True}
