"""Helpers of the list handlers: the entity of the address with its permission check, and notices across redirects."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from metamodel import model as m
from ui.web import i18n
from ui.web.navigation import entity_url
from ui.web.state import actor_of, web

_NOTICE_KEY = "list_notice"


@dataclass(frozen=True)
class Notice:
    #: "ok" or "warning".
    kind: str
    text: str


def list_entity(request: Request, action: str = "read") -> m.Entity:
    """Return the entity named in the path, or raise 404 if there is none and 403 if the user may not `action` it."""
    state = web(request)
    actor = actor_of(request)
    name = request.path_params["entity"]
    entity: m.Entity | None = state.model.entities.get(name)
    if entity is None:
        raise HTTPException(404, i18n.pick(actor.lang, f"There is no list named {name}.", f"不存在名为 {name} 的列表。"))
    if not state.permissions.allows(actor, "read", name) or not state.permissions.allows(actor, action, name):
        raise forbidden(entity, action, actor.lang)
    return entity


def forbidden(entity: m.Entity, action: str, lang: str) -> HTTPException:
    label = i18n.label(entity.label, lang)
    words = {"read": ("view", "查看"), "export": ("export", "导出"), "delete": ("delete", "删除")}.get(action, (action, action))
    return HTTPException(403, i18n.pick(lang, f"You may not {words[0]} {label} records.", f"您无权{words[1]}{label}。"))


def back_to_list(request: Request, entity: m.Entity, query: str, notice: Notice | None) -> Response:
    """Redirect to the list with a query string, carrying a notice for the page to show once."""
    if notice is not None:
        request.session[_NOTICE_KEY] = {"entity": entity.name, "kind": notice.kind, "text": notice.text}
    return RedirectResponse(entity_url(entity.name) + (f"?{query}" if query else ""), status_code=303)


def pop_notice(request: Request, entity: m.Entity) -> Notice | None:
    stored = request.session.get(_NOTICE_KEY)
    if not isinstance(stored, dict) or stored.get("entity") != entity.name:
        return None
    request.session.pop(_NOTICE_KEY, None)
    return Notice(str(stored.get("kind", "ok")), str(stored.get("text", "")))


def list_query(text: str) -> str:
    """Return a list query string without its page cursor, as saved filters and redirects keep it."""
    items = [(key, value) for key, value in parse_qsl(text.lstrip("?"), keep_blank_values=False) if key != "after"]
    return urlencode(items)
