"""The home page and the inbox: what waits for the signed-in user and for those the user acts for.

The inbox lists the records of runtime.inbox, newest first, a page at a time, each with a
link and the transitions open to the user. A transition posts to the record's own
transition route with `_next` set to the inbox, which the route redirects back to.
Delegated work carries `_for`, so that the signature is the delegator's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from runtime import inbox as work
from runtime.access import Actor
from runtime.flows import flow_of
from ui.web import delegation_pages, i18n, notification_pages
from ui.web.dashboards import dashboard_views
from ui.web.notification_pages import notification_views
from ui.web.display import record_title, record_url
from ui.web.rendering import render
from ui.web.state import WebState, actor_of, lang_of, web
from ui.web.transition_view import TransitionView, transition_views

PAGE_SIZE = 20


@dataclass(frozen=True)
class SummaryLink:
    label: str
    count: int
    url: str
    current: bool = False


@dataclass
class InboxRowView:
    entity_label: str
    title: str
    url: str
    state_label: str
    record: dict[str, Any]
    #: The delegator the user acts for on this row, or None for the user's own work.
    acting_for: Actor | None
    #: Each approval the user may sign now, as "transition · level · signed n / m" (the level only for sequential levels).
    approvals: list[str] = field(default_factory=list)
    transitions: list[TransitionView] = field(default_factory=list)


def summary(actor: Actor, counts: list[work.InboxCount], lang: str, *, kind: str | None = None,
            principal: str | None = None) -> list[SummaryLink]:
    """Return the links of the inbox's summary: everything, the user's own work by kind, and each delegator's work."""
    by_key = {(item.principal.id, item.kind): item.count for item in counts}
    links = [SummaryLink(i18n.pick(lang, "Everything", "全部"), sum(by_key.values()), "/inbox", kind is None and principal is None)]
    names = {"todo": ("To do", "待我办理"), "approve": ("To approve", "待我审批")}
    for name in work.KINDS:
        links.append(SummaryLink(i18n.pick(lang, *names[name]), by_key.get((actor.id, name), 0),
                                 "/inbox?" + urlencode({"kind": name, "for": actor.id}), kind == name and principal == actor.id))
    for item in counts:
        if item.principal.delegated and item.kind == work.KINDS[0]:
            total = sum(count for (user, _), count in by_key.items() if user == item.principal.id)
            name = item.principal.actor.name or item.principal.id
            links.append(SummaryLink(i18n.pick(lang, f"Acting for {name}", f"代 {name} 办理"), total,
                                     "/inbox?" + urlencode({"for": item.principal.id}), kind is None and principal == item.principal.id))
    return links


def _state_label(state: WebState, row: work.InboxRow, lang: str) -> str:
    value = str(row.record.get("state") or "")
    flow = flow_of(state.records, row.entity, row.record)
    return i18n.label(flow.states[value].label, lang) if flow is not None and value in flow.states else value


def _row_view(request: Request, row: work.InboxRow, index: int) -> InboxRowView:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    entity = state.model.entities[row.entity]
    approvals = []
    for progress in row.approvals:
        level = progress.current
        if level is None:
            continue
        # Only sequential levels have names of their own to show.
        parts = [i18n.label(progress.transition.label, lang)]
        if progress.transition.approval is not None and progress.transition.approval.mode == "levels":
            parts.append(i18n.label(level.level.label, lang))
        parts.append(f"{i18n.pick(lang, 'signed', '已签')} {level.counted} / {level.needed}")
        approvals.append(" · ".join(parts))
    return InboxRowView(
        entity_label=i18n.label(entity.label, lang), title=record_title(entity, row.record, lang),
        url=record_url(row.entity, row.record["id"]), state_label=_state_label(state, row, lang), record=row.record,
        acting_for=row.principal.actor if row.principal.delegated else None, approvals=approvals,
        transitions=transition_views(request, entity, row.record, row.transitions,
                                     editor=None if row.principal.delegated else actor, prefix=f"r{index}-"),
    )


async def home(request: Request) -> Response:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    links = summary(actor, work.Inbox(state.records, actor).counts(), lang)
    return render(request, "home.html", {"summary": links, "title": i18n.pick(lang, "Home", "首页"),
                                         "notifications": notification_views(request),
                                         "dashboards": await run_in_threadpool(dashboard_views, request)})


async def inbox(request: Request) -> Response:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    waiting = work.Inbox(state.records, actor)
    counts = waiting.counts()
    known = {item.principal.id for item in counts}
    kind = request.query_params.get("kind") if request.query_params.get("kind") in work.KINDS else None
    principal = request.query_params.get("for") if request.query_params.get("for") in known else None
    number_text = request.query_params.get("page", "1")
    number = int(number_text) if number_text.isdigit() and int(number_text) > 0 else 1
    found = waiting.page(number=number, size=PAGE_SIZE, kind=kind, principal=principal)

    filters = {name: value for name, value in (("kind", kind), ("for", principal)) if value}

    def page_url(page: int) -> str:
        values = {**filters, **({"page": str(page)} if page > 1 else {})}
        return "/inbox" + ("?" + urlencode(values) if values else "")

    return render(request, "inbox.html", {
        "title": i18n.pick(lang, "Inbox", "待办事项"),
        "summary": summary(actor, counts, lang, kind=kind, principal=principal),
        "rows": [_row_view(request, row, index) for index, row in enumerate(found.rows)],
        "page": found,
        "here": page_url(found.number),
        "previous_url": page_url(found.number - 1) if found.number > 1 else None,
        "next_url": page_url(found.number + 1) if found.number < found.pages else None,
    })


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def routes() -> list[BaseRoute]:
    # The delegation pages belong to the same workbench as the inbox, which lists the work they hand over.
    return [
        Route("/", home, methods=["GET"]),
        Route("/inbox", inbox, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        *delegation_pages.routes(),
        *notification_pages.routes(),
    ]
