"""Export of a list to CSV or Excel: every matching record, streamed, or written by a background job when there are many.

GET /records/{entity}/export.csv and /export.xlsx read the list address as the list screen
does. Up to Settings.export_job_rows matching records are streamed at once. More are written
by a background job (runtime/export_jobs.py), and the user is sent to the page of their
exports (ui/web/export_pages.py), which shows its progress and a download link when done.

Either way the rows come from the runtime's exports as the acting user. The columns and masks
are the ones the list screen shows, and the rows lie within the scopes of both the read and
the export action. The export is in the audit log before its first row is read. Rows are read
with the keyset cursor, so memory keeps one page at a time however many rows match.

CSV cells are the screen's text, with numbers and dates as spreadsheets read them. Excel cells
keep their type: amounts and numbers are numbers, dates are dates, and everything else,
masked values included, is text.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import zoneinfo
from decimal import Decimal
from typing import Any, Iterator, Sequence
from urllib.parse import quote

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import PermissionDenied, ValidationFailed
from runtime.export_jobs import ExportContent, ExportFailed, ExportJob, register_source
from runtime.exports import Export, RecordExports
from runtime.record_query import MAX_LIMIT, ListQuery
from runtime.records import RecordService
from runtime.spreadsheets import Percentage, csv_chunks, xlsx_chunks
from ui.web import i18n
from ui.web.admin_jobs import jobs_of
from ui.web.list_messages import Wording, query_problems
from ui.web.lists_columns import Column, Formats, References, cell_text, list_columns, percent_places, shown_fields
from ui.web.lists_filters import ListState, read_list
from ui.web.lists_support import forbidden, list_entity
from ui.web.state import actor_of, web

logger = logging.getLogger(__name__)

#: Name of the export job source that reads the rows of a list.
LIST_SOURCE = "list"
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Column kinds an Excel cell keeps as a number or date rather than the screen's text.
_TYPED_KINDS = frozenset({"integer", "decimal", "money", "percent", "date", "datetime"})


def export_csv(request: Request) -> Response:
    """Export a list's records as CSV."""
    return _export(request, "csv")


def export_xlsx(request: Request) -> Response:
    """Export a list's records as an Excel workbook."""
    return _export(request, "xlsx")


def _export(request: Request, file_format: str) -> Response:
    """Stream the file, or submit a background job when more records match than the settings allow to stream.

    An address with filters that do not apply exports nothing: leaving them out would export
    more records than the user asked for.
    """
    entity = list_entity(request, "export")
    state = web(request)
    actor = actor_of(request)
    listed = _checked_list(state.records, actor, entity, request.query_params)
    file_name = export_filename(entity, actor.lang, datetime.date.today().isoformat(), file_format)
    threshold = state.runtime.settings.export_job_rows
    if _count(state.records, actor, entity, listed) > threshold:
        request_data = {"query": listed.query_string(after=None)}
        job = jobs_of(request).exports.submit(actor, entity.name, LIST_SOURCE, file_format, request_data, file_name[1])
        return RedirectResponse(f"/exports?job={job.id}", status_code=303)

    columns = list_columns(state.records, actor, entity)
    formats = Formats.of(state.model, entity.name, actor.lang)
    export = _started(state.records, actor, entity, columns, listed, file_format)
    headers = column_headers(columns, actor.lang)
    typed = file_format == "xlsx"
    rows = _rows(export_pages(state.records, actor, export, columns, formats, typed=typed), export, actor)
    chunks = xlsx_chunks(i18n.label(entity.label, actor.lang), headers, rows) if typed else csv_chunks(headers, rows)
    ascii_name, local_name = file_name
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(local_name)}"
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[file_format], headers={"Content-Disposition": disposition})


def _checked_list(records: RecordService, actor: Actor, entity: m.Entity, params: Any) -> ListState:
    listed = read_list(records, actor, entity, params, actor.lang)
    if listed.problems:
        logger.info("export of %s by %s rejected for invalid filters: %s", entity.name, actor.id,
                    ", ".join(problem.key for problem in listed.problems))
        raise _export_rejected(actor.lang, [problem.message for problem in listed.problems])
    return listed


def _count(records: RecordService, actor: Actor, entity: m.Entity, listed: ListState) -> int:
    try:
        return records.count(actor, entity.name, listed.query)
    except ValidationFailed as failed:
        raise _invalid_query(actor, entity, listed, failed) from failed


def _started(records: RecordService, actor: Actor, entity: m.Entity, columns: list[Column], listed: ListState,
             file_format: str) -> Export:
    try:
        return start_export(records, actor, entity, columns, listed.query, file_format)
    except PermissionDenied as denied:
        raise forbidden(entity, "export", actor.lang) from denied
    except ValidationFailed as failed:
        raise _invalid_query(actor, entity, listed, failed) from failed


def _invalid_query(actor: Actor, entity: m.Entity, listed: ListState, failed: ValidationFailed) -> HTTPException:
    problems = query_problems(listed.wording or Wording(entity), failed.errors, cursor_dropped=False)
    return _export_rejected(actor.lang, [problem.message(actor.lang) for problem in problems])


def _export_rejected(lang: str, messages: list[str]) -> HTTPException:
    listed = i18n.pick(lang, " ", "").join(messages)
    return HTTPException(400, i18n.pick(lang, f"Nothing was exported, because some filters are not valid. {listed} "
                                              "Correct them on the list, then export again.",
                                        f"未导出任何数据，因为部分筛选条件无效。{listed}请在列表中更正后再导出。"))


# Rows ------------------------------------------------------------------------------------------


def start_export(records: RecordService, actor: Actor, entity: m.Entity, columns: list[Column], query: ListQuery,
                 file_format: str = "csv") -> Export:
    """Start the export of a list's records, which writes its audit entry; raise PermissionDenied if not allowed."""
    page_query = dataclasses.replace(query, fields=shown_fields(columns))
    return RecordExports(records).start(actor, entity.name, page_query, page_size=MAX_LIMIT, details={"format": file_format})


def export_pages(records: RecordService, actor: Actor, export: Export, columns: list[Column], formats: Formats, *,
                 typed: bool) -> Iterator[list[Sequence[Any]]]:
    """Yield the rows of an export a page at a time: the screen's text, or typed values for Excel when `typed`."""
    for records_page in export.pages():
        # A new cache per page keeps memory to one page's referenced records.
        references = References(records, actor)
        references.resolve(records_page, columns)
        page: list[Sequence[Any]] = []
        for record in records_page:
            values = [references.value(record, column)[0] for column in columns]
            if typed:
                page.append([_typed_cell(column, value, formats) for column, value in zip(columns, values)])
            else:
                page.append([cell_text(column, value, formats, plain=True) for column, value in zip(columns, values)])
        yield page


def _rows(pages: Iterator[list[Sequence[Any]]], export: Export, actor: Actor) -> Iterator[Sequence[Any]]:
    written = 0
    for page in pages:
        yield from page
        written += len(page)
    logger.info("export of %s by %s finished: %s of %s records written", export.entity, actor.id, written, export.total)


def _typed_cell(column: Column, value: Any, formats: Formats) -> Any:
    """Return a cell's value for Excel: a number or date where the column contains one, else the screen's text."""
    if value is None or value == "":
        return None
    if isinstance(value, str) or column.kind not in _TYPED_KINDS:
        # A masked value, an unreadable reference, or text, which appears as on screen.
        return cell_text(column, value, formats, plain=True)
    if column.kind in ("decimal", "money"):
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if column.kind == "percent":
        fraction = value if isinstance(value, Decimal) else Decimal(str(value))
        return Percentage(fraction, percent_places(fraction, m.decimal_places(column.field) if column.field else 4))
    if column.kind == "integer":
        return int(value)
    if column.kind == "datetime" and isinstance(value, datetime.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)
        # Excel has no time zones, so a time is written as the wall-clock time the screen shows.
        return moment.astimezone(zoneinfo.ZoneInfo(formats.timezone)).replace(tzinfo=None)
    if column.kind == "date" and isinstance(value, datetime.date):
        return value
    return cell_text(column, value, formats, plain=True)


def column_headers(columns: list[Column], lang: str) -> list[str]:
    return [i18n.label(column.label, lang) for column in columns]


def export_filename(entity: m.Entity, lang: str, today: str, file_format: str) -> tuple[str, str]:
    """Return an ASCII file name and the file name in the user's language, such as 设备申领单-2026-03-05.xlsx."""
    return f"{entity.name}-{today}.{file_format}", f"{i18n.label(entity.label, lang)}-{today}.{file_format}"


# Background jobs -------------------------------------------------------------------------------


def list_job_content(records: RecordService, actor: Actor, job: ExportJob) -> ExportContent:
    """Read the rows of a list export job as its user, as the list screen would show them now."""
    entity = records.model.entities.get(job.entity)
    if entity is None:
        raise ExportFailed(f"The application no longer has a list named {job.entity}.", f"应用中已没有名为 {job.entity} 的列表。")
    params = QueryParams(str(job.request.get("query") or ""))
    listed = read_list(records, actor, entity, params, actor.lang)
    if listed.problems:
        english = [problem.message for problem in read_list(records, actor, entity, params, "en").problems]
        chinese = [problem.message for problem in read_list(records, actor, entity, params, "zh-CN").problems]
        raise ExportFailed("Some filters are no longer valid: " + " ".join(english), "部分筛选条件已失效：" + "".join(chinese))
    columns = list_columns(records, actor, entity)
    formats = Formats.of(records.model, entity.name, actor.lang)
    export = start_export(records, actor, entity, columns, listed.query, job.format)
    pages = export_pages(records, actor, export, columns, formats, typed=job.format == "xlsx")
    return ExportContent(i18n.label(entity.label, actor.lang), column_headers(columns, actor.lang), export.total, pages)


register_source(LIST_SOURCE, list_job_content)
