"""Lists: filters, and/or groups, pinyin search, sort with empty values, keyset pages and totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.errors import ValidationFailed
from runtime.record_query import Condition, Group, ListQuery
from tests.runtime.conftest import ACTOR, ShopRuntime

PRODUCTS = [
    ("龙井", 30, 5, "active", "2024-03-01"),
    ("碧螺春", 25, 0, "active", "2024-04-15"),
    ("普洱", 50, 8, "retired", None),
    ("张三牌红茶", 10, 2, "active", "2023-12-31"),
    ("铁观音", 25, 1, "retired", "2024-01-10"),
]


@pytest.fixture
def stocked(shop: ShopRuntime) -> ShopRuntime:
    for name, price, stock, status, released in PRODUCTS:
        shop.records.create(
            ACTOR, "product", {"name": name, "price": price, "stock": stock, "status": status, "released_on": released}
        )
    return shop


def names(shop: ShopRuntime, query: ListQuery) -> list[str]:
    return [row["name"] for row in shop.records.list(ACTOR, "product", query).rows]


def test_default_sort_from_yaml(stocked: ShopRuntime) -> None:
    # price descending, then id descending among equal prices
    assert names(stocked, ListQuery()) == ["普洱", "龙井", "铁观音", "碧螺春", "张三牌红茶"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("status", "eq", "retired"), {"普洱", "铁观音"}),
        (Condition("status", "ne", "retired"), {"龙井", "碧螺春", "张三牌红茶"}),
        (Condition("price", "lt", "25"), {"张三牌红茶"}),
        (Condition("price", "le", "２５"), {"张三牌红茶", "碧螺春", "铁观音"}),
        (Condition("price", "gt", 30), {"普洱"}),
        (Condition("price", "ge", "1,000"), set()),
        (Condition("status", "in", ["retired", "active"]), {"龙井", "碧螺春", "普洱", "张三牌红茶", "铁观音"}),
        (Condition("status", "not_in", ["retired"]), {"龙井", "碧螺春", "张三牌红茶"}),
        (Condition("name", "contains", "茶"), {"张三牌红茶"}),
        (Condition("released_on", "between", ["2024-01-01", "2024年3月31日"]), {"龙井", "铁观音"}),
        (Condition("released_on", "empty"), {"普洱"}),
        (Condition("released_on", "not_empty"), {"龙井", "碧螺春", "张三牌红茶", "铁观音"}),
    ],
)
def test_filter_operator(stocked: ShopRuntime, condition: Condition, expected: set[str]) -> None:
    assert set(names(stocked, ListQuery(where=condition))) == expected


def test_and_or_groups(stocked: ShopRuntime) -> None:
    where = Group(
        "or",
        (
            Group("and", (Condition("status", "eq", "active"), Condition("price", "ge", 25))),
            Condition("stock", "gt", 7),
        ),
    )
    assert set(names(stocked, ListQuery(where=where))) == {"龙井", "碧螺春", "普洱"}


def test_invalid_filter_value_rejected(stocked: ShopRuntime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        stocked.records.list(ACTOR, "product", ListQuery(where=Condition("price", "gt", "cheap")))
    assert list(raised.value.errors) == ["where.price"]

    with pytest.raises(ValidationFailed) as raised:
        stocked.records.list(ACTOR, "product", ListQuery(where=Condition("colour", "eq", "red")))
    assert list(raised.value.errors) == ["where.colour"]

    with pytest.raises(ValidationFailed) as raised:
        stocked.records.list(ACTOR, "product", ListQuery(where=Condition("price", "like", 1)))
    assert raised.value.errors["where.price"][0].code == "operator"


@pytest.mark.parametrize(("text", "expected"), [("zs", {"张三牌红茶"}), ("longjing", {"龙井"}), ("lj", {"龙井"}), ("普", {"普洱"}), ("tgy 铁", {"铁观音"})])
def test_search_matches_pinyin(stocked: ShopRuntime, text: str, expected: set[str]) -> None:
    assert set(names(stocked, ListQuery(search=text))) == expected


def test_keyset_pages_cover_every_row_once(stocked: ShopRuntime) -> None:
    for sort in (("price",), ("-price",), ("released_on",), ("-released_on",), ("status", "-stock")):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = stocked.records.list(ACTOR, "product", ListQuery(sort=sort, limit=2, after=cursor))
            seen.extend(row["name"] for row in page.rows)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(row[0] for row in PRODUCTS), sort
        assert pages == 3, sort


def test_empty_values_sort_last(stocked: ShopRuntime) -> None:
    assert names(stocked, ListQuery(sort=("released_on",)))[-1] == "普洱"
    assert names(stocked, ListQuery(sort=("-released_on",)))[-1] == "普洱"


def test_total_counts_filtered_rows(stocked: ShopRuntime) -> None:
    page = stocked.records.list(ACTOR, "product", ListQuery(where=Condition("status", "eq", "active"), limit=1, with_total=True))

    assert page.total == 3
    assert len(page.rows) == 1
    assert page.rows[0]["price"] == Decimal("30.00")


def test_bad_cursor_rejected(stocked: ShopRuntime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        stocked.records.list(ACTOR, "product", ListQuery(after="not-a-cursor"))
    assert list(raised.value.errors) == ["after"]


def test_deleted_listed_only_in_bin(stocked: ShopRuntime) -> None:
    record = stocked.records.list(ACTOR, "product", ListQuery(search="lj")).rows[0]
    stocked.records.delete(ACTOR, "product", record["id"], version=record["version"])

    assert "龙井" not in names(stocked, ListQuery())
    assert names(stocked, ListQuery(deleted=True)) == ["龙井"]


def test_encrypted_field_found_by_exact_value(shop: ShopRuntime) -> None:
    from tests.runtime.test_records import resident_id

    number = resident_id("11010519900505123")
    shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10, "supplier_id": number})
    shop.records.create(ACTOR, "product", {"name": "普洱", "price": 10})

    assert names(shop, ListQuery(where=Condition("supplier_id", "eq", number.lower()))) == ["龙井"]
    assert names(shop, ListQuery(search=number)) == ["龙井"]
    with pytest.raises(ValidationFailed):
        shop.records.list(ACTOR, "product", ListQuery(where=Condition("supplier_id", "contains", "1101")))
