"""Seed steps: before a transition of the walk, the seeder creates linked records, runs actions and runs hooks.

A small shipping app: an order is shipped only once it is paid and one of its parcels is
labelled. Payment and labels come from the seed steps, so every demo order reaches
"shipped" only if the steps ran, in their order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from runtime.access import SYSTEM_ACTOR
from runtime.app import Runtime
from runtime.hooks import registry
from runtime.migrate import migrate
from runtime.record_query import Condition, ListQuery
from runtime.seed import DemoSeeder
from runtime.settings import Settings
from tests.runtime.conftest import write_app

SHOP: dict[str, str | None] = {
    "app.yaml": "name: shipping\nlabel: {zh-CN: 发货, en: Shipping}\n",
    "entities/order.yaml": """
name: order
label: {zh-CN: 订单, en: Order}
title: code
actions:
  - {name: reserve, label: {zh-CN: 锁定库存, en: Reserve stock}, hook: shipping.reserve, states: [open]}
fields:
  - {name: code, type: string, label: {zh-CN: 单号, en: Code}, required: true}
  - {name: paid_amount, type: money, label: {zh-CN: 已付金额, en: Paid}, read_only: true}
  - {name: reserved, type: boolean, label: {zh-CN: 已锁库存, en: Reserved}, read_only: true, default: false}
""",
    "entities/parcel.yaml": """
name: parcel
label: {zh-CN: 包裹, en: Parcel}
actions:
  - {name: label_parcel, label: {zh-CN: 打印面单, en: Print label}, hook: shipping.label}
fields:
  - {name: order, type: reference, entity: order, label: {zh-CN: 订单, en: Order}, required: true}
  - name: kind
    type: enum
    label: {zh-CN: 类型, en: Kind}
    required: true
    choices:
      - {value: box, label: {zh-CN: 纸箱, en: Box}}
      - {value: bag, label: {zh-CN: 袋, en: Bag}}
  - {name: labelled, type: boolean, label: {zh-CN: 已打面单, en: Labelled}, read_only: true, default: false}
""",
    "flows/order_flow.yaml": """
name: order_flow
entity: order
label: {zh-CN: 订单流程, en: Order flow}
states:
  - {name: open, label: {zh-CN: 待发货, en: Open}, initial: true}
  - {name: shipped, label: {zh-CN: 已发货, en: Shipped}, final: true}
transitions:
  - name: ship
    label: {zh-CN: 发货, en: Ship}
    from: open
    to: shipped
    roles: [clerk]
    guard: "paid_amount > 0 and reserved"
    hooks: [shipping.require_label]
""",
    "permissions/access.yaml": """
roles:
  - {name: clerk, label: {zh-CN: 仓管, en: Clerk}}
org_units:
  - {name: depot, label: {zh-CN: 仓库, en: Depot}, kind: company}
grants:
  - {role: clerk, entity: order, actions: [read, create, update, ship, reserve], scope: all}
  - {role: clerk, entity: parcel, actions: [read, create, label_parcel], scope: all}
""",
    "hooks/shipping.py": '''
from decimal import Decimal

from runtime.hooks import HookError, hook
from runtime.record_query import Condition, ListQuery


@hook("shipping.reserve")
def reserve(context):
    return {"reserved": True}


@hook("shipping.label")
def label(context):
    return {"labelled": True}


@hook("shipping.demo_paid")
def demo_paid(context):
    return {"paid_amount": Decimal("99.50")}


@hook("shipping.require_label")
def require_label(context):
    parcels = context.records.list("parcel", ListQuery(where=Condition("order", "eq", context.record["id"]))).rows
    if not any(parcel["labelled"] for parcel in parcels):
        raise HookError("Label a parcel first", "请先打印包裹面单")
''',
    "seed.yaml": """
entities:
  order:
    fields:
      code: {format: "SO{n:04d}"}
    states: [shipped]
    steps:
      ship:
        create:
          - {entity: parcel, link: order, values: {kind: bag}, actions: [label_parcel]}
        actions: [reserve]
        hooks: [shipping.demo_paid]
  parcel:
    count: 0
""",
}


@pytest.fixture(autouse=True)
def restored_hooks() -> Iterator[None]:
    """Forget the app's hooks after each test, as each test loads its own copy of the app."""
    saved = dict(registry._hooks)
    yield
    registry._hooks.clear()
    registry._hooks.update(saved)


def seeded(tmp_path: Path, files: dict[str, str | None]) -> Runtime:
    app = write_app(tmp_path / "shipping", files)
    runtime = Runtime.open(app, Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'shop.db'}", redis_url=None))
    migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
    seeder = DemoSeeder(runtime, count=3)
    seeder.run(seeder.plan())
    return runtime


def rows(runtime: Runtime, entity: str, where: Condition | None = None) -> list[dict[str, Any]]:
    return runtime.records.list(SYSTEM_ACTOR, entity, ListQuery(where=where, limit=100, sort=("id",))).rows


def test_steps_bring_orders_through(tmp_path: Path) -> None:
    runtime = seeded(tmp_path, SHOP)
    try:
        orders = rows(runtime, "order")
        assert sorted((order["code"], order["state"]) for order in orders) == [("SO0001", "shipped"), ("SO0002", "shipped"),
                                                                               ("SO0003", "shipped")]
        assert {str(order["paid_amount"]) for order in orders} == {"99.50"}
        for order in orders:
            parcels = rows(runtime, "parcel", Condition("order", "eq", order["id"]))
            assert [(parcel["kind"], parcel["labelled"]) for parcel in parcels] == [("bag", True)]
    finally:
        runtime.close()


def test_count_zero_holds_with_count_option(tmp_path: Path) -> None:
    files = {**SHOP, "seed.yaml": str(SHOP["seed.yaml"]).replace("    states: [shipped]\n", "    states: [open]\n")}
    runtime = seeded(tmp_path, files)
    try:
        assert [order["state"] for order in rows(runtime, "order")] == ["open", "open", "open"]
        # --count 3 draws no parcel of its own: parcels come only from the steps, and no order was shipped.
        assert rows(runtime, "parcel") == []
    finally:
        runtime.close()


def test_step_failure_leaves_record_before_transition(tmp_path: Path) -> None:
    files = {**SHOP, "seed.yaml": str(SHOP["seed.yaml"]).replace(", actions: [label_parcel]", "")}
    runtime = seeded(tmp_path, files)
    try:
        orders = rows(runtime, "order")
        assert [order["state"] for order in orders] == ["open", "open", "open"]
        assert all(order["reserved"] for order in orders)
    finally:
        runtime.close()


VOUCHERS = {
    "entities/voucher.yaml": """
name: voucher
label: {zh-CN: 优惠券, en: Voucher}
fields:
  - {name: order, type: reference, entity: order, label: {zh-CN: 订单, en: Order}, required: true}
""",
    "seed.yaml": str(SHOP["seed.yaml"]) + """
  voucher:
    fields:
      order: {distinct: true}
""",
}


def test_distinct_reference_takes_each_record_once(tmp_path: Path) -> None:
    runtime = seeded(tmp_path, {**SHOP, **VOUCHERS})
    try:
        orders = [row["id"] for row in rows(runtime, "order")]
        held = [row["order"]["id"] if isinstance(row["order"], dict) else row["order"] for row in rows(runtime, "voucher")]
        assert sorted(held) == sorted(orders)
    finally:
        runtime.close()
