"""Staff of an onboarded dealer work inside its own unit, and file applications for that dealer only."""

from __future__ import annotations

import pytest

from vininfo import Vin

from guarantee_world import World, messages, resident_id
from onboarding_support import add_managers, onboard, staff_actor
from runtime.errors import NotFound, ValidationFailed
from runtime.access import Actor


@pytest.fixture
def dealers(world: World) -> tuple[dict, dict]:  # type: ignore[type-arg]
    add_managers(world)
    return onboard(world, 11), onboard(world, 12)


def vin(serial: int) -> str:
    body = f"LSVAU2180N218{serial:04d}"
    return next(candidate for candidate in (body[:8] + check + body[9:] for check in "0123456789X")
                if Vin(candidate).verify_checksum(check_year=False))


def file_application(world: World, staff: Actor, dealer: int | None, product: int) -> dict:  # type: ignore[type-arg]
    customer = world.users.create(staff, "customer", {
        "name": "陈晓明", "id_number": resident_id(100 + (dealer or 0) % 50), "phone": "13912345678", "address": "北京市大兴区亦庄镇荣华南路 8 号",
        "consent_signed_at": "2026-01-05T09:30:00+00:00"})
    vehicle = world.users.create(staff, "vehicle", {"brand": "大众", "vin": vin(dealer or 99), "price": "200000"})
    values = {"customer": customer["id"], "product": product, "vehicle": vehicle["id"], "vehicle_price": "200000",
              "down_payment": "60000", "loan_amount": "120000", "term_months": 36}
    if dealer is not None:
        values["dealer"] = dealer
    return world.users.create(staff, "loan_application", values)


def test_staff_see_only_their_dealers_records(world: World, dealers: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    first, second = dealers
    assert first["org_unit"] != second["org_unit"]
    product = world.product()
    application = file_application(world, staff_actor(first), first["id"], product)
    assert application["org_unit"] == first["unit_name"]

    # Staff of the other dealer under the same branch get not-found, for the application and its customer.
    other = staff_actor(second)
    with pytest.raises(NotFound):
        world.users.get(other, "loan_application", application["id"])
    with pytest.raises(NotFound):
        world.users.get(other, "customer", application["customer"])
    assert world.users.list(other, "loan_application").rows == []
    assert [row["id"] for row in world.users.list(other, "dealer").rows] == [second["id"]]

    # Both dealers' records lie below the branch, so the branch's credit officer sees them.
    assert world.read(application, "credit")["id"] == application["id"]
    credit = world.actor("credit")
    assert {row["id"] for row in world.users.list(credit, "dealer").rows} >= {first["id"], second["id"]}


def test_dealer_staff_file_for_their_own_dealer_only(world: World, dealers: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    first, second = dealers
    with pytest.raises(ValidationFailed) as refused:
        file_application(world, staff_actor(first), second["id"], world.product())
    assert messages(refused.value) == "dealer: Dealer staff file applications for their own dealer only; choose your dealer"
    assert "经销商人员只能为本经销商提交贷款申请" in messages(refused.value, "zh-CN")


def test_an_empty_dealer_becomes_the_staffs_own(world: World, dealers: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    first, _ = dealers
    application = file_application(world, staff_actor(first, 1), None, world.product())
    assert application["dealer"] == first["id"]
