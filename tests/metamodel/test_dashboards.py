"""Dashboard documents: built into the model, and cross-checked against reports, roles and charts."""

from __future__ import annotations

from typing import Callable

from metamodel import CheckResult

ROLES = "roles:\n  - {name: clerk, label: {zh-CN: 文员, en: Clerk}}\n"
REPORT = (
    "name: sales\nlabel: {zh-CN: 销售, en: Sales}\nsource: item\ndimensions:\n  - field: title\nmeasures:\n"
    "  - {name: count, label: {zh-CN: 数量, en: Count}, aggregate: count}\n"
    "charts:\n  - {type: bar, x: title, y: [count]}\n"
)
DASHBOARD = (
    "name: overview\nlabel: {zh-CN: 概览, en: Overview}\nroles: [clerk]\nwidgets:\n"
    "  - {report: sales, width: 8}\n"
    "  - {report: sales, show: table, label: {zh-CN: 明细, en: Details}}\n"
)

CheckFiles = Callable[..., CheckResult]


def check_dashboard(check: CheckFiles, dashboard: str) -> CheckResult:
    return check({"permissions/access.yaml": ROLES, "reports/sales.yaml": REPORT, "dashboards/overview.yaml": dashboard})


def test_dashboard_built(check: CheckFiles) -> None:
    result = check_dashboard(check, DASHBOARD)

    assert result.errors == []
    assert result.model is not None
    dashboard = result.model.dashboards["overview"]
    assert dashboard.roles == ("clerk",)
    assert [(widget.report, widget.show, widget.chart, widget.width) for widget in dashboard.widgets] == [
        ("sales", "chart", 0, 8), ("sales", "table", 0, 6)]
    assert dashboard.widgets[1].label is not None
    assert dashboard.widgets[1].label.en == "Details"


def test_chart_beyond_report_charts(check: CheckFiles) -> None:
    result = check_dashboard(check, DASHBOARD.replace("{report: sales, width: 8}", "{report: sales, chart: 2}"))

    assert [item.code for item in result.errors] == ["dashboard.E001"]
    error = result.errors[0]
    assert error.file.endswith("dashboards/overview.yaml")
    assert (error.line, error.column) == (5, 28)
    assert error.message("en") == "widgets[0].chart shows chart number 3 of the report sales, which declares 1 chart(s)"
    assert error.hint("en")
    assert error.message("zh-CN") != error.message("en")


def test_chart_of_report_without_charts(check: CheckFiles) -> None:
    result = check({"permissions/access.yaml": ROLES, "reports/sales.yaml": REPORT.split("charts:")[0],
                    "dashboards/overview.yaml": DASHBOARD})

    assert [item.code for item in result.errors] == ["dashboard.E001"]
    assert result.errors[0].path == ("widgets", 0, "report")


def test_unknown_report_and_role(check: CheckFiles) -> None:
    result = check_dashboard(check, DASHBOARD.replace("roles: [clerk]", "roles: [clerc]").replace("{report: sales, width", "{report: sale, width"))

    assert sorted(item.code for item in result.errors) == ["ref.E003", "ref.E005"]
    by_code = {item.code: item for item in result.errors}
    assert by_code["ref.E003"].path == ("roles", 0)
    assert "clerk" in by_code["ref.E003"].hint("en")
    assert by_code["ref.E005"].path == ("widgets", 0, "report")
    assert 'Did you mean "sales"' in by_code["ref.E005"].hint("en")


def test_widget_width_limited(check: CheckFiles) -> None:
    result = check_dashboard(check, DASHBOARD.replace("width: 8", "width: 13"))

    assert [item.code for item in result.errors] == ["schema.E007"]
