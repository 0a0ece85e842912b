"""The report screens: the reports a user may run, one report with its filters, table, pivot and charts, and its export.

GET /reports lists the reports whose source entity the user may read. GET /reports/{name}
runs one with the filters of its address (ui/web/reports_filters.py) and shows every
figure as a link to the list of its rows. GET /reports/{name}/export.csv and export.xlsx
write the same table, totals last, to a file; they need the export action on the source
entity, and the export is in the audit log.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Iterator, Sequence
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.errors import PermissionDenied, ValidationFailed
from runtime.report_results import ReportGroup
from runtime.reports import ReportRejected, ReportResult, ReportRunner
from runtime.spreadsheets import csv_chunks, xlsx_chunks
from ui.web import i18n
from ui.web.lists_support import forbidden
from ui.web.rendering import render
from ui.web.reports_filters import filter_controls, read_filters
from ui.web.reports_view import chart_data, dimension_label, dimension_text, embedded_json, pivot_tables, report_table
from ui.web.state import actor_of, lang_of, web

logger = logging.getLogger(__name__)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def report_url(name: str) -> str:
    return f"/reports/{name}"


def _report(request: Request) -> m.Report:
    """Return the report named in the path; 404 when there is none, 403 when the user may not read its source."""
    state = web(request)
    lang = lang_of(request)
    name = request.path_params["name"]
    report: m.Report | None = state.model.reports.get(name)
    if report is None:
        raise HTTPException(404, i18n.pick(lang, f"There is no report named {name}.", f"不存在名为 {name} 的报表。"))
    if not state.records.access.allows(actor_of(request), "read", report.source_entity):
        raise forbidden(state.model.entities[report.source_entity], "read", lang)
    return report


def reports_index(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    reports = ReportRunner(state.records).available(actor_of(request))
    items = [{"url": report_url(report.name), "label": i18n.label(report.label, lang),
              "source": i18n.label(state.model.entities[report.source_entity].label, lang)} for report in reports]
    return render(request, "reports_index.html", {"title": i18n.pick(lang, "Reports", "报表"), "reports": items})


def report_page(request: Request) -> Response:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    report = _report(request)
    filters = read_filters(state.model, report, request.query_params, lang)
    problems = list(filters.problems)
    result: ReportResult | None = None
    status = 400
    try:
        result = ReportRunner(state.records).run(actor, report.name, filters.conditions)
        status = 200
    except ReportRejected as rejected:
        logger.info("report %s rejected for %s: %s", report.name, actor.id, rejected.message_en)
        problems.append(rejected.message(lang))
        status = 403
    except ValidationFailed as failed:
        problems.extend(error.message(lang) for errors in failed.errors.values() for error in errors)

    context: dict[str, Any] = {
        "title": i18n.label(report.label, lang),
        "report": report,
        "controls": filter_controls(state.records, actor, report, filters.applied, lang),
        "problems": problems,
        "result": result,
        "query": request.url.query,
        "can_export": state.records.access.allows(actor, "export", report.source_entity),
    }
    if result is not None:
        context["table"] = report_table(state.model, result, filters.applied, lang)
        context["pivots"] = pivot_tables(state.model, result, filters.applied, lang)
        charts = chart_data(state.model, result, filters.applied, lang)
        context["charts"] = [(index, embedded_json(chart)) for index, chart in enumerate(charts)]
    return render(request, "report.html", context, status=status)


def export_rows(result: ReportResult, lang: str) -> tuple[list[str], list[list[Any]]]:
    """Return the header and rows of a report's file: dimensions as text, measures as numbers, the totals last.

    A pivot report is written as on screen: row values down, a column per value across (and per
    measure when there are several), the totals at the ends.
    """
    if result.pivot is not None:
        return pivot_rows(result, lang)
    report = result.report
    headers = [dimension_label(dimension, reached, lang) for dimension, reached in zip(report.dimensions, result.dimensions)]
    headers += [i18n.label(measure.label, lang) for measure in report.measures]
    groups = result.rows if report.dimensions else []
    rows: list[list[Any]] = []
    for group in [*groups, result.total]:
        cells: list[Any] = [dimension_text(reached, shown, lang) if index in group.grouped else ""
                            for index, (reached, shown) in enumerate(zip(result.dimensions, group.shown))]
        cells += [group.values.get(measure.name) for measure in report.measures]
        rows.append(cells)
    if report.dimensions:
        rows[-1][0] = i18n.pick(lang, "Total", "合计")
    return headers, rows


def pivot_rows(result: ReportResult, lang: str) -> tuple[list[str], list[list[Any]]]:
    """Return the header and rows of a pivot report's file, one row per value down."""
    pivot = result.pivot
    assert pivot is not None
    report = result.report
    down, across = pivot.row_dimension, pivot.column_dimension
    reached_down, reached_across = result.dimensions[down], result.dimensions[across]
    measures = report.measures
    total = i18n.pick(lang, "Total", "合计")

    def heading(column: str, measure: m.Measure) -> str:
        return column if len(measures) == 1 else f"{column} · {i18n.label(measure.label, lang)}"

    columns = [dimension_text(reached_across, group.shown[across], lang) for group in pivot.columns] + [total]
    corner = f"{dimension_label(report.dimensions[down], reached_down, lang)} \\ {dimension_label(report.dimensions[across], reached_across, lang)}"
    headers = [corner] + [heading(column, measure) for column in columns for measure in measures]

    def figures(groups: list[ReportGroup | None]) -> list[Any]:
        return [group.values.get(measure.name) if group is not None else None for group in groups for measure in measures]

    rows: list[list[Any]] = []
    for row_group in pivot.rows:
        cells = [pivot.cells.get((row_group.keys[down], column.keys[across])) for column in pivot.columns]
        rows.append([dimension_text(reached_down, row_group.shown[down], lang), *figures([*cells, row_group])])
    rows.append([total, *figures([*pivot.columns, result.total])])
    return headers, rows


def report_export(request: Request) -> Response:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    report = _report(request)
    file_format = request.path_params["format"]
    if file_format not in MEDIA_TYPES:
        raise HTTPException(404, i18n.pick(lang, "Reports export to .csv or .xlsx files.", "报表可导出为 .csv 或 .xlsx 文件。"))
    filters = read_filters(state.model, report, request.query_params, lang)
    if filters.problems:
        raise HTTPException(400, " ".join(filters.problems))
    try:
        result, _ = ReportRunner(state.records).export(actor, report.name, filters.conditions, details={"format": file_format})
    except PermissionDenied as denied:
        raise forbidden(state.model.entities[report.source_entity], denied.action, lang) from None
    except ReportRejected as rejected:
        raise HTTPException(403, rejected.message(lang)) from None
    except ValidationFailed as failed:
        raise HTTPException(400, failed.message(lang)) from None

    headers, rows = export_rows(result, lang)
    chunks: Iterator[bytes]
    if file_format == "csv":
        chunks = csv_chunks(headers, rows)
    else:
        chunks = xlsx_chunks(i18n.label(report.label, lang), headers, rows)
    name = f"{i18n.label(report.label, lang)}-{datetime.date.today().isoformat()}.{file_format}"
    disposition = f"attachment; filename=\"{report.name}.{file_format}\"; filename*=UTF-8''{quote(name)}"
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[file_format], headers={"Content-Disposition": disposition})


def routes() -> Sequence[BaseRoute]:
    return [
        Route("/reports", reports_index, methods=["GET"]),
        Route("/reports/{name}", report_page, methods=["GET"]),
        Route("/reports/{name}/export.{format:str}", report_export, methods=["GET"]),
    ]
