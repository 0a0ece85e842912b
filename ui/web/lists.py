"""The generated list page of every entity: search, filters, sort, pages, bulk delete and export.

Saved filters are in lists_saved.py; the checks of a list address and their messages in
list_checks.py and list_messages.py; exports to CSV and Excel in lists_export.py.

GET /records/{entity} renders the whole page, or only its `results` block (table, pager,
toolbar) for HTMX requests, which also get the list address to push into the address bar.
The handlers that read or write the database are plain functions, which Starlette runs in
its thread pool. The POST handlers read the form first, then hand their work to that pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MultiDict
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.errors import NotFound, PermissionDenied, StaleVersion, ValidationFailed
from runtime.record_query import ListQuery, Page
from ui.web import i18n
from ui.web.list_messages import Wording, query_problems
from ui.web.lists_columns import Column, Formats, References, cell_text, list_columns, shown_fields
from ui.web.lists_export import export_csv, export_xlsx
from ui.web.lists_filters import PAGE_SIZES, ListState, Problem, filter_controls, read_list
from ui.web.lists_saved import SaveAttempt, delete_filter, pop_save_attempt, save_filter, saved_filters
from ui.web.lists_support import Notice, back_to_list, list_entity, list_query, pop_notice
from ui.web.navigation import entity_url
from ui.web.rendering import render
from ui.web.state import WebState, actor_of, is_htmx, web

logger = logging.getLogger(__name__)

RESULTS_BLOCK = "results"


@dataclass(frozen=True)
class Header:
    label: str
    numeric: bool
    #: Address that sorts by this column, or None when it cannot be sorted.
    url: str | None
    #: "ascending" or "descending" when the list is sorted by this column.
    direction: str | None


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool


@dataclass(frozen=True)
class Row:
    id: int
    version: int
    url: str
    cells: list[Cell]


def _run(state: WebState, request: Request, entity: m.Entity, listed: ListState, columns: list[Column]) -> Page:
    """Run the list query; a combination the per-filter checks missed is reported and the list shown unfiltered.

    Only the fields the columns show are read, so the rest of each record is neither decrypted nor masked.
    """
    actor = actor_of(request)
    fields = shown_fields(columns)
    try:
        return state.records.list(actor, entity.name, replace(listed.query, fields=fields))
    except ValidationFailed as failed:
        logger.warning("list of %s for %s rejected after checks: %s", entity.name, actor.id, failed.message_en)
        wording = listed.wording or Wording(entity)
        listed.problems.extend(Problem(problem.key, problem.message(actor.lang))
                               for problem in query_problems(wording, failed.errors, cursor_dropped=True))
        listed.applied.clear()
        listed.query = ListQuery(limit=listed.limit, with_total=True, count_limit=listed.query.count_limit)
        return state.records.list(actor, entity.name, replace(listed.query, fields=fields))
    except PermissionDenied as denied:
        raise HTTPException(403, denied.message(actor.lang)) from denied


def _headers(listed: ListState, base: str, columns: list[Column], lang: str) -> list[Header]:
    current = listed.effective_sort[0] if listed.effective_sort else ""
    headers = []
    for column in columns:
        label = i18n.label(column.label, lang)
        if not column.sortable:
            headers.append(Header(label, column.numeric, None, None))
            continue
        direction = None
        following = column.key
        if current == column.key:
            direction, following = "ascending", "-" + column.key
        elif current == "-" + column.key:
            direction = "descending"
        headers.append(Header(label, column.numeric, listed.url(base, sort=following, after=None), direction))
    return headers


def list_context(request: Request, entity: m.Entity, listed: ListState, notice: Notice | None = None,
                 attempt: SaveAttempt | None = None) -> dict[str, Any]:
    """Return what lists.html needs to draw the results block of a list."""
    state = web(request)
    actor = actor_of(request)
    lang = actor.lang
    base = entity_url(entity.name)
    columns = list_columns(state.records, actor, entity)
    page = _run(state, request, entity, listed, columns)

    references = References(state.records, actor)
    references.resolve(page.rows, columns)
    formats = Formats.of(state.model, entity.name, lang)
    rows = [
        Row(int(record["id"]), int(record["version"]), f"{base}/{record['id']}",
            [Cell(cell_text(column, references.value(record, column)[0], formats), column.numeric) for column in columns])
        for record in page.rows
    ]
    allows = state.permissions.allows
    current_query = listed.query_string(after=None)
    suffix = f"?{current_query}" if current_query else ""
    sizes = sorted(set(PAGE_SIZES) | {listed.limit})
    return {
        "title": i18n.label(entity.label, lang),
        "entity": entity,
        "base_url": base,
        "headers": _headers(listed, base, columns, lang),
        "rows": rows,
        "page": page,
        "total": page.total,
        "exact": page.total_exact,
        "listed": listed,
        "problems": listed.problems,
        "notice": notice,
        "sort_value": ",".join(listed.sort),
        "page_sizes": sizes,
        "first_url": listed.url(base, after=None) if listed.query.after else None,
        "next_url": listed.url(base, after=page.next_cursor) if page.next_cursor else None,
        "current_query": current_query,
        "count_url": f"{base}/count{suffix}",
        "export_url": f"{base}/export.csv{suffix}" if allows(actor, "export", entity.name) else None,
        "export_xlsx_url": f"{base}/export.xlsx{suffix}" if allows(actor, "export", entity.name) else None,
        "new_url": f"{base}/new" if allows(actor, "create", entity.name) else None,
        "import_url": f"{base}/import" if allows(actor, "import", entity.name) and allows(actor, "create", entity.name) else None,
        "can_delete": allows(actor, "delete", entity.name),
        "saved": saved_filters(state).list(actor, entity.name),
        "attempt": attempt or SaveAttempt(),
    }


def list_page(request: Request) -> Response:
    entity = list_entity(request)
    state = web(request)
    actor = actor_of(request)
    listed = read_list(state.records, actor, entity, request.query_params, actor.lang)
    # The page, its referenced records and the filter panel's records are read on one connection.
    with state.records.reading():
        context = list_context(request, entity, listed, pop_notice(request, entity), pop_save_attempt(request, entity))
        if not is_htmx(request):
            context["filters"] = filter_controls(state.records, actor, entity, listed, actor.lang)
    headers = None
    if is_htmx(request):
        # The address bar keeps what was asked, bad filters included, so a reload shows the same messages.
        pushed = entity_url(entity.name)
        if listed.address_params:
            pushed += "?" + urlencode(listed.address_params)
        headers = {"HX-Push-Url": pushed}
    return render(request, "lists.html", context, block=RESULTS_BLOCK, headers=headers)


def count_page(request: Request) -> Response:
    """Count the records of a list exactly, for a list whose total stopped at the count limit."""
    entity = list_entity(request)
    state = web(request)
    actor = actor_of(request)
    listed = read_list(state.records, actor, entity, request.query_params, actor.lang)
    total = state.records.count(actor, entity.name, listed.query)
    context = {"title": i18n.label(entity.label, actor.lang), "entity": entity, "total": total, "exact": True,
               "base_url": entity_url(entity.name), "current_query": listed.query_string(after=None)}
    return render(request, "lists_count.html", context, block="total")


# Bulk delete -------------------------------------------------------------------


@dataclass
class BulkOutcome:
    deleted: list[int]
    stale: list[int]
    rejected: list[int]
    unreadable: list[str]
    #: Records not deleted because live records still reference them, or for another rule of the record service.
    kept: list[int] = field(default_factory=list)

    def notice(self, lang: str) -> Notice:
        parts = []
        if self.deleted or not (self.stale or self.rejected or self.unreadable or self.kept):
            parts.append(i18n.pick(lang, f"Deleted {len(self.deleted)} records.", f"已删除 {len(self.deleted)} 条记录。"))
        if self.stale:
            ids = ", ".join(f"#{record_id}" for record_id in self.stale)
            parts.append(i18n.pick(lang, f"{len(self.stale)} were changed by someone else after you opened the list and were not deleted ({ids}); check them and try again.",
                                   f"{len(self.stale)} 条在您打开列表后已被他人修改，未删除（{ids}）；请核对后重试。"))
        if self.rejected:
            ids = ", ".join(f"#{record_id}" for record_id in self.rejected)
            parts.append(i18n.pick(lang, f"{len(self.rejected)} were not deleted because you may not delete them or they no longer exist ({ids}).",
                                   f"{len(self.rejected)} 条无权删除或已不存在，未删除（{ids}）。"))
        if self.kept:
            ids = ", ".join(f"#{record_id}" for record_id in self.kept)
            parts.append(i18n.pick(lang, f"{len(self.kept)} were not deleted because other records still use them ({ids}); open them to see which.",
                                   f"{len(self.kept)} 条仍被其他记录使用，未删除（{ids}）；请打开查看。"))
        if self.unreadable:
            parts.append(i18n.pick(lang, f"{len(self.unreadable)} selections were not understood; reload the page and select again.",
                                   f"{len(self.unreadable)} 项选择无法识别；请刷新页面后重新选择。"))
        kind = "ok" if not (self.stale or self.rejected or self.unreadable or self.kept) else "warning"
        return Notice(kind, " ".join(parts))


def _delete_selected(state: WebState, request: Request, entity: m.Entity, selected: list[str], reason: str | None) -> BulkOutcome:
    """Delete each selected "id:version" with its own version check; one failure does not stop the others."""
    actor = actor_of(request)
    outcome = BulkOutcome([], [], [], [])
    for item in dict.fromkeys(selected):
        id_text, _, version_text = item.partition(":")
        if not (id_text.isdigit() and version_text.isdigit()):
            outcome.unreadable.append(item)
            continue
        record_id = int(id_text)
        try:
            state.records.delete(actor, entity.name, record_id, version=int(version_text), reason=reason)
        except StaleVersion:
            outcome.stale.append(record_id)
        except (NotFound, PermissionDenied):
            outcome.rejected.append(record_id)
        except ValidationFailed as failure:
            logger.info("bulk delete kept %s %s: %s", entity.name, record_id, failure.message_en)
            outcome.kept.append(record_id)
        else:
            outcome.deleted.append(record_id)
    logger.info("bulk delete of %s by %s: %s deleted, %s stale, %s rejected", entity.name, actor.id,
                len(outcome.deleted), len(outcome.stale), len(outcome.rejected))
    return outcome


async def bulk_delete(request: Request) -> Response:
    entity = await run_in_threadpool(list_entity, request, "delete")
    form = await request.form()
    selected = [str(value) for value in form.getlist("selected")]
    reason = str(form.get("reason") or "").strip() or None
    query = list_query(str(form.get("list_query") or ""))
    state = web(request)
    lang = actor_of(request).lang

    if not selected:
        notice = Notice("warning", i18n.pick(lang, "Select the records to delete first.", "请先勾选要删除的记录。"))
    elif entity.reason_required and reason is None:
        notice = Notice("warning", i18n.pick(lang, "Deleting these records needs a reason; enter one and try again.",
                                             "删除此类记录须填写原因；请填写后重试。"))
    else:
        outcome = await run_in_threadpool(_delete_selected, state, request, entity, selected, reason)
        notice = outcome.notice(lang)

    if not is_htmx(request):
        return back_to_list(request, entity, query, notice)

    def results() -> Response:
        listed = read_list(state.records, actor_of(request), entity, MultiDict(parse_qsl(query)), lang)
        with state.records.reading():
            context = list_context(request, entity, listed, notice)
        return render(request, "lists.html", context, block=RESULTS_BLOCK)

    return await run_in_threadpool(results)


def routes() -> list[BaseRoute]:
    return [
        Route("/records/{entity}", list_page, methods=["GET"]),
        Route("/records/{entity}/count", count_page, methods=["GET"]),
        Route("/records/{entity}/export.csv", export_csv, methods=["GET"]),
        Route("/records/{entity}/export.xlsx", export_xlsx, methods=["GET"]),
        Route("/records/{entity}/saved-filters", save_filter, methods=["POST"]),
        Route("/records/{entity}/saved-filters/{filter_id:int}/delete", delete_filter, methods=["POST"]),
        Route("/records/{entity}/bulk-delete", bulk_delete, methods=["POST"]),
    ]
