"""Report page contents in the user's language: the table with totals, the pivot, and the data of the charts.

Every figure carries the drill-down address of its group (ui/web/reports_drilldown.py).
Charts are plain data for ui/static/reports.js, which draws them with ECharts.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from metamodel import model as m
from runtime.report_results import ReportGroup
from runtime.report_sql import ReachedField
from runtime.reports import ReportResult
from ui.web import i18n
from ui.web.reports_drilldown import drill_url

@dataclass(frozen=True)
class Cell:
    text: str
    url: str | None = None
    numeric: bool = False


@dataclass
class Table:
    headers: list[Cell]
    rows: list[list[Cell]]
    total: list[Cell]


@dataclass
class PivotTable:
    corner: str
    measure: str
    columns: list[Cell]
    rows: list[list[Cell]]
    total: list[Cell] = field(default_factory=list)


def dimension_label(dimension: m.Dimension, reached: ReachedField, lang: str) -> str:
    if dimension.label is not None:
        return i18n.label(dimension.label, lang)
    if reached.field is not None:
        return i18n.label(reached.field.label, lang)
    return reached.name


def dimension_text(reached: ReachedField, shown: Any, lang: str) -> str:
    """Return a dimension value as the user reads it; the empty group reads "(empty)"."""
    if shown is None:
        return i18n.pick(lang, "(empty)", "（空）")
    if isinstance(shown, m.Label):
        return i18n.label(shown, lang)
    if isinstance(shown, bool):
        return i18n.pick(lang, "Yes", "是") if shown else i18n.pick(lang, "No", "否")
    if isinstance(shown, datetime.datetime):
        return i18n.format_datetime(shown, lang)
    if isinstance(shown, datetime.date):
        return i18n.format_date(shown, lang)
    if isinstance(shown, Decimal) or (isinstance(shown, int) and reached.type in m.NUMERIC_TYPES):
        return i18n.format_number(shown, lang)
    return str(shown)


def measure_places(model: m.AppModel, report: m.Report, measure: m.Measure) -> int | None:
    """Return the digits after the point a measure shows; None for dates and for values shown as they are."""
    if measure.aggregate in ("count", "count_distinct"):
        return 0
    if measure.aggregate == "ratio":
        return 4
    spec = _field(model, report, measure.field)
    if spec is None or spec.type in ("date", "datetime"):
        return None
    if spec.type in m.DECIMAL_STORAGE:
        return m.decimal_places(spec)
    return 2 if measure.aggregate == "avg" else 0


def measure_text(model: m.AppModel, report: m.Report, measure: m.Measure, value: Any, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime.datetime):
        return i18n.format_datetime(value, lang)
    if isinstance(value, datetime.date):
        return i18n.format_date(value, lang)
    if isinstance(value, str):
        return value
    return i18n.format_number(value, lang, measure_places(model, report, measure))


def _field(model: m.AppModel, report: m.Report, name: str | None) -> m.Field | None:
    if name is None:
        return None
    entity = model.entities[report.source_entity]
    spec: m.Field | None = None
    for part in name.split("."):
        spec = entity.fields.get(part)
        if spec is not None and spec.type == "reference" and spec.entity is not None and part != name.rsplit(".", 1)[-1]:
            entity = model.entities[spec.entity]
    return spec


def report_table(model: m.AppModel, result: ReportResult, applied: list[tuple[str, str]], lang: str) -> Table:
    """Return the report's groups as a table: dimensions, then measures, each figure linked to its rows."""
    report = result.report
    headers = [Cell(dimension_label(dimension, reached, lang)) for dimension, reached in zip(report.dimensions, result.dimensions)]
    headers += [Cell(i18n.label(measure.label, lang), numeric=True) for measure in report.measures]
    rows = [_row_cells(model, result, group, applied, lang) for group in result.rows] if report.dimensions else []
    total = _row_cells(model, result, result.total, applied, lang)
    if report.dimensions:
        total[0] = Cell(i18n.pick(lang, "Total", "合计"))
    return Table(headers, rows, total)


def _row_cells(model: m.AppModel, result: ReportResult, group: ReportGroup, applied: list[tuple[str, str]], lang: str) -> list[Cell]:
    url = drill_url(result, group, applied)
    cells = [Cell(dimension_text(reached, shown, lang) if index in group.grouped else "")
             for index, (reached, shown) in enumerate(zip(result.dimensions, group.shown))]
    cells += [Cell(measure_text(model, result.report, measure, group.values.get(measure.name), lang), url, True)
              for measure in result.report.measures]
    return cells


def pivot_tables(model: m.AppModel, result: ReportResult, applied: list[tuple[str, str]], lang: str) -> list[PivotTable]:
    """Return one pivot table per measure: row values down, column values across, totals at the ends."""
    pivot = result.pivot
    if pivot is None:
        return []
    report = result.report
    down, across = pivot.row_dimension, pivot.column_dimension
    reached_down, reached_across = result.dimensions[down], result.dimensions[across]
    corner = f"{dimension_label(report.dimensions[down], reached_down, lang)} \\ {dimension_label(report.dimensions[across], reached_across, lang)}"
    tables = []
    for measure in report.measures:
        def figure(group: ReportGroup | None) -> Cell:
            if group is None:
                return Cell("—", None, True)
            text = measure_text(model, report, measure, group.values.get(measure.name), lang)
            return Cell(text, drill_url(result, group, applied), True)

        columns = [Cell(dimension_text(reached_across, group.shown[across], lang)) for group in pivot.columns]
        columns.append(Cell(i18n.pick(lang, "Total", "合计")))
        rows = []
        for row_group in pivot.rows:
            cells = [Cell(dimension_text(reached_down, row_group.shown[down], lang))]
            cells += [figure(pivot.cells.get((row_group.keys[down], column.keys[across]))) for column in pivot.columns]
            cells.append(figure(row_group))
            rows.append(cells)
        total = [Cell(i18n.pick(lang, "Total", "合计"))] + [figure(column) for column in pivot.columns] + [figure(result.total)]
        tables.append(PivotTable(corner, i18n.label(measure.label, lang), columns, rows, total))
    return tables


def chart_data(model: m.AppModel, result: ReportResult, applied: list[tuple[str, str]], lang: str) -> list[dict[str, Any]]:
    """Return each declared chart as data for reports.js: categories, series of numbers and each point's drill-down."""
    report = result.report
    names = [dimension.field for dimension in report.dimensions]
    measures = {measure.name: measure for measure in report.measures}
    charts = []
    for chart in report.charts:
        x = names.index(chart.x)
        others = [index for index in range(len(names)) if index != x]
        categories: dict[Any, str] = {}
        for group in result.rows:
            categories.setdefault(group.keys[x], dimension_text(result.dimensions[x], group.shown[x], lang))
        series = []
        for name in chart.y:
            measure = measures[name]
            if others and chart.type in ("bar", "line"):
                # With a second dimension, each of its values is a series of its own, stacked when asked.
                other = others[0]
                splits: dict[Any, list[ReportGroup]] = {}
                for group in result.rows:
                    splits.setdefault(group.keys[other], []).append(group)
                for groups in splits.values():
                    label = dimension_text(result.dimensions[other], groups[0].shown[other], lang)
                    series.append(_series(model, result, measure, f"{i18n.label(measure.label, lang)} · {label}",
                                          categories, {group.keys[x]: group for group in groups}, x, applied))
            else:
                series.append(_series(model, result, measure, i18n.label(measure.label, lang), categories,
                                      {group.keys[x]: group for group in result.rows}, x, applied))
        charts.append({"type": chart.type, "stacked": chart.stacked, "categories": list(categories.values()), "series": series,
                       "title": " / ".join(i18n.label(measures[name].label, lang) for name in chart.y)})
    return charts


def _series(model: m.AppModel, result: ReportResult, measure: m.Measure, name: str, categories: dict[Any, str],
            groups: dict[Any, ReportGroup], x: int, applied: list[tuple[str, str]]) -> dict[str, Any]:
    data: list[float | None] = []
    links: list[str | None] = []
    for key in categories:
        group = groups.get(key)
        value = group.values.get(measure.name) if group is not None else None
        data.append(float(value) if isinstance(value, (int, Decimal)) else None)
        links.append(drill_url(result, group, applied) if group is not None else None)
    return {"name": name, "data": data, "links": links}


def embedded_json(data: Any) -> str:
    """Return JSON safe to embed in a <script type="application/json"> element: no text can close the element."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
