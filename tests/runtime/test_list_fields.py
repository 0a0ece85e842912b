"""Narrow lists: reading only named fields, and running several reads on one pooled connection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Table, event

from runtime.access import Actor, FieldAccess, SystemAccess
from runtime.errors import ValidationFailed
from runtime.record_query import Condition, ListQuery
from runtime.records import RecordService
from tests.runtime.conftest import ACTOR, ShopRuntime

SYSTEM_COLUMNS = {"id", "version", "created_at", "created_by", "updated_at", "updated_by", "org_unit", "deleted_at"}


class HidingAccess:
    """Grants every action and row like SystemAccess, but hides the cost of products and masks fields as users see them."""

    def allows(self, actor: Actor, action: str, entity: str) -> bool:
        return True

    def scope(self, actor: Actor, entity: str, table: Table, action: str = "read") -> ColumnElement[bool] | None:
        return None

    def fields(self, actor: Actor, entity: str) -> FieldAccess:
        return FieldAccess(hidden=frozenset({"cost"}) if entity == "product" else frozenset())

    def owning_unit(self, actor: Actor, entity: str) -> str | None:
        return actor.org_unit


@pytest.fixture
def stocked(shop: ShopRuntime) -> ShopRuntime:
    for number, price in enumerate((10, 20, 30)):
        shop.records.create(ACTOR, "product", {"name": f"茶{number}", "price": price, "cost": 5,
                                               "supplier_phone": "13812345678"})
    return shop


def test_fields_limit_the_record(stocked: ShopRuntime) -> None:
    page = stocked.records.list(ACTOR, "product", ListQuery(fields=("name", "price")))

    assert len(page.rows) == 3
    for row in page.rows:
        assert set(row) == SYSTEM_COLUMNS | {"name", "price"}
    assert [row["price"] for row in page.rows] == [Decimal("30.00"), Decimal("20.00"), Decimal("10.00")]


def test_fields_keep_cursor_and_total(stocked: ShopRuntime) -> None:
    first = stocked.records.list(ACTOR, "product", ListQuery(limit=2, fields=("name",), with_total=True, count_limit=2))

    assert [row["name"] for row in first.rows] == ["茶2", "茶1"]
    assert (first.total, first.total_exact) == (2, False)
    assert first.next_cursor is not None
    rest = stocked.records.list(ACTOR, "product", ListQuery(limit=2, fields=("name",), after=first.next_cursor))
    assert [row["name"] for row in rest.rows] == ["茶0"]


def test_fields_leave_out_hidden_and_mask(stocked: ShopRuntime) -> None:
    records = RecordService(stocked.model, stocked.schema, stocked.engine, access=HidingAccess(), keys=stocked.keys)

    row = records.list(ACTOR, "product", ListQuery(fields=("name", "cost", "supplier_phone"))).rows[0]

    assert "cost" not in row
    assert row["supplier_phone"] == "138****5678"


def test_fields_reject_unknown_names(stocked: ShopRuntime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        stocked.records.list(ACTOR, "product", ListQuery(fields=("name", "colour", "parts")))

    assert set(raised.value.errors) == {"fields.colour", "fields.parts"}
    assert raised.value.errors["fields.colour"][0].code == "unknown_field"


def test_reading_uses_one_connection(stocked: ShopRuntime) -> None:
    checkouts: list[Any] = []
    event.listen(stocked.engine, "checkout", lambda *args: checkouts.append(args))
    records = stocked.records
    product_id = int(records.list(ACTOR, "product", ListQuery(limit=1)).rows[0]["id"])
    checkouts.clear()

    with records.reading():
        records.list(ACTOR, "product", ListQuery(where=Condition("price", "ge", 20)))
        records.get(ACTOR, "product", product_id)
        with records.reading():
            total = records.count(ACTOR, "product", ListQuery())

    assert total == 3
    assert len(checkouts) == 1
    records.list(ACTOR, "product", ListQuery())
    assert len(checkouts) == 2


def test_reading_leaves_writes_apart(stocked: ShopRuntime) -> None:
    records = RecordService(stocked.model, stocked.schema, stocked.engine, access=SystemAccess(), keys=stocked.keys)

    with records.reading():
        before = records.count(ACTOR, "product", ListQuery())
        records.create(ACTOR, "product", {"name": "新茶", "price": 40})

    assert before == 3
    assert records.count(ACTOR, "product", ListQuery()) == 4
