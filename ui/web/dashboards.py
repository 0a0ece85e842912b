"""Dashboards on the home page: the report widgets of the dashboards declared for the user's roles.

Each widget runs its report with no filters under the viewing user's own data scope, as the
report page would. It shows one of the report's charts or its table with totals, and figures
and chart points link to the list of their rows. A widget whose report the user may not run
says why instead of failing the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import PermissionDenied
from runtime.reports import ReportRejected, ReportRunner
from runtime.simulated_access import inherited_roles
from ui.web import i18n
from ui.web.reports_view import Table, chart_data, embedded_json, report_table
from ui.web.state import actor_of, lang_of, web


@dataclass
class WidgetView:
    title: str
    url: str
    width: int
    #: The chart's data as embedded JSON, for a chart widget.
    chart_json: str | None = None
    table: Table | None = None
    #: Why the report could not run for this user, instead of a chart or table.
    problem: str | None = None


@dataclass
class DashboardView:
    name: str
    label: str
    widgets: list[WidgetView]


def held_roles(model: m.AppModel, actor: Actor) -> set[str]:
    """Return the actor's roles with every role they inherit."""
    return {inherited for role in actor.roles for inherited in inherited_roles(model, role)}


def dashboards_for(model: m.AppModel, actor: Actor) -> list[m.Dashboard]:
    roles = held_roles(model, actor)
    return [dashboard for dashboard in model.dashboards.values() if roles & set(dashboard.roles)]


def dashboard_views(request: Request) -> list[DashboardView]:
    """Return the dashboards of the signed-in user, each widget run as that user."""
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    runner = ReportRunner(state.records)
    views = []
    for dashboard in dashboards_for(state.model, actor):
        widgets = []
        for widget in dashboard.widgets:
            view = _widget(state.model, runner, actor, widget, lang)
            if view is not None:
                widgets.append(view)
        if widgets:
            views.append(DashboardView(dashboard.name, i18n.label(dashboard.label, lang), widgets))
    return views


def _widget(model: m.AppModel, runner: ReportRunner, actor: Actor, widget: m.Widget, lang: str) -> WidgetView | None:
    """Run one widget's report; None when the user may not read its source entity, so the widget is left out."""
    report = model.reports[widget.report]
    title = i18n.label(widget.label or report.label, lang)
    view = WidgetView(title, f"/reports/{report.name}", widget.width)
    try:
        result = runner.run(actor, report.name)
    except PermissionDenied:
        return None
    except ReportRejected as rejected:
        view.problem = rejected.message(lang)
        return view
    if widget.show == "chart" and widget.chart < len(report.charts):
        data: dict[str, Any] = chart_data(model, result, [], lang)[widget.chart]
        view.chart_json = embedded_json(data)
    else:
        view.table = report_table(model, result, [], lang)
    return view
