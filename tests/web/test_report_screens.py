"""Report screens: every figure's drill-down list counts the same rows, in each data scope; export and refusals."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Callable

import pytest

from tests.runtime.report_support import SALES_APP, SCOPES, USERS, add_sales
from tests.web.conftest import WebApp

_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_FIGURE = re.compile(r'<td class="num">(?:<a href="([^"]*)">)?([^<]*)(?:</a>)?</td>')
_LIST_TOTAL = re.compile(r"共 ([\d,]+) 条")


@pytest.fixture
def sales_web(make_web_app: Callable[..., WebApp]) -> WebApp:
    web_app = make_web_app(SALES_APP)
    for user_id, (role, unit) in USERS.items():
        web_app.add_user(user_id, (role,) if role else (), unit)
    add_sales(web_app.runtime.records)
    return web_app


def first_figures(page: str) -> list[tuple[str | None, int]]:
    """Return the first count of each table row of a report page (its sale count) with its drill-down address."""
    figures = []
    for row in _ROW.findall(page):
        # A pivot leaves "—" where no row has both values; its tables of averages are skipped.
        found = next((cell for cell in _FIGURE.finditer(row) if cell.group(2) != "—"), None)
        if found is not None and "." not in found.group(2):
            url = html.unescape(found.group(1)) if found.group(1) else None
            figures.append((url, int(found.group(2).replace(",", ""))))
    return figures


def list_total(client: object, url: str) -> int:
    response = client.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200, url
    assert "以下筛选条件未生效" not in response.text, url
    found = _LIST_TOTAL.search(response.text)
    assert found is not None, url
    return int(found.group(1).replace(",", ""))


@pytest.mark.parametrize("user_id", sorted(SCOPES))
@pytest.mark.parametrize("address", [
    "/reports/sales_by_channel",
    "/reports/sales_by_month",
    "/reports/channel_by_quarter",
    "/reports/sales_by_day",
    "/reports/sales_by_channel?shop.city=上海&sold_on.from=2026-01-01",
    "/reports/sales_by_month?sold_at.from=2026-02-05&channel=store",
])
def test_drilldown_counts_match(sales_web: WebApp, user_id: str, address: str) -> None:
    client = sales_web.client(user_id)
    page = client.get(address)
    assert page.status_code == 200, page.text

    figures = first_figures(page.text)
    assert figures
    for url, count in figures:
        assert url is not None and url.startswith("/records/sale"), (address, count)
        assert list_total(client, url) == count, url


def test_drilldown_of_empty_and_joined_groups(sales_web: WebApp) -> None:
    client = sales_web.client("director")
    page = client.get("/reports/sales_by_city").text

    figures = first_figures(page)
    # 上海 and 成都 drill into their shops; the empty city mixes a shop without city with sales without shop.
    linked = [(url, count) for url, count in figures if url is not None]
    assert sorted(count for _, count in linked) == [1, 3, 6]
    assert any(url is None and count == 2 for url, count in figures)
    for url, count in linked:
        assert list_total(client, url) == count
    channel_page = client.get("/reports/sales_by_channel").text
    assert "channel.empty=1" in html.unescape(channel_page)
    assert "shop.empty" not in html.unescape(channel_page)


def test_report_page_shows_charts_and_totals(sales_web: WebApp) -> None:
    page = sales_web.client("director").get("/reports/sales_by_channel")

    assert page.status_code == 200
    assert '<script src="/static/vendor/echarts.min.js"' in page.text
    assert '<script src="/static/reports.js"' in page.text
    assert page.text.count('type="application/json"') == 2
    assert "合计" in page.text
    assert "线上" in page.text
    english = sales_web.client("director", lang="en").get("/reports/sales_by_channel").text
    assert "Total" in english
    assert "Online" in english


def test_pivot_page_lays_out_quarters(sales_web: WebApp) -> None:
    page = sales_web.client("director").get("/reports/channel_by_quarter").text

    assert "report-pivot" in page
    for quarter in ("2025-Q4", "2026-Q1", "2026-Q2"):
        assert quarter in page


def test_reports_index_and_menu(sales_web: WebApp) -> None:
    director = sales_web.client("director")
    index = director.get("/reports").text
    assert 'href="/reports/sales_by_channel"' in index
    assert 'href="/reports/sales_by_month"' in director.get("/").text

    stranger = sales_web.client("stranger")
    assert 'href="/reports/sales_by_channel"' not in stranger.get("/reports").text
    assert stranger.get("/reports/sales_by_channel").status_code == 403
    assert stranger.get("/reports/sales_by_channel/export.csv").status_code == 403
    assert director.get("/reports/no_such_report").status_code == 404


def test_hidden_field_report_rejected(sales_web: WebApp) -> None:
    page = sales_web.client("viewer").get("/reports/margin_by_channel")

    assert page.status_code == 403
    assert "用到字段“成本”" in page.text
    assert "隐藏" in page.text


def test_bad_filter_reported(sales_web: WebApp) -> None:
    page = sales_web.client("director").get("/reports/sales_by_channel?amount.min=abc&colour=red")

    assert page.status_code == 400
    assert "colour" in page.text


@pytest.mark.parametrize("user_id", sorted(SCOPES))
def test_csv_export_matches_report(sales_web: WebApp, user_id: str) -> None:
    client = sales_web.client(user_id)
    figures = first_figures(client.get("/reports/sales_by_channel").text)

    response = client.get("/reports/sales_by_channel/export.csv")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["渠道", "笔数"]
    assert [int(row[1]) for row in rows[1:]] == [count for _, count in figures]
    assert rows[-1][0] == "合计"


def test_export_audited_and_needs_action(sales_web: WebApp) -> None:
    viewer = sales_web.client("viewer")
    assert viewer.get("/reports/sales_by_channel/export.csv").status_code == 403
    assert "export.csv" not in viewer.get("/reports/sales_by_channel").text

    director = sales_web.client("director")
    response = director.get("/reports/sales_by_channel/export.xlsx?channel=online")
    assert response.status_code == 200
    assert response.content.startswith(b"PK")
    entries = sales_web.runtime.records.audit
    schema = sales_web.runtime.schema
    with sales_web.runtime.engine.connect() as connection:
        rows = connection.execute(schema.audit.select().where(schema.audit.c.action == "export")).mappings().all()
    assert entries is not None
    assert len(rows) == 1
    assert rows[0]["actor"] == "director"
    assert rows[0]["entity"] == "sale"
    assert director.get("/reports/sales_by_channel/export.pdf").status_code == 404


def test_masked_group_not_drillable(sales_web: WebApp) -> None:
    client = sales_web.client("director")
    page = client.get("/reports/sales_by_buyer_phone").text

    assert "13912345678" not in page
    assert "139****5678" in page
    figures = first_figures(page)
    assert (None, 1) in figures
    linked = [(url, count) for url, count in figures if url is not None]
    assert [count for _, count in linked] == [5, 6]
    for url, count in linked:
        assert list_total(client, url) == count
    exported = client.get("/reports/sales_by_buyer_phone/export.csv").content.decode("utf-8-sig")
    assert "13912345678" not in exported


def test_pivot_export_keeps_layout(sales_web: WebApp) -> None:
    exported = sales_web.client("director").get("/reports/channel_by_quarter/export.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))

    assert rows[0][:3] == ["渠道 \\ 季度", "2025-Q4 · 笔数", "2025-Q4 · 平均金额"]
    assert rows[0][-2:] == ["合计 · 笔数", "合计 · 平均金额"]
    assert [row[0] for row in rows[1:3]] == ["门店", "线上"]
    assert rows[-1][0] == "合计"
    assert rows[-1][-2] == "6"
    assert all(len(row) == len(rows[0]) for row in rows)
