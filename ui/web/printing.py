"""Print screens: a record printed to PDF with a template, and the calibration page of overlay templates.

`GET /records/{entity}/{id}/print/{template}` returns the PDF inline, so the browser shows it
with its own print button. The runtime checks `print` and `read`, both data scopes and the
masks, and writes the audit entry (runtime/printing.py). A record out of scope is a 404, as
a missing one. `/print/{template}/calibration` keeps the user's offset for an overlay
template, and `/print/{template}/test-sheet` prints the grid that checks it.

When WeasyPrint cannot load its system libraries, the print screens name the one
missing and the command that installs it. Building the routes, which `metadesk serve` does, logs the
same as a warning.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.errors import NotFound, PermissionDenied, ValidationFailed
from runtime.printing import PrintNotInThisState
from runtime.printing_calibration import MAX_OFFSET_MM, Offset
from runtime.printing_documents import PrintTemplateError
from runtime.printing_pdf import PrintingUnavailable, check_pdf_support
from ui.web import i18n
from ui.web.detail import safe_next
from ui.web.forms import entity_of, http_error, redirect
from ui.web.printing_links import calibration_url, printing_of
from ui.web.rendering import render
from ui.web.state import actor_of, lang_of

logger = logging.getLogger(__name__)


def pdf_response(pdf: bytes, filename: str, fallback: str) -> Response:
    """Return a PDF shown in the browser, with the file name in UTF-8 (RFC 6266) and an ASCII one for old clients."""
    headers = {
        "Content-Disposition": f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}",
        "Cache-Control": "private, no-store",
    }
    return Response(pdf, media_type="application/pdf", headers=headers)


def _failure_page(request: Request, error: PrintingUnavailable | PrintTemplateError) -> Response:
    lang = lang_of(request)
    if isinstance(error, PrintingUnavailable):
        title, status = i18n.pick(lang, "Printing is not available", "无法打印"), 503
    else:
        logger.error("%s", error.message_en)
        title, status = i18n.pick(lang, "The print template has an error", "打印模板有错误"), 500
    return render(request, "error.html", {"title": title, "detail": error.message(lang)}, status=status)


async def print_record(request: Request) -> Response:
    entity = entity_of(request)
    record_id = int(request.path_params["id"])
    actor = actor_of(request)
    printing = printing_of(request)
    try:
        printed = await run_in_threadpool(printing.print_record, actor, entity.name, record_id, str(request.path_params["template"]))
    except (NotFound, PermissionDenied) as error:
        logger.info("print of %s %s by %s rejected: %s", entity.name, record_id, actor.id, error)
        raise http_error(request, error) from error
    except (PrintingUnavailable, PrintTemplateError) as error:
        return _failure_page(request, error)
    except PrintNotInThisState as error:
        lang = lang_of(request)
        return render(request, "error.html", {"title": i18n.pick(lang, "Not printable now", "当前状态不能打印"),
                                              "detail": error.message(lang)}, status=409)
    return pdf_response(printed.pdf, printed.filename, f"{printed.template.name}-{record_id}.pdf")


def _calibration_page(request: Request, template: m.Template, offset: Offset, *, values: dict[str, str] | None = None,
                      errors: dict[str, list[str]] | None = None, status: int = 200) -> Response:
    lang = lang_of(request)
    back = safe_next(request.query_params.get("next"))
    problem = check_pdf_support(log=False).problem
    context: dict[str, Any] = {
        "title": i18n.pick(lang, "Print calibration", "套打校准") + " · " + i18n.label(template.label, lang),
        "template": template,
        "values": values or {"dx_mm": str(offset.dx_mm), "dy_mm": str(offset.dy_mm)},
        "errors": errors or {},
        "saved": request.query_params.get("saved") == "1" and not errors,
        "action": calibration_url(template, back),
        "test_sheet_url": f"/print/{template.name}/test-sheet",
        "back_url": back,
        "max_offset": MAX_OFFSET_MM,
        "unavailable": problem.message(lang) if problem is not None else None,
    }
    return render(request, "print_calibration.html", context, status=status)


async def calibration_page(request: Request) -> Response:
    try:
        template, offset = printing_of(request).calibration(actor_of(request), str(request.path_params["template"]))
    except (NotFound, PermissionDenied) as error:
        raise http_error(request, error) from error
    return _calibration_page(request, template, offset)


async def save_calibration(request: Request) -> Response:
    actor = actor_of(request)
    lang = lang_of(request)
    name = str(request.path_params["template"])
    async with request.form() as form:
        values = {"dx_mm": str(form.get("dx_mm") or ""), "dy_mm": str(form.get("dy_mm") or "")}
    printing = printing_of(request)
    try:
        printing.save_calibration(actor, name, values["dx_mm"], values["dy_mm"])
    except (NotFound, PermissionDenied) as error:
        raise http_error(request, error) from error
    except ValidationFailed as failed:
        template, offset = printing.calibration(actor, name)
        errors = {path: [item.message(lang) for item in items] for path, items in failed.errors.items()}
        logger.info("print calibration of %s for %s rejected: %s", actor.id, name, failed.message_en)
        return _calibration_page(request, template, offset, values=values, errors=errors, status=422)
    back = safe_next(request.query_params.get("next"))
    url = calibration_url(printing.template(name), back)
    return redirect(request, url + ("&" if "?" in url else "?") + "saved=1")


async def test_sheet(request: Request) -> Response:
    actor = actor_of(request)
    printing = printing_of(request)
    name = str(request.path_params["template"])
    try:
        pdf = await run_in_threadpool(printing.calibration_sheet, actor, name)
    except (NotFound, PermissionDenied) as error:
        raise http_error(request, error) from error
    except PrintingUnavailable as error:
        return _failure_page(request, error)
    label = i18n.label(printing.template(name).label, lang_of(request))
    return pdf_response(pdf, i18n.pick(lang_of(request), f"Calibration test sheet-{label}.pdf", f"校准测试页-{label}.pdf"),
                        f"calibration-{name}.pdf")


def routes() -> list[BaseRoute]:
    # Building the routes is where a server starts, so a set-up without Pango or CJK fonts is logged here.
    check_pdf_support()
    return [
        Route("/records/{entity}/{id:int}/print/{template}", print_record, methods=["GET"]),
        Route("/print/{template}/calibration", calibration_page, methods=["GET"]),
        Route("/print/{template}/calibration", save_calibration, methods=["POST"]),
        Route("/print/{template}/test-sheet", test_sheet, methods=["GET"]),
    ]
