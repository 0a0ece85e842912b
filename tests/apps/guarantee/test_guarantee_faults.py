"""Faults found in the review steps, each pinned: one vehicle on two live applications, the blacklisted
co-borrower named, and the fast-track flow's automatic rejection of a blacklisted borrower."""

from __future__ import annotations

import pytest

from runtime.errors import ValidationFailed

from guarantee_world import World, messages


def test_same_vehicle_on_two_live_applications_refused(world: World) -> None:
    first = world.fire(world.application(world.product()), "submit", "dealer")
    vehicle = first["vehicle"]
    second = world.application(world.product(), vehicle=vehicle)

    with pytest.raises(ValidationFailed) as refused:
        world.fire(second, "submit", "dealer")

    vin = world.users.get(world.actor("dealer"), "vehicle", vehicle)["vin"]
    assert messages(refused.value) == (f"vehicle: The vehicle {vin} is already on the application {first['application_no']}, which "
                                       "is still in progress; cancel that application or choose another vehicle")
    assert messages(refused.value, "zh-CN") == (f"vehicle: 车辆 {vin} 已用于申请 {first['application_no']}，该申请仍在办理中；"
                                                "请先撤销该申请或另选车辆")

    # Once the first application is cancelled, the vehicle is free again.
    world.fire(first, "cancel", "dealer", comment="客户改选车型")
    assert world.fire(world.read(second, "dealer"), "submit", "dealer")["state"] == "submitted"


def test_blacklisted_co_borrower_named(world: World) -> None:
    borrower = world.customer()
    co_borrower = world.customer(blacklisted=True, blacklist_reason="骗贷")
    names = {person: world.users.get(world.actor("credit"), "customer", person)["name"] for person in (borrower, co_borrower)}
    record = world.fire(world.application(world.product(), customer=borrower, co_borrower=co_borrower), "submit", "dealer")

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "forward", "dealer")

    assert messages(refused.value) == (f"co_borrower: {names[co_borrower]} did not pass the guarantor's anti-fraud screening, so the "
                                       "application cannot be forwarded; contact the guarantor's risk department")
    assert names[borrower] not in messages(refused.value, "zh-CN")


@pytest.mark.parametrize("who", ["customer", "co_borrower"])
def test_fast_track_rejects_blacklisted_automatically(world: World, who: str) -> None:
    blacklisted = world.customer(blacklisted=True, blacklist_reason="骗贷")
    people = {"customer": blacklisted} if who == "customer" else {"co_borrower": blacklisted}
    record = world.fire(world.application(world.product("fast_track"), **people), "submit", "dealer")

    record = world.fire(record, "forward", "dealer")

    loan = world.read(record, "risk")
    assert loan["state"] == "rejected"
    assert loan["anti_fraud_stopped"] is True
    assert "在本公司黑名单中" in loan["anti_fraud_warnings"]


def test_borrower_as_own_co_borrower_refused(world: World) -> None:
    borrower = world.customer()

    with pytest.raises(ValidationFailed) as refused:
        world.application(world.product(), customer=borrower, co_borrower=borrower)

    assert messages(refused.value) == "co_borrower: The co-borrower must be someone other than the borrower"
