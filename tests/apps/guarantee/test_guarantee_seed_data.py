"""The guarantee app's demo data: dealers in their own units, matched vehicle columns, customers near their dealer."""

from __future__ import annotations

from guarantee_world import World
from runtime.permission_admin import PermissionAdmin
from runtime.seed import DemoSeeder
from runtime.seed_users import SEED_ACTOR

#: Series of each brand the seed hints offer.
SERIES = {"大众": {"朗逸", "帕萨特", "途观L", "途锐"}, "丰田": {"卡罗拉"}, "本田": {"雅阁"}, "宝马": {"3系"}, "比亚迪": {"汉"}}


def test_demo_dealers_vehicles_and_customers_fit_together(world: World) -> None:
    seeder = DemoSeeder(world.runtime, count=4)
    report = seeder.run(seeder.plan())
    assert {item.entity: item.failed for item in report.entities}.get("dealer") == 0

    records = world.runtime.records
    dealers = [records.get(SEED_ACTOR, "dealer", row["id"]) for row in records.list(SEED_ACTOR, "dealer").rows]
    units = {row.name: row for row in PermissionAdmin(world.runtime.permissions()).org_units()}
    active = [row for row in dealers if row["state"] == "active"]
    assert len(active) == 3
    # Each onboarded dealer owns a dealer unit of its own, with its staff's accounts there.
    assert len({row["org_unit"] for row in active}) == len(active)
    for row in active:
        assert units[row["org_unit"]].kind == "dealer" and row["staff"]
        assert all(staff["username"] for staff in row["staff"])
    city_of_branch = {"beijing_branch": "北京", "shanghai_branch": "上海"}
    for row in active:
        branch = units[row["org_unit"]].parent
        assert row["name"].startswith(city_of_branch[branch or ""])

    for vehicle in records.list(SEED_ACTOR, "vehicle").rows:
        assert vehicle["series"] in SERIES[vehicle["brand"]]
        if vehicle["condition"] == "used":
            assert vehicle["first_registration_date"] and vehicle["appraised_value"] < vehicle["price"]
    for customer in records.list(SEED_ACTOR, "customer").rows:
        assert customer["address"].startswith({"dealer_bj_yizhuang": "北京", "dealer_sh_pudong": "上海"}[customer["org_unit"]])
