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


PEOPLE: dict[str, str | None] = {
    "app.yaml": "name: club\nlabel: {zh-CN: 俱乐部, en: Club}\n",
    "entities/member.yaml": """
name: member
label: {zh-CN: 会员, en: Member}
fields:
  - {name: id_number, type: resident_id, label: {zh-CN: 身份证号, en: ID number}, required: true}
  - name: gender
    type: enum
    label: {zh-CN: 性别, en: Gender}
    choices:
      - {value: male, label: {zh-CN: 男, en: Male}}
      - {value: female, label: {zh-CN: 女, en: Female}}
  - {name: birth_date, type: date, label: {zh-CN: 出生日期, en: Born}}
  - name: marital_status
    type: enum
    label: {zh-CN: 婚姻状况, en: Marital status}
    choices:
      - {value: single, label: {zh-CN: 未婚, en: Single}}
      - {value: married, label: {zh-CN: 已婚, en: Married}}
  - {name: partner_name, type: string, label: {zh-CN: 配偶姓名, en: Partner}, length: {max: 50}}
  - {name: partner_id_number, type: resident_id, label: {zh-CN: 配偶身份证号, en: Partner ID}}
  - {name: address, type: string, label: {zh-CN: 地址, en: Address}, length: {max: 100}}
  - {name: car_vin, type: vin, label: {zh-CN: 车架号, en: VIN}}
  - {name: employer_code, type: uscc, label: {zh-CN: 单位信用代码, en: Employer code}}
  - {name: card, type: bank_card, label: {zh-CN: 银行卡号, en: Card}}
rules:
  - name: partner_only_when_married
    check: "marital_status == 'married' or (is_empty(partner_name) and is_empty(partner_id_number))"
    message: {zh-CN: 仅已婚会员可填写配偶, en: Only married members have a partner}
    fields: [partner_name]
""",
    "permissions/access.yaml": """
roles:
  - {name: clerk, label: {zh-CN: 文员, en: Clerk}}
org_units:
  - {name: desk, label: {zh-CN: 前台, en: Desk}, kind: company}
grants:
  - {role: clerk, entity: member, actions: [read, create, update], scope: all}
""",
    "seed.yaml": """
entities:
  member:
    fields:
      birth_date: {range: [-20000, -8000]}
      partner_name: {faker: person_name, when: "marital_status == 'married'"}
      partner_id_number: {when: "marital_status == 'married'"}
      address: {faker: street_address, prefix: [北京市大兴区, 上海市浦东新区]}
      car_vin: {prefix: [LSV, WVGZZZ7P]}
      employer_code: {prefix: "91310115"}
      card: {prefix: "622588"}
""",
}


def test_values_agree_within_a_record_and_start_with_their_prefix(tmp_path: Path) -> None:
    import stdnum.cn.ric
    import stdnum.cn.uscc
    import stdnum.luhn
    from vininfo import Vin

    app = write_app(tmp_path / "club", PEOPLE)
    runtime = Runtime.open(app, Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'club.db'}", redis_url=None))
    try:
        migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
        seeder = DemoSeeder(runtime, count=24)
        seeder.run(seeder.plan())
        members = sorted(rows(runtime, "member"), key=lambda member: int(member["id"]))
        assert len(members) == 24
        genders = {member["gender"] for member in members}
        assert {"male", "female"} <= genders
        for number, member in enumerate(members, start=1):
            id_number = member["id_number"]
            assert stdnum.cn.ric.get_birth_date(id_number) == member["birth_date"]
            if member["gender"] is not None:
                # The 17th digit is odd for a man and even for a woman.
                assert int(id_number[16]) % 2 == (1 if member["gender"] == "male" else 0), member
            if member["marital_status"] == "married":
                assert member["partner_name"]
            else:
                assert member["partner_name"] is None and member["partner_id_number"] is None, member
            assert member["address"].startswith("北京市大兴区" if number % 2 else "上海市浦东新区")
            assert len(member["address"]) > len("北京市大兴区")
            if member["car_vin"] is not None:
                assert member["car_vin"].startswith("LSV" if number % 2 else "WVGZZZ7P")
                assert Vin(member["car_vin"]).verify_checksum(check_year=False)
            if member["employer_code"] is not None:
                assert member["employer_code"].startswith("91310115") and stdnum.cn.uscc.is_valid(member["employer_code"])
            if member["card"] is not None:
                assert member["card"].startswith("622588") and stdnum.luhn.is_valid(member["card"])
        assert any(member["marital_status"] == "married" for member in members)
        assert any(member["marital_status"] == "single" for member in members)
    finally:
        runtime.close()
