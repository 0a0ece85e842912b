"""Dashboards on the home page: the widgets of the user's roles, each run in the user's own data scope."""

from __future__ import annotations

import re
from typing import Callable

import pytest

from tests.runtime.report_support import SCOPES
from tests.web.conftest import WebApp
from tests.web.test_report_screens import first_figures, list_total, sales_web

__all__ = ["sales_web"]

_TOTAL_ROW = re.compile(r'<tr class="report-total">(.*?)</tr>', re.S)


@pytest.mark.parametrize("user_id", sorted(SCOPES))
def test_dashboard_widgets_in_user_scope(sales_web: WebApp, user_id: str) -> None:
    client = sales_web.client(user_id)
    home = client.get("/")

    assert home.status_code == 200
    assert "销售概览" in home.text
    assert "各渠道明细" in home.text
    assert home.text.count('type="application/json"') == 2
    assert '<script src="/static/vendor/echarts.min.js"' in home.text
    total = _TOTAL_ROW.search(home.text)
    assert total is not None
    figures = first_figures(total.group(0))
    assert [count for _, count in figures] == [len(SCOPES[user_id])]
    url = figures[0][0]
    assert url is not None
    assert list_total(client, url) == len(SCOPES[user_id])


def test_dashboard_widget_explains_rejection(sales_web: WebApp) -> None:
    home = sales_web.client("viewer").get("/").text

    assert "成本概览" in home
    assert "销售概览" not in home
    assert "用到字段“成本”" in home
    assert "隐藏" in home
    # The viewer may not read shops either, so the city chart explains that instead of drawing.
    assert home.count('type="application/json"') == 0
    assert home.count('<p class="empty">') == 2


def test_no_dashboard_without_role(sales_web: WebApp) -> None:
    home = sales_web.client("stranger").get("/")

    assert home.status_code == 200
    assert "dashboard-widget" not in home.text
    assert "echarts" not in home.text


@pytest.mark.parametrize(("role", "unit", "dashboard"), [
    ("dealer_staff", "dealer_bj_yizhuang", "经销商业务看板"),
    ("dealer_manager", "dealer_bj_yizhuang", "经销商业务看板"),
    ("head_office_viewer", "head_office", "总部业务看板"),
])
def test_guarantee_dashboards_render(make_web_app: Callable[..., WebApp], role: str, unit: str, dashboard: str) -> None:
    web_app = make_web_app()
    web_app.add_user("someone", (role,), unit)
    client = web_app.client("someone")

    home = client.get("/")
    assert home.status_code == 200
    assert dashboard in home.text
    pivot = client.get("/reports/applications_by_product")
    assert pivot.status_code == 200
    assert "report-pivot" in pivot.text
