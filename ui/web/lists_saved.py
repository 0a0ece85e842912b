"""Saved filters of the list pages: saving the current filters under a name, and deleting them.

A rejected name (empty, too long, one the user already has) is shown beside the name box in
the user's language, with the name kept as typed. HTMX swaps in the block with the message;
a plain form finds it on the list after the redirect. A name the user already has is not
saved over: the message asks first, and a "Replace" button beside it sends `replace=1`.
The notice then tells that the filter was replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from metamodel import model as m
from runtime.errors import ValidationFailed
from runtime.saved_filters import SavedFilter, SavedFilters
from ui.web import i18n
from ui.web.lists_support import Notice, back_to_list, list_entity, list_query
from ui.web.navigation import entity_url
from ui.web.rendering import render
from ui.web.state import WebState, actor_of, is_htmx, web

logger = logging.getLogger(__name__)

#: Session key of a rejected name, shown beside the name box after the redirect of a plain form.
_ATTEMPT_KEY = "list_save_attempt"


@dataclass(frozen=True)
class SaveAttempt:
    """The state of the name box after saving: the name as typed, and the reason it was rejected or what was done."""

    name: str = ""
    error: str | None = None
    #: Whether the name is one the user already has, so that the form offers to replace that filter.
    duplicate: bool = False
    done: str | None = None


def saved_filters(state: WebState) -> SavedFilters:
    return SavedFilters(state.runtime.schema, state.runtime.engine)


def pop_save_attempt(request: Request, entity: m.Entity) -> SaveAttempt | None:
    stored = request.session.get(_ATTEMPT_KEY)
    if not isinstance(stored, dict) or stored.get("entity") != entity.name:
        return None
    request.session.pop(_ATTEMPT_KEY, None)
    return SaveAttempt(str(stored.get("name", "")), str(stored.get("error") or "") or None, bool(stored.get("duplicate")))


def _saved_block(request: Request, entity: m.Entity, query: str, attempt: SaveAttempt | None = None) -> Response:
    state = web(request)
    context = {"entity": entity, "base_url": entity_url(entity.name), "current_query": query,
               "saved": saved_filters(state).list(actor_of(request), entity.name), "attempt": attempt or SaveAttempt()}
    return render(request, "lists_saved.html", context)


async def save_filter(request: Request) -> Response:
    entity = await run_in_threadpool(list_entity, request)
    form = await request.form()
    name = str(form.get("name") or "")
    query = list_query(str(form.get("query") or ""))
    replace = form.get("replace") == "1"
    actor = actor_of(request)
    store = saved_filters(web(request))
    try:
        done = await run_in_threadpool(lambda: store.save(actor, entity.name, name, query, replace=replace))
    except ValidationFailed as failed:
        logger.info("saving a filter of %s for %s rejected: %s", entity.name, actor.id, failed.message_en)
        first = next(iter(failed.errors.values()))[0]
        attempt = SaveAttempt(name, first.message(actor.lang), duplicate=first.code == "duplicate")
        if is_htmx(request):
            return await run_in_threadpool(_saved_block, request, entity, query, attempt)
        request.session[_ATTEMPT_KEY] = {"entity": entity.name, "name": attempt.name, "error": attempt.error,
                                         "duplicate": attempt.duplicate}
        return back_to_list(request, entity, query, None)
    text = _done_text(done, actor.lang)
    if is_htmx(request):
        return await run_in_threadpool(_saved_block, request, entity, query, SaveAttempt(done=text))
    return back_to_list(request, entity, query, Notice("ok", text))


def _done_text(done: SavedFilter, lang: str) -> str:
    if done.replaced:
        return i18n.pick(lang, f"Replaced the saved filter {done.name} with the current filters.",
                         f"已用当前的筛选条件替换筛选条件“{done.name}”。")
    return i18n.pick(lang, f"Saved the filter {done.name}.", f"已保存筛选条件“{done.name}”。")


async def delete_filter(request: Request) -> Response:
    entity = await run_in_threadpool(list_entity, request)
    form = await request.form()
    query = list_query(str(form.get("query") or ""))
    actor = actor_of(request)
    deleted = await run_in_threadpool(saved_filters(web(request)).delete, actor, entity.name, int(request.path_params["filter_id"]))
    if not deleted:
        raise HTTPException(404, i18n.pick(actor.lang, "You have no saved filter with this number.", "您没有这个编号的已保存筛选条件。"))
    if is_htmx(request):
        return await run_in_threadpool(_saved_block, request, entity, query)
    return back_to_list(request, entity, query, Notice("ok", i18n.pick(actor.lang, "Deleted the saved filter.", "已删除该筛选条件。")))
