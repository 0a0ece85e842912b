"""The home page and the inbox: what waits for the signed-in user."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from runtime.access import Actor
from runtime.record_query import Condition, ListQuery
from ui.web import i18n
from ui.web.navigation import entity_url
from ui.web.rendering import render
from ui.web.state import WebState, actor_of, web


@dataclass(frozen=True)
class InboxEntry:
    entity_label: str
    state_label: str
    count: int
    url: str


def inbox_entries(state: WebState, actor: Actor) -> list[InboxEntry]:
    """Count, per entity and state, the records in the actor's scope on which the actor may fire a transition."""
    model = state.model
    entries = []
    for entity_name, entity in model.entities.items():
        flows = model.flows_for(entity_name)
        if not flows or not state.permissions.allows(actor, "read", entity_name):
            continue
        waiting: dict[str, str] = {}
        for flow in flows:
            for transition in flow.transitions.values():
                if transition.automatic or not state.permissions.allows(actor, transition.name, entity_name):
                    continue
                for source in transition.sources:
                    if source in flow.states and not flow.states[source].final:
                        waiting.setdefault(source, i18n.label(flow.states[source].label, actor.lang))
        for state_name, state_label in waiting.items():
            page = state.records.list(actor, entity_name, ListQuery(where=Condition("state", "eq", state_name), limit=1, with_total=True))
            if page.total:
                url = entity_url(entity_name) + "?" + urlencode({"state": state_name})
                entries.append(InboxEntry(i18n.label(entity.label, actor.lang), state_label, page.total, url))
    return entries


async def home(request: Request) -> Response:
    state = web(request)
    actor = actor_of(request)
    return render(request, "home.html", {"inbox": inbox_entries(state, actor), "title": i18n.pick(actor.lang, "Home", "首页")})


async def inbox(request: Request) -> Response:
    state = web(request)
    actor = actor_of(request)
    return render(request, "inbox.html", {"inbox": inbox_entries(state, actor), "title": i18n.pick(actor.lang, "Inbox", "待办事项")})


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/inbox", inbox, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
