"""The sales application of the report tests, with its users and a known set of sales in three data scopes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from metamodel import load_app
from metamodel.model import AppModel
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess
from runtime.records import RecordService
from runtime.reports import ReportRunner
from runtime.schema import build_schema
from tests.conftest import REPOSITORY

SALES_APP = REPOSITORY / "tests" / "apps" / "sales"

#: user id: (role, org unit)
USERS = {
    "clerk1": ("clerk", "east"),
    "clerk2": ("clerk", "west"),
    "manager_east": ("manager", "east"),
    "director": ("director", "head"),
    "viewer": ("viewer", "head"),
    "stranger": (None, "west"),
}

UTC = datetime.timezone.utc


def moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


#: Each sale: the user who enters it, then its values; shop is the name of a shop of SHOPS.
SALES: list[tuple[str, dict[str, Any]]] = [
    ("clerk1", {"shop": "A", "channel": "online", "amount": "100.00", "cost": "60", "quantity": 2,
                "sold_on": "2026-01-15", "sold_at": moment("2026-01-31T17:30:00"), "buyer_phone": "13912345678"}),
    ("clerk1", {"shop": "B", "channel": "store", "amount": "250.50", "cost": "100", "quantity": 1,
                "sold_on": "2026-02-03", "sold_at": moment("2026-02-10T02:00:00")}),
    ("clerk1", {"shop": "A", "amount": "80.00", "buyer": ""}),
    ("clerk2", {"shop": "C", "channel": "online", "amount": "300.00", "quantity": 3,
                "sold_on": "2026-04-01", "sold_at": moment("2026-03-31T16:00:00")}),
    ("clerk2", {"shop": "D", "channel": "store", "amount": "0.01", "quantity": 0, "sold_on": "2026-05-20"}),
    ("manager_east", {"channel": "online", "amount": "49.99", "quantity": 1, "sold_on": "2025-12-31",
                      "sold_at": moment("2025-12-31T16:30:00")}),
]
SHOPS = {"A": "上海", "B": "上海", "C": "成都", "D": None}
#: The sales each user's read scope reaches, by index in SALES.
SCOPES = {"clerk1": [0, 1, 2], "manager_east": [0, 1, 2, 5], "director": [0, 1, 2, 3, 4, 5]}


@dataclass
class SalesRuntime:
    model: AppModel
    records: RecordService
    system: RecordService
    runner: ReportRunner
    shop_ids: dict[str, int]
    sale_ids: list[int]

    def actor(self, user_id: str) -> Actor:
        role, unit = USERS[user_id]
        return Actor(id=user_id, name=user_id, roles=(role,) if role else (), org_unit=unit)


def add_users(admin: PermissionAdmin) -> None:
    for user_id, (role, unit) in USERS.items():
        admin.add_user(SYSTEM_ACTOR, user_id, user_id, user_id, unit)
        if role is not None:
            admin.assign(SYSTEM_ACTOR, user_id, role, unit)


def add_sales(system: RecordService) -> tuple[dict[str, int], list[int]]:
    """Create the shops and sales as their users, and one deleted sale that no report may count."""
    shop_ids = {name: system.create(SYSTEM_ACTOR, "shop", {"name": name, "city": city})["id"] for name, city in SHOPS.items()}
    sale_ids = []
    for user_id, values in SALES:
        creator = Actor(id=user_id, org_unit=USERS[user_id][1])
        shop = values.get("shop")
        sale = system.create(creator, "sale", {**values, "shop": shop_ids[shop] if shop else None})
        sale_ids.append(sale["id"])
    deleted = system.create(Actor(id="clerk1", org_unit="east"), "sale", {"shop": shop_ids["A"], "channel": "store", "amount": "1000"})
    system.delete(SYSTEM_ACTOR, "sale", deleted["id"], version=deleted["version"])
    return shop_ids, sale_ids


def open_sales(engine: Engine, tmp_path: Path) -> SalesRuntime:
    model = load_app(SALES_APP)
    schema = build_schema(model)
    migrate(engine, schema, model, backup_root=tmp_path / "backups")
    keys = KeyRing.generate()
    system = RecordService(model, schema, engine, access=SystemAccess(), keys=keys)
    store = PermissionStore(model, schema, engine)
    add_users(PermissionAdmin(store))
    shop_ids, sale_ids = add_sales(system)
    records = RecordService(model, schema, engine, access=PolicyAccess(store, schema), keys=keys)
    return SalesRuntime(model, records, system, ReportRunner(records), shop_ids, sale_ids)


def expected_by_channel(indexes: list[int]) -> dict[str | None, dict[str, Any]]:
    """Compute the sales_by_channel figures of the given sales in Python, by channel."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for index in indexes:
        values = SALES[index][1]
        groups.setdefault(values.get("channel"), []).append(values)
    groups_and_total = {**groups, "(total)": [SALES[index][1] for index in indexes]}
    figures: dict[str | None, dict[str, Any]] = {}
    for key, rows in groups_and_total.items():
        amounts = [Decimal(row["amount"]) for row in rows]
        quantities = [row["quantity"] for row in rows if row.get("quantity") is not None]
        total = sum(amounts, Decimal(0))
        figures[key] = {
            "sale_count": len(rows),
            "total_amount": total,
            "average_amount": (total / len(amounts)).quantize(Decimal("0.01")),
            "shop_count": len({row["shop"] for row in rows if row.get("shop")}),
            "largest_amount": max(amounts),
            "total_quantity": sum(quantities) if quantities else None,
            "amount_per_item": (total / sum(quantities)).quantize(Decimal("0.0001")) if quantities and sum(quantities) else None,
        }
    return figures
