"""The create and edit screens of every entity, and the requests their controls make while the user types.

GET shows the form. POST saves it through the record service and redirects to the detail
page. When the save fails, the form comes back with everything the user typed, each error
beside its field and a summary at the top: status 422, or 409 when someone else saved the
record first.
HTMX requests get the form fragment instead of the whole page, and `HX-Redirect` on success.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from metamodel.values import check_value
from runtime.errors import FieldError, NotFound, PermissionDenied, ReasonRequired, RecordError, StaleVersion, ValidationFailed
from runtime.files import FileRejected
from runtime.form_rules import evaluate_rules, without_untouched_masked
from runtime.form_submission import prepare_submission
from runtime.record_query import ListQuery
from ui.web import i18n
from ui.web.display import ReferenceTitles, local_time, record_title, record_url
from ui.web.form_view import FormBuilder, dom_id, parse_layout
from ui.web.navigation import entity_url
from ui.web.rendering import render
from ui.web.state import actor_of, is_htmx, lang_of, web
from ui.web.uploads import PendingFile, attach_pending, carried_uploads, merge_pending, store_uploads, without_duplicates
from ui.web.widgets import (
    field_of_path,
    form_path,
    parse_input,
    posted_fields,
    shown_error,
    submitted_value,
    timezone_of,
)

logger = logging.getLogger(__name__)

FILE_TYPES = ("attachment", "attachments")
#: Most options a lookup returns.
MAX_LOOKUP = 50
DEFAULT_LOOKUP = 10


@dataclass
class ParsedForm:
    """A submitted form: the controls' inputs, the values for the record service, and the uploads."""

    inputs: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, list[PendingFile]] = field(default_factory=dict)
    upload_errors: dict[str, list[FieldError]] = field(default_factory=dict)
    reason: str = ""
    version: int | None = None


# Helpers ----------------------------------------------------------------------


def entity_of(request: Request) -> m.Entity:
    entities: Mapping[str, m.Entity] = web(request).model.entities
    entity = entities.get(request.path_params["entity"])
    if entity is None:
        raise HTTPException(404, i18n.pick(lang_of(request), "There is no such kind of record.", "没有这类记录。"))
    return entity


def http_error(request: Request, error: Exception) -> HTTPException:
    """Turn a record service error into an error page: 403 without the right, 404 outside the scope."""
    lang = lang_of(request)
    if isinstance(error, PermissionDenied):
        return HTTPException(403, i18n.pick(lang, "You do not have permission for this.", "您没有执行此操作的权限。"))
    return HTTPException(404, i18n.pick(lang, "The record does not exist or you may not see it.", "记录不存在，或您无权查看。"))


def read_record(request: Request, entity: m.Entity, record_id: int) -> dict[str, Any]:
    try:
        return web(request).records.get(actor_of(request), entity.name, record_id)
    except (NotFound, PermissionDenied) as error:
        raise http_error(request, error) from error


def require(request: Request, entity: m.Entity, action: str) -> None:
    if not web(request).records.access.allows(actor_of(request), action, entity.name):
        raise http_error(request, PermissionDenied(entity.name, action))


def redirect(request: Request, url: str) -> Response:
    """Send the browser on to `url`: with HX-Redirect for HTMX, which would otherwise swap the next page in."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def stale_message(request: Request, error: StaleVersion) -> str:
    lang = lang_of(request)
    user = web(request).accounts.user(error.changed_by) if error.changed_by else None
    who = str(user["display_name"]) if user else (error.changed_by or i18n.pick(lang, "another user", "其他用户"))
    when = local_time(error.changed_at, lang)
    return i18n.pick(
        lang,
        f"{who} changed this record at {when}, after you opened it, so your changes were not saved. "
        "Reload the record to see the current version, then make your changes again.",
        f"在您打开此记录之后，{who} 于 {when} 修改了它，因此您的修改没有保存。请重新加载记录查看最新内容后再修改。",
    )


def _builder(request: Request, entity: m.Entity, record: Mapping[str, Any] | None) -> FormBuilder:
    state = web(request)
    lang = lang_of(request)
    titles = ReferenceTitles(state.records, actor_of(request), lang)
    return FormBuilder(entity, lang, timezone_of(state.model), titles, record, entity_url(entity.name))


def _parse(request: Request, entity: m.Entity, form: FormData, record: Mapping[str, Any] | None, *, store_files: bool) -> ParsedForm:
    zone = timezone_of(web(request).model)
    stored: Mapping[str, Any] = record or {}
    parsed = ParsedForm(reason=str(form.get("_reason") or ""))
    version = form.get("_version")
    parsed.version = int(version) if isinstance(version, str) and version.isdigit() else None

    file_fields = []
    for name in posted_fields(form):
        spec = entity.fields.get(name)
        if spec is None:
            continue
        parsed.inputs[name] = parse_input(spec, form, stored.get(name))
        value = submitted_value(spec, parsed.inputs[name], zone)
        if spec.type in FILE_TYPES:
            file_fields.append(spec)
            if record is not None and _file_ids(value) != _file_ids(stored.get(name)):
                parsed.values[name] = value
            continue
        parsed.values[name] = value
    if store_files:
        new, parsed.upload_errors = store_uploads(request, entity, form, file_fields)
        carried = carried_uploads(request, entity, form, file_fields)
        new = without_duplicates(new, stored, carried, parsed.upload_errors)
        parsed.pending = merge_pending(carried, new)
    return parsed


def _id_of(record: Mapping[str, Any] | None) -> str:
    return str(record["id"]) if record is not None else "(new)"


def _file_ids(value: Any) -> list[str]:
    items = [value] if isinstance(value, Mapping) else list(value or [])
    return [str(item.get("sha256")) for item in items if isinstance(item, Mapping)]


def _initial_inputs(request: Request, entity: m.Entity) -> dict[str, Any]:
    """Return inputs a new record's form starts with: values given in the address, such as ?customer=5."""
    inputs: dict[str, Any] = {}
    for name, spec in entity.fields.items():
        value = request.query_params.get(name)
        if value is not None and spec.type not in FILE_TYPES and spec.type not in ("child", "multi_reference", "boolean"):
            inputs[name] = value
    return inputs


def render_form(
    request: Request,
    entity: m.Entity,
    record: Mapping[str, Any] | None,
    parsed: ParsedForm,
    *,
    errors: Mapping[str, list[FieldError]] | None = None,
    status: int = 200,
    stale: str | None = None,
) -> Response:
    """Render the form page, or its fragment for HTMX, with what the user typed and the errors of a save."""
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    defaults = {} if record is not None else {name: spec.default for name, spec in entity.fields.items() if spec.default is not None}
    typed = without_untouched_masked(state.records, actor, entity.name, parsed.values, record)
    rules = evaluate_rules(state.records, actor, entity.name, {**defaults, **(record or {}), **typed}, record=record)
    view = _builder(request, entity, record).build(rules, parsed.inputs, errors, parsed.pending)
    reason_errors = [item.message(lang) for item in (errors or {}).get("_reason", [])]
    if record is None:
        title = i18n.pick(lang, f"New {i18n.label(entity.label, lang).lower()}", f"新建{i18n.label(entity.label, lang)}")
        action = f"{entity_url(entity.name)}/new"
        cancel = entity_url(entity.name)
    else:
        title = i18n.pick(lang, "Edit", "编辑") + f" {i18n.label(entity.label, lang)} · {record_title(entity, record, lang)}"
        action = f"{record_url(entity.name, record['id'])}/edit"
        cancel = record_url(entity.name, record["id"])
    context = {
        "title": title, "entity": entity, "record": record, "view": view, "action": action, "cancel_url": cancel,
        "version": parsed.version if parsed.version is not None else (record or {}).get("version"),
        "reason": parsed.reason, "reason_errors": reason_errors, "stale": stale,
        "reload_url": action if record is not None else None, "base_url": entity_url(entity.name),
    }
    return render(request, "form_page.html", context, block="form", status=status)


# Create and edit ---------------------------------------------------------------


async def new_record(request: Request) -> Response:
    entity = entity_of(request)
    require(request, entity, "create")
    if request.method == "GET":
        initial = _initial_inputs(request, entity)
        return render_form(request, entity, None, ParsedForm(inputs=initial, values=dict(initial)))
    async with request.form() as form:
        parsed = _parse(request, entity, form, None, store_files=True)
    return save(request, entity, None, parsed)


async def edit_record(request: Request) -> Response:
    entity = entity_of(request)
    require(request, entity, "update")
    record = read_record(request, entity, int(request.path_params["id"]))
    if request.method == "GET":
        return render_form(request, entity, record, ParsedForm())
    async with request.form() as form:
        parsed = _parse(request, entity, form, record, store_files=True)
    return save(request, entity, record, parsed)


def save(request: Request, entity: m.Entity, record: Mapping[str, Any] | None, parsed: ParsedForm) -> Response:
    """Check the form's rules, save through the record service, attach the uploads, and redirect."""
    state = web(request)
    actor = actor_of(request)
    submission = prepare_submission(state.records, actor, entity.name, parsed.values, record=record)
    parsed.pending = {name: items for name, items in parsed.pending.items()
                      if (rules := submission.rules.field(name)) is not None and rules.editable}
    errors = {**submission.errors}
    for name, items in parsed.upload_errors.items():
        errors.setdefault(name, []).extend(items)
    reason = parsed.reason.strip() or None
    if entity.reason_required and reason is None:
        errors["_reason"] = [FieldError("required", "Give the reason for this operation.", "请填写操作原因。")]
    if errors:
        logger.info("form save of %s %s by %s rejected: %s", entity.name, _id_of(record), actor.id, ", ".join(errors))
        return render_form(request, entity, record, parsed, errors=errors, status=422)
    if record is not None and parsed.version is None:
        parsed.version = int(record["version"])

    try:
        if record is None:
            saved = state.records.create(actor, entity.name, submission.values, reason=reason)
        elif submission.values:
            saved = state.records.update(actor, entity.name, int(record["id"]), submission.values,
                                         version=int(parsed.version or 0), reason=reason)
        else:
            saved = {"id": record["id"], "version": parsed.version}
    except ValidationFailed as failed:
        logger.info("form save of %s %s by %s rejected: %s", entity.name, _id_of(record), actor.id, ", ".join(failed.errors))
        return render_form(request, entity, record, parsed, errors=failed.errors, status=422)
    except ReasonRequired:
        logger.info("form save of %s %s by %s rejected: no reason given", entity.name, _id_of(record), actor.id)
        return render_form(request, entity, record, parsed, status=422,
                           errors={"_reason": [FieldError("required", "Give the reason for this operation.", "请填写操作原因。")]})
    except StaleVersion as stale:
        logger.info("form save of %s %s by %s rejected: version %s is stale", entity.name, _id_of(record), actor.id, stale.expected)
        return render_form(request, entity, record, parsed, status=409, stale=stale_message(request, stale))
    except (NotFound, PermissionDenied) as error:
        raise http_error(request, error) from error

    try:
        attach_pending(request, entity.name, saved, parsed.pending, reason)
    except (RecordError, FileRejected, OSError) as error:
        # The record is saved; the form of the saved record comes back with the files still to attach.
        logger.warning("files not attached to %s %s: %s", entity.name, saved["id"], error)
        current = read_record(request, entity, int(saved["id"]))
        message = error.message(lang_of(request)) if isinstance(error, (RecordError, FileRejected)) else str(error)
        errors = {name: [FieldError("files", f"The record was saved, but the files were not attached: {message}",
                                    f"记录已保存，但文件没有上传成功：{message}")] for name in parsed.pending}
        return render_form(request, entity, current, ParsedForm(pending=parsed.pending), errors=errors, status=409)
    return redirect(request, record_url(entity.name, saved["id"]))


# Requests of the controls -------------------------------------------------------------


async def form_state(request: Request) -> Response:
    """Evaluate the form's rules on what is typed so far and redraw only the sections and fields that changed."""
    entity = entity_of(request)
    async with request.form() as form:
        record_id = form.get("_id")
        if isinstance(record_id, str) and record_id.isdigit():
            record: dict[str, Any] | None = read_record(request, entity, int(record_id))
        else:
            require(request, entity, "create")
            record = None
        parsed = _parse(request, entity, form, record, store_files=False)
        previous = parse_layout(str(form.get("_layout") or ""))

    state = web(request)
    defaults = {} if record is not None else {name: spec.default for name, spec in entity.fields.items() if spec.default is not None}
    typed = without_untouched_masked(state.records, actor_of(request), entity.name, parsed.values, record)
    rules = evaluate_rules(state.records, actor_of(request), entity.name, {**defaults, **(record or {}), **typed}, record=record)
    view = _builder(request, entity, record).build(rules, parsed.inputs)
    sections = [section for section in view.sections if previous.get(section.dom_id) != section.signature]
    fields = [
        view_field for section in view.sections if section not in sections
        for view_field in section.fields if previous.get(view_field.dom_id) != view_field.signature
    ]
    return render(request, "form_state.html", {"view": view, "sections": sections, "fields": fields,
                                                "entity": entity, "base_url": entity_url(entity.name)})


async def validate_field(request: Request) -> Response:
    """Check one value as typed, with the checks a save runs on it, and return its error fragment."""
    entity = entity_of(request)
    async with request.form() as form:
        path = form.get("_field") or request.headers.get("hx-trigger-name") or ""
        spec = field_of_path(entity, str(path)) if isinstance(path, str) else None
        raw = form.get(form_path(str(path))) if spec is not None else None
    if spec is None or spec.type in FILE_TYPES or spec.type in ("child", "multi_reference"):
        raise HTTPException(404, i18n.pick(lang_of(request), "There is no such field.", "没有这个字段。"))
    lang = lang_of(request)
    value = submitted_value(spec, raw if isinstance(raw, str) else "", timezone_of(web(request).model))
    problems = check_value(dataclasses.replace(spec, required=False), value)[1] if value is not None else []
    messages = [shown_error(spec, FieldError(item.code, item.message_en, item.message_zh)).message(lang) for item in problems]
    return render(request, "form_field_error.html", {"dom_id": dom_id(str(path)), "messages": messages})


async def lookup(request: Request) -> Response:
    """Return the records a reference control may choose, searched by their search text: options, or JSON."""
    entity = entity_of(request)
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    query = (request.query_params.get("q") or "").strip()
    limit_text = request.query_params.get("limit") or ""
    limit = max(1, min(int(limit_text), MAX_LOOKUP)) if limit_text.isdigit() else DEFAULT_LOOKUP
    try:
        page = state.records.list(actor, entity.name, ListQuery(search=query or None, limit=limit))
    except PermissionDenied as error:
        raise http_error(request, error) from error
    except ValidationFailed:
        page = None
    options = [{"id": row["id"], "title": record_title(entity, row, lang)} for row in (page.rows if page else [])]
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"items": options})
    return render(request, "lookup_options.html", {"options": options, "query": query, "entity": entity})


def routes() -> list[BaseRoute]:
    return [
        Route("/records/{entity}/new", new_record, methods=["GET", "POST"]),
        Route("/records/{entity}/lookup", lookup, methods=["GET"]),
        Route("/records/{entity}/form-state", form_state, methods=["POST"]),
        Route("/records/{entity}/validate-field", validate_field, methods=["POST"]),
        Route("/records/{entity}/{id:int}/edit", edit_record, methods=["GET", "POST"]),
    ]
