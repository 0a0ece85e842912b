"""The records behind the review: credit checks, vehicle appraisals and home visits, and the checks they feed."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from runtime.errors import PermissionDenied, ValidationFailed
from runtime.record_query import Condition, ListQuery

from guarantee_world import DEALER_UNIT, World, hooks_module, messages

appraisal = hooks_module("appraisal")
review_hooks = hooks_module("review_hooks")


def in_credit_review(world: World, **values: Any) -> dict[str, Any]:
    record = world.application(world.product(), **values)
    for transition, user in (("submit", "dealer"), ("forward", "dealer"), ("start_credit_review", "credit")):
        record = world.fire(record, transition, user)
    return record


def checks_of(world: World, record: dict[str, Any], user: str) -> list[dict[str, Any]]:
    query = ListQuery(where=Condition("application", "eq", record["id"]), sort=("id",))
    return sorted(world.users.list(world.actor(user), "credit_check", query).rows, key=lambda row: int(row["id"]))


# Credit checks ------------------------------------------------------------------------------------


def test_credit_report_kept_per_person_queried(world: World) -> None:
    co_borrower = world.customer(sequence=700)
    record = in_credit_review(world, co_borrower=co_borrower)

    checks = checks_of(world, record, "credit")
    assert [row["party"] for row in checks] == ["borrower", "co_borrower"]
    assert [row["person"] for row in checks] == [world.read(record)["customer"], co_borrower]
    assert all(row["report_id"] and row["consent"].startswith("C") and row["queried_at"] for row in checks)
    assert {row["org_unit"] for row in checks} == {DEALER_UNIT}
    # The application keeps the borrower's counts for the scorecard.
    loan = world.read(record, "risk")
    assert loan["credit_report_id"] == checks[0]["report_id"]
    assert loan["credit_current_overdue_count"] == checks[0]["current_overdue_count"]
    assert len(checks_of(world, record, "risk")) == 2


def test_dealer_never_sees_credit_checks(world: World) -> None:
    record = in_credit_review(world)
    with pytest.raises(PermissionDenied):
        checks_of(world, record, "dealer")


# Vehicle appraisal ---------------------------------------------------------------------------------


def test_tables_give_hand_computed_values() -> None:
    tables = review_hooks.TABLES
    # 200,000 x 0.90 (30 months) x 0.96 (45,000 km) x 0.95 (grade B)
    assert appraisal.appraise_used(tables, Decimal("200000"), 30, 45000, "B").appraised_value == Decimal("164160.00")
    # 150,000 x 0.72 (70 months) x 0.86 (130,000 km) x 0.88 (grade C)
    assert appraisal.appraise_used(tables, Decimal("150000"), 70, 130000, "C").appraised_value == Decimal("81734.40")
    # Band bounds are included: 12 months and 20,000 km are in the first bands.
    assert appraisal.appraise_used(tables, Decimal("100000"), 12, 20000, "A").appraised_value == Decimal("95000.00")
    assert appraisal.appraise_new(tables, Decimal("189900.50")).appraised_value == Decimal("189900.50")
    assert appraisal.months_between(datetime.date(2023, 8, 15), datetime.date(2026, 2, 14)) == 29
    assert appraisal.months_between(datetime.date(2023, 8, 15), datetime.date(2026, 2, 15)) == 30


def test_tables_file_errors_name_the_key(tmp_path: Any) -> None:
    path = tmp_path / "tables.yaml"
    path.write_text("new_vehicle_factor: 1\nage_bands: [{factor: 0.9}]\nmileage_bands: [{up_to_km: 10, factor: 1.2}, {factor: 0.8}]\n"
                    "condition_grades: {A: 1, B: 0.9, C: 0.8, D: 0.7}\n", encoding="utf-8")
    with pytest.raises(appraisal.TablesError) as wrong:
        appraisal.read_tables(path)
    assert str(wrong.value) == f"{path}: mileage_bands[0].factor must be a number above 0 and at most 1; found 1.2"


def used_vehicle(world: World) -> int:
    return world.vehicle(condition="used", appraised_value="190000", first_registration_date=datetime.date(2023, 8, 15), mileage_km=45000)


def test_appraisal_of_used_vehicle_sets_its_value(world: World) -> None:
    vehicle = used_vehicle(world)
    saved = world.users.create(world.actor("credit"), "appraisal", {
        "vehicle": vehicle, "market_price": Decimal("200000"), "condition_grade": "B", "appraiser": "评估师甲",
        "appraised_on": datetime.date(2026, 2, 20)})

    assert (saved["method"], saved["age_months"], saved["mileage_km"]) == ("market", 30, 45000)
    assert (saved["age_factor"], saved["mileage_factor"], saved["condition_factor"]) == (Decimal("0.9"), Decimal("0.96"), Decimal("0.95"))
    assert saved["appraised_value"] == Decimal("164160.00")
    assert world.users.get(world.actor("credit"), "vehicle", vehicle)["appraised_value"] == Decimal("164160.00")


def test_new_vehicle_needs_invoice_price(world: World) -> None:
    with pytest.raises(ValidationFailed) as refused:
        world.users.create(world.actor("credit"), "appraisal", {"vehicle": world.vehicle(), "appraiser": "评估师甲",
                                                                "appraised_on": datetime.date(2026, 2, 20)})
    assert messages(refused.value) == "invoice_price: Enter the invoice price of the new vehicle"


def test_used_vehicle_ltv_above_maximum(world: World) -> None:
    vehicle = used_vehicle(world)
    world.users.create(world.actor("credit"), "appraisal", {
        "vehicle": vehicle, "market_price": Decimal("200000"), "condition_grade": "B", "appraiser": "评估师甲",
        "appraised_on": datetime.date(2026, 2, 20)})
    record = world.application(world.product(), vehicle=vehicle, documents=("id_card", "driving_licence", "income_proof",
                                                                           "purchase_contract", "vehicle_licence"))
    assert world.read(record, "dealer")["ltv"] == Decimal("0.7310")

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "submit", "dealer")
    assert messages(refused.value) == ("loan_amount: The loan of 120,000.00 is 73.10% of the used vehicle's appraised value of "
                                       "164,160.00, above the product's maximum loan-to-value of 70.00%; lower the loan amount")
    assert messages(refused.value, "zh-CN") == ("loan_amount: 贷款金额 120,000.00 元为二手车评估价 164,160.00 元的 73.10%，"
                                                "超过该产品最高贷款成数 70.00%；请降低贷款金额")

    record = world.users.update(world.actor("dealer"), "loan_application", record["id"],
                                {"loan_amount": Decimal("114000")}, version=world.read(record, "dealer")["version"])
    assert world.fire(record, "submit", "dealer")["state"] == "submitted"


# Home visits -------------------------------------------------------------------------------------------


def test_credit_approve_needs_passing_visit(world: World) -> None:
    record = in_credit_review(world)
    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "credit_approve", "credit")
    [error] = refused.value.errors["home_visit_done"]
    assert error.message_zh == "执行“信审通过”前“已下户调查”须为“是”；该项由系统根据其他记录得出，详见其说明"

    record = world.home_visit(record, "fail")
    assert record["home_visit_done"] is False
    pytest.raises(ValidationFailed, world.fire, record, "credit_approve", "credit")

    # A later visit with concerns, not a fail, lets the review pass.
    record = world.home_visit(record, "concerns", visited_on=datetime.date(2026, 2, 25))
    assert record["home_visit_done"] is True
    assert world.fire(record, "credit_approve", "credit")["state"] == "risk_review"


def test_home_visit_done_cannot_be_ticked_by_hand(world: World) -> None:
    record = in_credit_review(world)
    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "credit_approve", "credit", values={"home_visit_done": True})
    assert "home_visit_done" in refused.value.errors
    assert world.read(record)["state"] == "credit_review"


def test_home_visit_with_concerns_needs_remarks(world: World) -> None:
    record = in_credit_review(world)
    with pytest.raises(ValidationFailed) as refused:
        world.home_visit(record, "concerns", remarks=None)
    assert messages(refused.value) == "remarks: Explain a conclusion of concerns or fail in the remarks"
