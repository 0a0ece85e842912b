"""Catalog rows from YAML: created, updated, retired when used, purged when not, restored when back."""

from __future__ import annotations

import pytest

from runtime.catalogs import sync_catalogs
from runtime.errors import ValidationFailed
from runtime.record_query import Condition, ListQuery
from tests.runtime.conftest import ACTOR, ShopRuntime

CATEGORIES = """
    name: categories
    entity: category
    key: code
    rows:
      - {code: TEA, name: 茶叶}
      - {code: CUP, name: 杯具}
"""


def codes(shop: ShopRuntime, deleted: bool = False) -> dict[str, str]:
    rows = shop.records.list(ACTOR, "category", ListQuery(deleted=deleted, sort=("code",))).rows
    return {row["code"]: row["name"] for row in rows}


def test_rows_created_once(shop: ShopRuntime) -> None:
    shop.reload({"catalogs/categories.yaml": CATEGORIES})

    first = sync_catalogs(shop.records)
    second = sync_catalogs(shop.records)

    assert first.created == ["categories:TEA", "categories:CUP"]
    assert not second.changed
    assert codes(shop) == {"CUP": "杯具", "TEA": "茶叶"}


def test_changed_row_updated(shop: ShopRuntime) -> None:
    shop.reload({"catalogs/categories.yaml": CATEGORIES})
    sync_catalogs(shop.records)

    shop.reload({"catalogs/categories.yaml": CATEGORIES.replace("杯具", "茶具")})
    report = sync_catalogs(shop.records)

    assert report.updated == ["categories:CUP"]
    assert codes(shop)["CUP"] == "茶具"


def test_removed_rows_purged_or_retired(shop: ShopRuntime) -> None:
    shop.reload({"catalogs/categories.yaml": CATEGORIES})
    sync_catalogs(shop.records)
    tea = shop.records.list(ACTOR, "category", ListQuery(where=Condition("code", "eq", "TEA"))).rows[0]
    shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10, "category": tea["id"]})

    shop.reload({"catalogs/categories.yaml": "name: categories\nentity: category\nkey: code\nrows:\n  - {code: BOX, name: 礼盒}\n"})
    report = sync_catalogs(shop.records)

    assert report.purged == ["categories:CUP"]
    assert report.retired == ["categories:TEA"]
    assert codes(shop) == {"BOX": "礼盒"}
    assert codes(shop, deleted=True) == {"TEA": "茶叶"}
    with pytest.raises(ValidationFailed):
        shop.records.create(ACTOR, "product", {"name": "碧螺春", "price": 10, "category": tea["id"]})
    assert not sync_catalogs(shop.records).changed


def test_returning_row_restored(shop: ShopRuntime) -> None:
    shop.reload({"catalogs/categories.yaml": CATEGORIES})
    sync_catalogs(shop.records)
    tea = shop.records.list(ACTOR, "category", ListQuery(where=Condition("code", "eq", "TEA"))).rows[0]
    shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10, "category": tea["id"]})
    shop.reload({"catalogs/categories.yaml": "name: categories\nentity: category\nkey: code\nrows:\n  - {code: CUP, name: 杯具}\n"})
    sync_catalogs(shop.records)

    shop.reload({"catalogs/categories.yaml": CATEGORIES})
    report = sync_catalogs(shop.records)

    assert report.restored == ["categories:TEA"]
    assert codes(shop) == {"CUP": "杯具", "TEA": "茶叶"}


def test_reference_keys_resolved(shop: ShopRuntime) -> None:
    products = """
        name: products
        entity: product
        key: sku
        rows:
          - {sku: LJ, name: 龙井, price: 30, category: TEA, related: [CUP]}
    """
    shop.reload({"catalogs/categories.yaml": CATEGORIES, "catalogs/products.yaml": products})

    sync_catalogs(shop.records)

    product = shop.records.list(ACTOR, "product").rows[0]
    categories = {row["code"]: row["id"] for row in shop.records.list(ACTOR, "category").rows}
    assert product["category"] == categories["TEA"]
    assert shop.records.get(ACTOR, "product", product["id"])["related"] == [categories["CUP"]]
    assert not sync_catalogs(shop.records).changed


def test_existing_record_with_key_adopted(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "旧名"})
    shop.reload({"catalogs/categories.yaml": CATEGORIES})

    report = sync_catalogs(shop.records)

    assert report.created == ["categories:CUP"]
    assert report.updated == ["categories:TEA"]
    assert codes(shop) == {"CUP": "杯具", "TEA": "茶叶"}
