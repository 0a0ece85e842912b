"""The record service on a real database: create, read, update, delete, restore, validation and locking."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from stdnum.cn import ric

from runtime.access import Actor, FieldAccess, SystemAccess
from runtime.errors import NotFound, StaleVersion, ValidationFailed
from runtime.records import RecordService
from tests.runtime.conftest import ACTOR, SHOP_APP, ShopRuntime, write_app


def resident_id(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


def category(shop: ShopRuntime, code: str = "TEA", name: str = "茶叶") -> dict:
    return shop.records.create(ACTOR, "category", {"code": code, "name": name})


def test_create_normalizes_and_stamps(shop: ShopRuntime) -> None:
    tea = category(shop)
    record = shop.records.create(
        ACTOR,
        "product",
        {"name": " 龙井 ", "price": "１,２３４.５", "cost": 1000, "category": str(tea["id"]), "supplier_phone": "+86 138 1234 5678"},
    )

    assert record["name"] == "龙井"
    assert record["price"] == Decimal("1234.50")
    assert record["margin"] == Decimal("234.50")
    assert record["stock"] == 0
    assert record["status"] == "active"
    assert record["category"] == tea["id"]
    assert record["version"] == 1
    assert record["created_by"] == "u1"
    assert record["org_unit"] == "head_office"
    assert record["supplier_phone"] == "13812345678"


def test_every_field_error_at_once(shop: ShopRuntime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(
            ACTOR,
            "product",
            {"price": "NaN", "stock": -1, "status": "sold", "supplier_phone": "12345", "colour": "red", "margin": 5},
        )

    errors = raised.value.errors
    assert set(errors) == {"name", "price", "stock", "status", "supplier_phone", "colour", "margin"}
    assert errors["name"][0].code == "required"
    assert errors["price"][0].code == "not_finite"
    assert errors["stock"][0].code == "min"
    assert errors["colour"][0].code == "unknown_field"
    assert errors["margin"][0].code == "computed"
    assert errors["status"][0].message_zh


def test_rules_over_valid_fields_reported_with_field_errors(shop: ShopRuntime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(ACTOR, "product", {"name": "茶", "price": 10, "cost": 12, "stock": -1})
    assert {path: [error.code for error in errors] for path, errors in raised.value.errors.items()} == {
        "stock": ["min"], "cost": ["rule.cost_below_price"]}

    # A rule that reads an invalid field waits until that field is right.
    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(ACTOR, "product", {"name": "茶", "price": "ten", "cost": 12})
    assert set(raised.value.errors) == {"price"}


def test_failed_create_writes_nothing(shop: ShopRuntime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(
            ACTOR, "product", {"name": "茶具", "price": 10, "parts": [{"part_name": "杯", "quantity": 2}, {"quantity": 0}]}
        )

    assert set(raised.value.errors) == {"parts[1].part_name", "parts[1].quantity"}
    tables = shop.schema.entities["product"]
    with shop.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(tables.table)) == 0
        assert connection.scalar(select(func.count()).select_from(tables.children["parts"])) == 0
        assert connection.scalar(select(func.count()).select_from(shop.schema.audit)) == 0


def test_child_rows_and_links_saved(shop: ShopRuntime) -> None:
    tea, cups = category(shop), category(shop, "CUP", "杯具")
    record = shop.records.create(
        ACTOR,
        "product",
        {"name": "茶具", "price": 10, "parts": [{"part_name": "杯", "quantity": 2}, {"part_name": "壶", "quantity": 1}],
         "related": [cups["id"], tea["id"]]},
    )

    assert [row["part_name"] for row in record["parts"]] == ["杯", "壶"]
    assert record["parts"][0]["quantity"] == 2
    assert record["related"] == [cups["id"], tea["id"]]

    updated = shop.records.update(ACTOR, "product", record["id"], {"parts": [{"part_name": "盘", "quantity": 4}]}, version=1)
    assert [row["part_name"] for row in updated["parts"]] == ["盘"]


def test_child_rows_filling_different_fields(shop: ShopRuntime) -> None:
    """Rows that leave different optional fields empty are each saved with their own values."""
    parts = [{"part_name": "杯", "quantity": 2}, {"part_name": "壶"}, {"part_name": "盘", "quantity": 6}, {"part_name": "托"}]
    record = shop.records.create(ACTOR, "product", {"name": "茶具", "price": 10, "parts": parts})

    assert [(row["part_name"], row["quantity"]) for row in record["parts"]] == [("杯", 2), ("壶", None), ("盘", 6), ("托", None)]
    updated = shop.records.update(ACTOR, "product", record["id"], {"parts": list(reversed(parts))}, version=1)
    assert [(row["part_name"], row["quantity"]) for row in updated["parts"]] == [("托", None), ("盘", 6), ("壶", None), ("杯", 2)]


def test_reference_to_deleted_record_rejected(shop: ShopRuntime) -> None:
    tea = category(shop)
    shop.records.delete(ACTOR, "category", tea["id"], version=1)

    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10, "category": tea["id"]})
    assert raised.value.errors["category"][0].code == "reference"

    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10, "category": 99999})
    assert raised.value.errors["category"][0].code == "reference"


def test_rule_and_unique_checked(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "product", {"name": "龙井", "sku": "LJ-1", "price": 10})

    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(ACTOR, "product", {"name": "碧螺春", "sku": "LJ-1", "price": 10, "cost": 11})

    assert raised.value.errors["sku"][0].code == "unique"
    assert raised.value.errors["cost"][0].code == "rule.cost_below_price"
    assert raised.value.errors["cost"][0].message_zh == "成本不能高于单价"


def test_unique_value_free_after_delete(shop: ShopRuntime) -> None:
    first = shop.records.create(ACTOR, "product", {"name": "龙井", "sku": "LJ-1", "price": 10})
    shop.records.delete(ACTOR, "product", first["id"], version=1)

    second = shop.records.create(ACTOR, "product", {"name": "龙井", "sku": "LJ-1", "price": 12})

    assert second["sku"] == "LJ-1"
    with pytest.raises(ValidationFailed):
        shop.records.restore(ACTOR, "product", first["id"], version=2)


def test_stale_version_names_who(shop: ShopRuntime) -> None:
    record = shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10})
    other = Actor(id="u2", name="李四")
    shop.records.update(other, "product", record["id"], {"price": 11}, version=1)

    with pytest.raises(StaleVersion) as raised:
        shop.records.update(ACTOR, "product", record["id"], {"price": 12}, version=1)

    assert raised.value.changed_by == "u2"
    assert raised.value.current == 2
    assert "u2" in raised.value.message("zh-CN")
    assert shop.records.get(ACTOR, "product", record["id"])["price"] == Decimal("11.00")


def test_concurrent_updates_one_wins(shop: ShopRuntime) -> None:
    record = shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10})
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def update(price: int) -> None:
        barrier.wait()
        try:
            shop.records.update(Actor(id=f"u{price}"), "product", record["id"], {"price": price}, version=1)
            outcomes.append("won")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=update, args=(price,)) for price in (20, 30, 40, 50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["stale", "stale", "stale", "won"]
    assert shop.records.get(ACTOR, "product", record["id"])["version"] == 2


def test_deleted_record_not_found_until_restored(shop: ShopRuntime) -> None:
    record = shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10})
    shop.records.delete(ACTOR, "product", record["id"], version=1)

    with pytest.raises(NotFound):
        shop.records.get(ACTOR, "product", record["id"])
    with pytest.raises(NotFound):
        shop.records.update(ACTOR, "product", record["id"], {"price": 1}, version=2)

    restored = shop.records.restore(ACTOR, "product", record["id"], version=2)
    assert restored["version"] == 3


def test_encrypted_field_stored_as_token(shop: ShopRuntime) -> None:
    number = resident_id("11010519900505123")
    record = shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10, "supplier_id": number.lower()})

    assert record["supplier_id"] == number
    table = shop.schema.entities["product"].table
    with shop.engine.connect() as connection:
        stored, digest = connection.execute(select(table.c.supplier_id, table.c.supplier_id__hash)).one()
    assert stored.startswith("v1:")
    assert number not in stored
    assert len(digest) == 64


def test_masked_for_actor_without_clear_view(shop: ShopRuntime) -> None:
    class MaskingAccess(SystemAccess):
        def fields(self, actor: Actor, entity: str) -> FieldAccess:
            return FieldAccess(hidden=frozenset({"cost"}))

    number = resident_id("11010519900505123")
    created = shop.records.create(
        ACTOR, "product", {"name": "龙井", "price": 10, "cost": 5, "supplier_phone": "13812345678", "supplier_id": number}
    )
    service = RecordService(shop.model, shop.schema, shop.engine, access=MaskingAccess(), keys=shop.keys)

    seen = service.get(ACTOR, "product", created["id"])

    assert seen["supplier_phone"] == "138****5678"
    assert seen["supplier_id"] == number[:3] + "*" * 11 + number[-4:]
    assert "cost" not in seen
    listed = service.list(ACTOR, "product").rows[0]
    assert "cost" not in listed
    assert listed["supplier_phone"] == "138****5678"


def test_audit_keeps_masked_changes(shop: ShopRuntime) -> None:
    record = shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10, "supplier_phone": "13812345678"})
    shop.records.update(ACTOR, "product", record["id"], {"price": 12}, version=1, reason="调价")

    audit = shop.schema.audit
    with shop.engine.connect() as connection:
        rows = connection.execute(select(audit).order_by(audit.c.id)).mappings().all()

    assert [row["action"] for row in rows] == ["create", "update"]
    assert rows[0]["changes"]["supplier_phone"] == [None, "138****5678"]
    assert rows[1]["changes"] == {"price": ["10.00", "12.00"]}
    assert rows[1]["reason"] == "调价"
    assert rows[1]["actor"] == "u1"
    assert rows[1]["address"] == "127.0.0.1"


def test_create_many_all_or_nothing(shop: ShopRuntime) -> None:
    tea = category(shop)
    rows = [
        {"name": "龙井", "price": 30, "sku": "A1", "category": tea["id"], "parts": [{"part_name": "罐", "quantity": 1}]},
        {"name": "碧螺春", "price": 25, "sku": "A2"},
        {"name": "普洱", "price": -1, "sku": "A1"},
    ]

    with pytest.raises(ValidationFailed) as raised:
        shop.records.create_many(ACTOR, "product", rows)

    assert set(raised.value.errors) == {"rows[2].price", "rows[2].sku"}
    assert shop.records.list(ACTOR, "product").rows == []


def test_create_many_inserts_in_order(shop: ShopRuntime) -> None:
    tea = category(shop)
    rows = [
        {"name": "龙井", "price": 30, "category": tea["id"], "parts": [{"part_name": "罐", "quantity": 1}]},
        {"name": "碧螺春", "price": 25},
    ]

    ids = shop.records.create_many(ACTOR, "product", rows, reason="导入")

    assert [shop.records.get(ACTOR, "product", record_id)["name"] for record_id in ids] == ["龙井", "碧螺春"]
    assert shop.records.get(ACTOR, "product", ids[0])["parts"][0]["part_name"] == "罐"
    with shop.engine.connect() as connection:
        from runtime.audit import AuditLog

        assert AuditLog(shop.schema).verify(connection).checked == 3


def test_money_stored_exactly(shop: ShopRuntime) -> None:
    record = shop.records.create(ACTOR, "product", {"name": "金条", "price": "9999999999999999.99", "cost": "0.01"})

    assert shop.records.get(ACTOR, "product", record["id"])["price"] == Decimal("9999999999999999.99")
    table = shop.schema.entities["product"].table
    with shop.engine.connect() as connection:
        assert connection.scalar(select(func.sum(table.c.price) + func.sum(table.c.cost))) == Decimal("10000000000000000.00")
    with pytest.raises(ValidationFailed) as raised:
        shop.records.create(ACTOR, "product", {"name": "太多", "price": "10000000000000000"})
    assert raised.value.errors["price"][0].code == "digits"


VISIT = """
    name: visit
    label: {zh-CN: 拜访, en: Visit}
    fields:
      - {name: at, type: datetime, label: {zh-CN: 时间, en: Time}, required: true}
"""


@pytest.mark.parametrize("text", ["2026-12-06T09:00:00+08:00", "2026-12-06T01:00:00Z", "2026-12-06T01:00:00+00:00",
                                  "2026-12-05T20:00:00-05:00"])
def test_times_with_a_zone_keep_their_moment(tmp_path: Path, engine: Engine, text: str) -> None:
    shop = ShopRuntime(write_app(tmp_path / "shop", {**SHOP_APP, "entities/visit.yaml": VISIT}), engine, tmp_path)
    created = shop.records.create(ACTOR, "visit", {"at": text})
    expected = datetime.datetime(2026, 12, 6, 1, 0, tzinfo=datetime.timezone.utc)

    assert created["at"] == expected
    assert shop.records.get(ACTOR, "visit", created["id"])["at"] == expected
