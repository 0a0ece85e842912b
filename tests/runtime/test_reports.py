"""Reports run as one aggregation inside the user's data scope: groups, totals, buckets, ratios and pivots."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from runtime.errors import PermissionDenied, ValidationFailed
from runtime.record_query import Condition
from runtime.reports import ReportRejected
from tests.runtime.report_support import SALES, SCOPES, SalesRuntime, expected_by_channel, open_sales


@pytest.fixture
def sales(engine: Engine, tmp_path: Path) -> SalesRuntime:
    return open_sales(engine, tmp_path)


@pytest.mark.parametrize("user_id", sorted(SCOPES))
def test_channel_figures_per_scope(sales: SalesRuntime, user_id: str) -> None:
    result = sales.runner.run(sales.actor(user_id), "sales_by_channel")
    expected = expected_by_channel(SCOPES[user_id])

    by_channel = {group.keys[0]: group.values for group in result.rows}
    assert set(by_channel) == set(expected) - {"(total)"}
    for channel, values in by_channel.items():
        assert values == expected[channel], channel
    assert result.total.values == expected["(total)"]


def test_totals_not_sums_of_groups(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "sales_by_channel")

    # Shop A sells online and without a channel: counted once in the total, once in each group.
    assert result.total.values["shop_count"] == 4
    assert sum(group.values["shop_count"] for group in result.rows) == 5
    assert result.total.values["average_amount"] == Decimal("130.08")
    assert result.total.values["amount_per_item"] == Decimal("780.50") / 7


def test_groups_sorted_with_empty_last(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "sales_by_channel")

    assert [group.keys[0] for group in result.rows] == ["online", "store", None]
    assert [str(group.shown[0].en) if group.shown[0] else None for group in result.rows] == ["Online", "Store", None]


def test_ratio_of_zero_is_empty(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "sales_by_channel", [Condition("amount", "le", "0.01")])

    assert len(result.rows) == 1
    assert result.rows[0].values["total_quantity"] == 0
    assert result.rows[0].values["amount_per_item"] is None


def test_month_buckets_in_app_time_zone(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "sales_by_month")

    counts = {group.keys[0]: group.values["sale_count"] for group in result.rows}
    # 2026-01-31 17:30 UTC is 1 February in Shanghai; 2025-12-31 16:30 UTC is 1 January.
    assert counts == {"2026-01": 1, "2026-02": 2, "2026-04": 1, None: 2}
    assert [group.keys[0] for group in result.rows] == ["2026-01", "2026-02", "2026-04", None]


def test_day_week_year_buckets(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "sales_by_day")

    keys = sorted((group.keys for group in result.rows), key=str)
    assert ("2026-02-01", "2026-01-12", "2026", ) in keys
    assert ("2026-04-01", "2026-03-30", "2026") in keys
    assert ("2026-01-01", "2025-12-29", "2025") in keys
    assert (None, "2026-05-18", "2026") in keys
    assert result.total.values["sale_count"] == len(SALES)


def test_pivot_cells_and_margins(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "channel_by_quarter")
    pivot = result.pivot

    assert pivot is not None
    # Choices in their declared order (store before online), not alphabetical.
    assert [group.keys[0] for group in pivot.rows] == ["store", "online", None]
    assert [group.keys[1] for group in pivot.columns] == ["2025-Q4", "2026-Q1", "2026-Q2", None]
    assert pivot.cells[("online", "2026-Q1")].values == {"sale_count": 1, "average_amount": Decimal("100.00")}
    assert pivot.cells[("store", "2026-Q2")].values["sale_count"] == 1
    online = next(group for group in pivot.rows if group.keys[0] == "online")
    assert online.values["average_amount"] == Decimal("150.00")  # 449.99 / 3, rounded half up
    first_quarter = next(group for group in pivot.columns if group.keys[1] == "2026-Q1")
    assert first_quarter.values["average_amount"] == Decimal("175.25")
    assert result.total.values["sale_count"] == 6


def test_joined_dimension_and_filter(sales: SalesRuntime) -> None:
    director = sales.actor("director")
    result = sales.runner.run(director, "sales_by_city")

    counts = {group.keys[0]: group.values["sale_count"] for group in result.rows}
    assert counts == {"上海": 3, "成都": 1, None: 2}
    shanghai = next(group for group in result.rows if group.keys[0] == "上海")
    assert shanghai.references["shop"] == (tuple(sorted((sales.shop_ids["A"], sales.shop_ids["B"]))), False)
    empty = next(group for group in result.rows if group.keys[0] is None)
    assert empty.references["shop"] == ((sales.shop_ids["D"],), True)

    filtered = sales.runner.run(director, "sales_by_channel", [Condition("shop.city", "eq", "上海")])
    assert filtered.total.values["sale_count"] == 3
    assert filtered.total.references["shop"][0] == tuple(sorted((sales.shop_ids["A"], sales.shop_ids["B"])))


def test_reference_dimension_titled(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "sales_by_channel", [Condition("shop", "eq", sales.shop_ids["C"])])

    assert result.total.values["sale_count"] == 1
    assert result.rows[0].keys[0] == "online"


def test_hidden_field_rejected(sales: SalesRuntime) -> None:
    viewer = sales.actor("viewer")
    with pytest.raises(ReportRejected) as rejected:
        sales.runner.run(viewer, "margin_by_channel")

    assert rejected.value.message("en") == ("The report “Cost by channel” uses the field “Cost”, which is hidden from you; "
                                            "ask an administrator for access.")
    assert rejected.value.message("zh-CN") == "报表“各渠道成本”用到字段“成本”，该字段对您隐藏；请联系管理员开通。"
    assert sales.runner.run(sales.actor("director"), "margin_by_channel").total.values["total_cost"] == Decimal("160.00")
    assert sales.runner.run(viewer, "sales_by_channel").total.values["sale_count"] == 6


def test_unreadable_source_denied(sales: SalesRuntime) -> None:
    stranger = sales.actor("stranger")
    with pytest.raises(PermissionDenied):
        sales.runner.run(stranger, "sales_by_channel")

    assert sales.runner.available(stranger) == []
    assert {report.name for report in sales.runner.available(sales.actor("clerk1"))} == set(sales.model.reports)


def test_unknown_and_bad_filters_rejected(sales: SalesRuntime) -> None:
    director = sales.actor("director")
    with pytest.raises(ValidationFailed) as failed:
        sales.runner.run(director, "sales_by_channel", [Condition("buyer", "eq", "x"), Condition("amount", "ge", "abc")])

    assert set(failed.value.errors) == {"filters.buyer", "filters.amount"}


def test_export_needs_export_action(sales: SalesRuntime) -> None:
    with pytest.raises(PermissionDenied):
        sales.runner.export(sales.actor("viewer"), "sales_by_channel")

    result, audit_id = sales.runner.export(sales.actor("clerk1"), "sales_by_channel", [Condition("channel", "eq", "online")],
                                           details={"format": "csv"})
    assert audit_id > 0
    assert result.total.values["sale_count"] == 1


def test_masked_field_stays_masked(sales: SalesRuntime) -> None:
    result = sales.runner.run(sales.actor("director"), "sales_by_buyer_phone")

    phone = next(group for group in result.rows if group.keys[0] is not None)
    assert phone.masked is True
    assert phone.shown[0] != "13912345678"
    assert "****" in phone.shown[0]
    assert phone.values["latest_phone"] != "13912345678"
    assert "****" in phone.values["latest_phone"]
    assert result.total.values["latest_phone"] != "13912345678"
    empty = next(group for group in result.rows if group.keys[0] is None)
    assert empty.masked is False
    assert empty.values["sale_count"] == 5
