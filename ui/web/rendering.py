"""Templates: one environment, helpers for labels and locale formatting, and fragment rendering.

A page template extends `base.html` and names the blocks HTMX swaps. `render` returns the
named block alone for an HTMX request and the whole page otherwise, so that every URL
also works on a direct load, a reload and the back button.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import jinja_partials
from jinja2 import pass_context
from jinja2.runtime import Context
from jinja2_fragments.starlette import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import Response

from ui.web import i18n
from ui.web.navigation import menus_for
from ui.web.security import csrf_token
from ui.web.state import actor_of, is_htmx, lang_of, web

TEMPLATES = Path(__file__).parent / "templates"


@pass_context
def _t(context: Context, en: str, zh: str) -> str:
    return i18n.pick(context["lang"], en, zh)


@pass_context
def _label(context: Context, value: Any) -> str:
    return i18n.label(value, context["lang"])


def _with_lang(function: Any) -> Any:
    @pass_context
    def wrapped(context: Context, value: Any, *args: Any, **kwargs: Any) -> str:
        return str(function(value, context["lang"], *args, **kwargs))

    return wrapped


def make_templates() -> Jinja2Blocks:
    templates = Jinja2Blocks(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.globals["t"] = _t
    env.globals["L"] = _label
    env.globals["LANGUAGES"] = i18n.LANGUAGES
    env.globals["LANGUAGE_NAMES"] = i18n.LANGUAGE_NAMES
    env.filters["money"] = _with_lang(i18n.format_money)
    env.filters["number"] = _with_lang(i18n.format_number)
    env.filters["percent"] = _with_lang(i18n.format_percent)
    env.filters["date"] = _with_lang(i18n.format_date)
    env.filters["datetime"] = _with_lang(i18n.format_datetime)
    jinja_partials.register_starlette_extensions(templates)
    return templates


def page_context(request: Request) -> dict[str, Any]:
    """Return the names every page template may use."""
    state = web(request)
    actor = request.scope.get("actor")
    context: dict[str, Any] = {
        "request": request,
        "lang": lang_of(request),
        "app": state.model.app,
        "actor": actor,
        "csrf_token": csrf_token(request.session),
    }
    if actor is not None:
        context["menus"] = menus_for(state, actor_of(request), request.url.path)
    return context


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render a page, or only `block` of it when HTMX asked for a fragment."""
    full = page_context(request)
    full.update(context or {})
    all_headers = {"Vary": "HX-Request", **(headers or {})}
    templates = web(request).templates
    if block and is_htmx(request):
        response: Response = templates.TemplateResponse(request, name, full, status_code=status, headers=all_headers, block_name=block)
    else:
        response = templates.TemplateResponse(request, name, full, status_code=status, headers=all_headers)
    return response
