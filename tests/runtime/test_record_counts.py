"""List totals: bounded and exact counts, checking a query without running it, and day bounds on moments."""

from __future__ import annotations

import datetime

import pytest

from runtime.access import SystemAccess
from runtime.errors import ValidationFailed
from runtime.record_query import Condition, ListQuery
from runtime.records import RecordService
from tests.runtime.conftest import ACTOR, SHOP_APP, ShopRuntime

PRICES = [10, 20, 30, 40, 50]


@pytest.fixture
def stocked(shop: ShopRuntime) -> ShopRuntime:
    for price in PRICES:
        shop.records.create(ACTOR, "product", {"name": f"茶{price}", "price": price})
    return shop


def test_bounded_count_stops_at_limit(stocked: ShopRuntime) -> None:
    page = stocked.records.list(ACTOR, "product", ListQuery(limit=2, with_total=True, count_limit=3))

    assert page.total == 3
    assert page.total_exact is False
    assert len(page.rows) == 2


def test_bounded_count_exact_below_limit(stocked: ShopRuntime) -> None:
    for count_limit in (5, 6, 10_000):
        page = stocked.records.list(ACTOR, "product", ListQuery(limit=2, with_total=True, count_limit=count_limit))
        assert page.total == 5, count_limit
        assert page.total_exact is True, count_limit


def test_bounded_count_applies_filters(stocked: ShopRuntime) -> None:
    query = ListQuery(where=Condition("price", "ge", 30), with_total=True, count_limit=2)
    page = stocked.records.list(ACTOR, "product", query)

    assert (page.total, page.total_exact) == (2, False)
    assert stocked.records.count(ACTOR, "product", query) == 3


def test_total_without_limit_unchanged(stocked: ShopRuntime) -> None:
    page = stocked.records.list(ACTOR, "product", ListQuery(limit=1, with_total=True))
    assert page.total == 5
    assert page.total_exact is True

    no_total = stocked.records.list(ACTOR, "product", ListQuery(limit=1, count_limit=3))
    assert no_total.total is None


def test_count_ignores_page_and_cursor(stocked: ShopRuntime) -> None:
    first = stocked.records.list(ACTOR, "product", ListQuery(limit=2))
    assert first.next_cursor is not None

    assert stocked.records.count(ACTOR, "product", ListQuery(limit=2, after=first.next_cursor, count_limit=1)) == 5
    assert stocked.records.count(ACTOR, "product", ListQuery(search="茶10")) == 1


def test_count_rejects_bad_filter(stocked: ShopRuntime) -> None:
    with pytest.raises(ValidationFailed) as raised:
        stocked.records.count(ACTOR, "product", ListQuery(where=Condition("price", "ge", "cheap")))
    assert list(raised.value.errors) == ["where.price"]


def test_query_problems_without_running(stocked: ShopRuntime) -> None:
    problems = stocked.records.query_problems(
        ACTOR, "product", ListQuery(where=Condition("price", "ge", "abc"), sort=("colour",), after="nonsense")
    )

    assert set(problems) == {"where.price", "sort.colour", "after"}
    assert problems["where.price"][0].message_en.startswith("This is not a number")
    assert stocked.records.query_problems(ACTOR, "product", ListQuery(where=Condition("price", "ge", "25"))) == {}


def test_created_at_filters_by_day(stocked: ShopRuntime) -> None:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    tomorrow = today + datetime.timedelta(days=1)

    def matching(condition: Condition) -> int:
        return stocked.records.count(ACTOR, "product", ListQuery(where=condition))

    assert matching(Condition("created_at", "ge", today.isoformat())) == 5
    assert matching(Condition("created_at", "lt", tomorrow.isoformat())) == 5
    assert matching(Condition("created_at", "ge", tomorrow.isoformat())) == 0
    assert matching(Condition("created_at", "ge", f"{today.isoformat()} 00:00")) == 5
    with pytest.raises(ValidationFailed) as raised:
        matching(Condition("created_at", "ge", "yesterday"))
    assert raised.value.errors["where.created_at"][0].code == "type.datetime"


def test_day_bounds_use_app_timezone(shop: ShopRuntime) -> None:
    app_yaml = SHOP_APP["app.yaml"].rstrip(" ") + "        settings: {timezone: Asia/Shanghai}\n"
    shop.reload({"app.yaml": app_yaml})
    # 17:00 UTC on 1 January is already 01:00 on 2 January in Shanghai.
    moment = datetime.datetime(2026, 1, 1, 17, 0, tzinfo=datetime.timezone.utc)
    records = RecordService(shop.model, shop.schema, shop.engine, access=SystemAccess(), keys=shop.keys, clock=lambda: moment)
    records.create(ACTOR, "product", {"name": "龙井", "price": 30})

    assert records.count(ACTOR, "product", ListQuery(where=Condition("created_at", "ge", "2026-01-02"))) == 1
    assert records.count(ACTOR, "product", ListQuery(where=Condition("created_at", "lt", "2026-01-02"))) == 0
    assert records.count(ACTOR, "product", ListQuery(where=Condition("created_at", "ge", "2026-01-02T01:30"))) == 0


def test_datetime_field_filters_by_day(shop: ShopRuntime) -> None:
    product = SHOP_APP["entities/product.yaml"].replace(
        "          - {name: released_on,",
        "          - {name: audited_at, type: datetime, label: {zh-CN: 审核时间, en: Audited at}}\n          - {name: released_on,",
    )
    shop.reload({"entities/product.yaml": product})
    shop.records.create(ACTOR, "product", {"name": "龙井", "price": 30, "audited_at": "2026-03-05T10:00:00+00:00"})
    shop.records.create(ACTOR, "product", {"name": "普洱", "price": 30})

    def matching(condition: Condition) -> int:
        return shop.records.count(ACTOR, "product", ListQuery(where=condition))

    assert matching(Condition("audited_at", "ge", "2026-03-05")) == 1
    assert matching(Condition("audited_at", "lt", "2026-03-05")) == 0
    assert matching(Condition("audited_at", "lt", "2026-03-06")) == 1
    assert matching(Condition("audited_at", "empty")) == 1


def test_bound_outside_field_range_filters(stocked: ShopRuntime) -> None:
    # price has min: 0, yet a filter bound below it is a valid question with an answer.
    assert stocked.records.count(ACTOR, "product", ListQuery(where=Condition("price", "ge", -5))) == 5
    assert stocked.records.count(ACTOR, "product", ListQuery(where=Condition("price", "lt", -5))) == 0


def test_reference_and_id_filters_take_text(shop: ShopRuntime) -> None:
    tea = shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶叶"})["id"]
    product = shop.records.create(ACTOR, "product", {"name": "龙井", "price": 30, "category": tea})["id"]
    shop.records.create(ACTOR, "product", {"name": "普洱", "price": 30})

    def matching(condition: Condition) -> int:
        return shop.records.count(ACTOR, "product", ListQuery(where=condition))

    # Addresses carry numbers as text; PostgreSQL does not compare an integer column with text.
    assert matching(Condition("category", "eq", str(tea))) == 1
    assert matching(Condition("category", "in", [str(tea), "999"])) == 1
    assert matching(Condition("id", "in", [str(product)])) == 1
    problems = shop.records.query_problems(ACTOR, "product", ListQuery(where=Condition("id", "eq", "first")))
    assert problems["where.id"][0].code == "type.integer"
