"""Hooks of the records behind the review: vehicle appraisals, home visits, and the vehicle checks at submission."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, Group, ListQuery

from .appraisal import appraise_new, appraise_used, months_between, read_tables
from .context import DATA_FOLDER, reference_id, required_reference, system_records
from .money import decimal_of

logger = logging.getLogger(__name__)

TABLES = read_tables(DATA_FOLDER / "appraisal_tables.yaml")
#: States in which an application no longer holds its vehicle: decided against, withdrawn, or released.
ENDED_STATES = ("rejected", "cancelled", "released")
#: States in which an application does not hold its vehicle against another: ended, or a draft not submitted yet
#: (a draft holds nothing; it is checked itself when it is submitted).
NOT_HOLDING_STATES = ("draft", *ENDED_STATES)


@hook("guarantee.appraise")
def appraise(context: HookContext) -> dict[str, Any]:
    """Value the vehicle: a new one at its invoice price, a used one at the adjusted market price."""
    record = context.record
    vehicle = system_records(context).get("vehicle", required_reference(context, "vehicle", "vehicle", "车辆"))
    if vehicle.get("condition") != "used":
        if record.get("invoice_price") is None:
            raise HookError("Enter the invoice price of the new vehicle", "新车须填写发票价", field="invoice_price")
        result = appraise_new(TABLES, decimal_of(record["invoice_price"]))
        return {"method": result.method, "appraised_value": result.appraised_value,
                "age_factor": None, "mileage_factor": None, "condition_factor": None}

    if record.get("market_price") is None:
        raise HookError("Enter the market price of the same model new", "二手车须填写同款新车市场价", field="market_price")
    if not record.get("condition_grade"):
        raise HookError("Choose the condition grade of the used vehicle", "二手车须选择车况等级", field="condition_grade")
    age = record.get("age_months")
    registered = vehicle.get("first_registration_date")
    if age is None and registered is not None and record.get("appraised_on") is not None:
        age = months_between(registered, record["appraised_on"])
    if age is None:
        raise HookError("Enter the age in months, or the vehicle's first registration date", "请填写车龄，或在车辆档案中填写初次登记日期",
                        field="age_months")
    mileage = record.get("mileage_km") if record.get("mileage_km") is not None else vehicle.get("mileage_km")
    if mileage is None:
        raise HookError("Enter the mileage, here or on the vehicle", "请填写行驶里程（本页或车辆档案）", field="mileage_km")
    result = appraise_used(TABLES, decimal_of(record["market_price"]), int(age), int(mileage), str(record["condition_grade"]))
    logger.info("appraisal %s of vehicle %s: %s", record.get("id"), vehicle.get("id"), result)
    return {"method": result.method, "appraised_value": result.appraised_value, "age_months": int(age), "mileage_km": int(mileage),
            "age_factor": result.age_factor, "mileage_factor": result.mileage_factor, "condition_factor": result.condition_factor}


@hook("guarantee.record_appraised_value")
def record_appraised_value(context: HookContext) -> None:
    """Write the latest appraisal's value onto the vehicle, where the application's loan-to-value reads it."""
    reader = system_records(context)
    vehicle_id = reference_id(context.record.get("vehicle"))
    if vehicle_id is None:
        return
    latest = reader.list("appraisal", ListQuery(where=Condition("vehicle", "eq", vehicle_id), sort=("-appraised_on", "-id"), limit=1,
                                                fields=("appraised_value",))).rows
    if not latest:
        return
    vehicle = reader.get("vehicle", vehicle_id)
    if vehicle.get("appraised_value") != latest[0]["appraised_value"]:
        reader.update("vehicle", vehicle_id, {"appraised_value": latest[0]["appraised_value"]}, version=vehicle["version"],
                      reason=f"评估 appraisal {latest[0]['id']}")


@hook("guarantee.derive_home_visit_done")
def derive_home_visit_done(context: HookContext) -> None:
    """Set the application's home_visit_done from its latest home-visit report: yes unless the conclusion is a fail."""
    reader = system_records(context)
    application_id = reference_id(context.record.get("application"))
    if application_id is None:
        return
    latest = reader.list("home_visit", ListQuery(where=Condition("application", "eq", application_id), sort=("-visited_on", "-id"),
                                                 limit=1, fields=("conclusion",))).rows
    done = bool(latest) and latest[0]["conclusion"] != "fail"
    application = reader.get("loan_application", application_id)
    if application.get("home_visit_done") is not done:
        reader.update("loan_application", application_id, {"home_visit_done": done}, version=application["version"],
                      reason=f"下户调查 home visit {context.record.get('id')}")


def _other_live_applications(context: HookContext, vehicle: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the other applications, submitted and not ended, on this vehicle record or on another record with the same VIN."""
    reader = system_records(context)
    same_vin = reader.list("vehicle", ListQuery(where=Condition("vin", "eq", vehicle["vin"]), limit=100, fields=("vin",))).rows
    vehicles = sorted({int(vehicle["id"]), *(int(row["id"]) for row in same_vin)})
    where = Group("and", (Condition("vehicle", "in", vehicles), Condition("state", "not_in", list(NOT_HOLDING_STATES))))
    rows = reader.list("loan_application", ListQuery(where=where, limit=100, sort=("id",), fields=("application_no", "state"))).rows
    return [row for row in rows if int(row["id"]) != int(context.record["id"])]


def _loan_to_value(context: HookContext, vehicle: dict[str, Any]) -> None:
    """Refuse a used vehicle's loan above the product's maximum share of its appraised value."""
    if vehicle.get("condition") != "used":
        return
    appraised = vehicle.get("appraised_value")
    if appraised is None or decimal_of(appraised) <= 0:
        raise HookError("The used vehicle has no appraised value; appraise it before submitting",
                        "二手车尚无评估价，请先完成车辆评估再提交", field="vehicle")
    product = system_records(context).get("loan_product", required_reference(context, "product", "loan product", "贷款产品"))
    loan = decimal_of(context.record.get("loan_amount"))
    ratio = loan / decimal_of(appraised)
    maximum = decimal_of(product.get("max_ltv"))
    if ratio > maximum:
        shown, allowed = f"{ratio * 100:.2f}%", f"{maximum * 100:.2f}%"
        raise HookError(f"The loan of {loan:,.2f} is {shown} of the used vehicle's appraised value of {decimal_of(appraised):,.2f}, "
                        f"above the product's maximum loan-to-value of {allowed}; lower the loan amount",
                        f"贷款金额 {loan:,.2f} 元为二手车评估价 {decimal_of(appraised):,.2f} 元的 {shown}，超过该产品最高贷款成数 {allowed}；"
                        "请降低贷款金额", field="loan_amount")


@hook("guarantee.check_vehicle")
def check_vehicle(context: HookContext) -> None:
    """At submission: the vehicle is on no other live application, and a used vehicle's loan fits its appraised value."""
    vehicle = system_records(context).get("vehicle", required_reference(context, "vehicle", "vehicle", "车辆"))
    others = _other_live_applications(context, vehicle)
    if others:
        named = "、".join(str(row.get("application_no") or f"#{row['id']}") for row in others)
        raise HookError(f"The vehicle {vehicle['vin']} is already on the application {named.replace('、', ', ')}, which is still "
                        "in progress; cancel that application or choose another vehicle",
                        f"车辆 {vehicle['vin']} 已用于申请 {named}，该申请仍在办理中；请先撤销该申请或另选车辆", field="vehicle")
    _loan_to_value(context, vehicle)


def ltv_base(record: dict[str, Any], vehicle: dict[str, Any]) -> Decimal | None:
    """Return the value the loan-to-value is measured on: the appraised value of a used vehicle, else the price."""
    if vehicle.get("condition") == "used" and vehicle.get("appraised_value"):
        return decimal_of(vehicle["appraised_value"])
    return decimal_of(record["vehicle_price"]) if record.get("vehicle_price") else None
