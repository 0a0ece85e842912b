"""The print buttons of a detail page, and the printing service that the print screens share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote

from starlette.requests import Request

from metamodel import model as m
from runtime.printing import RecordPrinting
from ui.web import i18n
from ui.web.display import record_url
from ui.web.state import actor_of, lang_of, web


@dataclass(frozen=True)
class PrintLink:
    label: str
    url: str
    #: The overlay calibration page, or None for a document template.
    calibration_url: str | None


def printing_of(request: Request) -> RecordPrinting:
    """Return the application's printing service, made on first use so that it keeps its compiled templates."""
    state = web(request)
    printing: RecordPrinting | None = getattr(request.app.state, "printing", None)
    if printing is None or printing.records is not state.records:
        printing = RecordPrinting(state.records)
        request.app.state.printing = printing
    return printing


def calibration_url(template: m.Template, back: str | None = None) -> str:
    url = f"/print/{template.name}/calibration"
    return url + "?next=" + quote(back, safe="/") if back else url


def print_links(request: Request, entity: m.Entity, record: Mapping[str, Any]) -> list[PrintLink]:
    """Return a button for each template of the entity that the signed-in user may print."""
    lang = lang_of(request)
    page = record_url(entity.name, record["id"])
    links = []
    for template in printing_of(request).templates_for(actor_of(request), entity.name, record.get("state")):
        overlay = template.kind == "overlay"
        links.append(PrintLink(i18n.label(template.label, lang), f"{page}/print/{template.name}",
                               calibration_url(template, page) if overlay else None))
    return links
