"""The detail page of a record: its form read-only, its state and transitions, its history; delete and downloads.

Transitions and delete post from the page. Under HTMX a transition redraws only the
workflow part (state, buttons, errors) and, out of band, the history.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterator, Mapping
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.errors import FieldError, NotFound, PermissionDenied, ReasonRequired, StaleVersion, ValidationFailed
from runtime.files import CHUNK_SIZE, InvalidFileId
from runtime.form_rules import FormRules, evaluate_rules
from runtime.history import record_history
from ui.web import i18n
from ui.web.display import ReferenceTitles, record_title, record_url
from ui.web.form_view import FormBuilder
from ui.web.forms import entity_of, http_error, read_record, redirect, stale_message
from ui.web.history_view import HistoryFormatter
from ui.web.navigation import entity_url
from ui.web.rendering import render
from ui.web.state import actor_of, is_htmx, lang_of, web
from ui.web.widgets import timezone_of

logger = logging.getLogger(__name__)

#: Media types a browser may show in the page rather than download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def _read_only(rules: FormRules) -> FormRules:
    """Return the rules with every field shown as a value, as the detail page shows them."""
    sections = tuple(
        dataclasses.replace(section, fields=tuple(dataclasses.replace(item, read_only=True, required=False) for item in section.fields))
        for section in rules.sections
    )
    return dataclasses.replace(rules, sections=sections)


def _state_label(model: m.AppModel, entity: m.Entity, record: Mapping[str, Any], lang: str) -> str | None:
    state = record.get("state")
    if not state:
        return None
    flow = model.flows.get(str(record.get("flow") or ""))
    if flow is None or flow.entity != entity.name or state not in flow.states:
        return str(state)
    return i18n.label(flow.states[state].label, lang)


def detail_context(
    request: Request,
    entity: m.Entity,
    record: Mapping[str, Any],
    *,
    errors: Mapping[str, list[FieldError]] | None = None,
    stale: str | None = None,
    comments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    titles = ReferenceTitles(state.records, actor, lang)
    rules = evaluate_rules(state.records, actor, entity.name, record, record=record)
    view = FormBuilder(entity, lang, timezone_of(state.model), titles, record, entity_url(entity.name)).build(_read_only(rules), {})
    allows = state.records.access.allows
    history = HistoryFormatter(state, entity, lang, titles).entries(record_history(state.records, actor, entity.name, int(record["id"])))
    return {
        "title": f"{i18n.label(entity.label, lang)} · {record_title(entity, record, lang)}",
        "entity": entity,
        "record": record,
        "view": view,
        "record_url": record_url(entity.name, record["id"]),
        "list_url": entity_url(entity.name),
        "state_label": _state_label(state.model, entity, record, lang),
        "transitions": state.records.transitions_for(actor, entity.name, record),
        "approvals": state.records.approval_progress(actor, entity.name, record),
        "actor_id": actor.id,
        # A final state or the user's field rules may leave nothing to edit.
        "can_edit": allows(actor, "update", entity.name) and any(item.editable for item in rules.fields()),
        "can_delete": allows(actor, "delete", entity.name),
        "history": history,
        "workflow_errors": _error_lines(entity, errors or {}, lang),
        "stale": stale,
        "comments": dict(comments or {}),
        "tab": request.query_params.get("tab", "details"),
    }


def _error_lines(entity: m.Entity, errors: Mapping[str, list[FieldError]], lang: str) -> list[str]:
    """Prefix each error with its field's label, so that a rejected transition names what to fill in."""
    special = {"comment": ("Comment", "审批意见"), "state": ("State", "状态"), "_reason": ("Reason", "原因"),
               "approval": ("Approval", "审批"), "approver": ("Approver", "加签人"), "_record": ("Record", "记录")}
    lines: list[str] = []
    for path, items in errors.items():
        name = path.split(".", 1)[0].split("[", 1)[0]
        field = entity.fields.get(name)
        label = i18n.label(field.label, lang) if field is not None else i18n.pick(lang, *special.get(path, (path, path)))
        lines.extend(f"{label}: {item.message(lang)}" for item in items)
    return lines


async def detail(request: Request) -> Response:
    entity = entity_of(request)
    record = read_record(request, entity, int(request.path_params["id"]))
    return render(request, "detail_page.html", detail_context(request, entity, record))


def _workflow(request: Request, entity: m.Entity, record_id: int, status: int, **extra: Any) -> Response:
    """Return the workflow part after a transition or delete, or the whole page without HTMX."""
    record = read_record(request, entity, record_id)
    context = detail_context(request, entity, record, **extra)
    context["history_oob"] = is_htmx(request)
    return render(request, "detail_page.html", context, block="workflow", status=status)


async def fire_transition(request: Request) -> Response:
    entity = entity_of(request)
    record_id = int(request.path_params["id"])
    name = str(request.path_params["name"])
    async with request.form() as form:
        version_text = str(form.get("_version") or "")
        comment = str(form.get("comment") or "")
    state = web(request)
    lang = lang_of(request)
    comments = {name: comment}
    if not version_text.isdigit():
        raise HTTPException(400, i18n.pick(lang, "The form is incomplete; reload the page.", "表单不完整，请刷新页面。"))
    try:
        state.records.transition(actor_of(request), entity.name, record_id, name, version=int(version_text), comment=comment or None)
    except ValidationFailed as failed:
        logger.info("%s %s: transition %s by %s rejected: %s", entity.name, record_id, name, actor_of(request).id,
                    ", ".join(failed.errors))
        return _workflow(request, entity, record_id, 422, errors=failed.errors, comments=comments)
    except StaleVersion as stale:
        logger.info("%s %s: transition %s by %s rejected: version %s is stale", entity.name, record_id, name,
                    actor_of(request).id, stale.expected)
        return _workflow(request, entity, record_id, 409, stale=stale_message(request, stale), comments=comments)
    except PermissionDenied:
        logger.info("%s %s: transition %s by %s denied", entity.name, record_id, name, actor_of(request).id)
        denied = FieldError("permission", "You may not do this step on this record.", "您不能对此记录执行这一步。")
        return _workflow(request, entity, record_id, 403, errors={"state": [denied]}, comments=comments)
    except NotFound as error:
        raise http_error(request, error) from error
    logger.info("%s %s: transition %s by %s from the detail page", entity.name, record_id, name, actor_of(request).id)
    if is_htmx(request):
        return _workflow(request, entity, record_id, 200)
    return redirect(request, record_url(entity.name, record_id))


async def add_approver(request: Request) -> Response:
    entity = entity_of(request)
    record_id = int(request.path_params["id"])
    name = str(request.path_params["name"])
    async with request.form() as form:
        version_text = str(form.get("_version") or "")
        user_id = str(form.get("approver") or "").strip()
    lang = lang_of(request)
    actor = actor_of(request)
    if not version_text.isdigit():
        raise HTTPException(400, i18n.pick(lang, "The form is incomplete; reload the page.", "表单不完整，请刷新页面。"))
    if not user_id:
        missing = FieldError("required", "Enter the user id of the approver to add.", "请填写加签人的用户名。")
        return _workflow(request, entity, record_id, 422, errors={"approver": [missing]})
    try:
        web(request).records.add_approver(actor, entity.name, record_id, name, user_id, version=int(version_text))
    except ValidationFailed as failed:
        logger.info("%s %s: adding %s to %s by %s rejected: %s", entity.name, record_id, user_id, name, actor.id, ", ".join(failed.errors))
        return _workflow(request, entity, record_id, 422, errors=failed.errors)
    except StaleVersion as stale:
        logger.info("%s %s: adding %s to %s by %s rejected: version %s is stale", entity.name, record_id, user_id, name, actor.id,
                    stale.expected)
        return _workflow(request, entity, record_id, 409, stale=stale_message(request, stale))
    except PermissionDenied:
        logger.info("%s %s: adding %s to %s by %s denied", entity.name, record_id, user_id, name, actor.id)
        denied = FieldError("permission", "Only an approver of this step may add another.", "只有本步骤的审批人才能加签。")
        return _workflow(request, entity, record_id, 403, errors={"approval": [denied]})
    except NotFound as error:
        raise http_error(request, error) from error
    logger.info("%s %s: %s added %s to %s", entity.name, record_id, actor.id, user_id, name)
    if is_htmx(request):
        return _workflow(request, entity, record_id, 200)
    return redirect(request, record_url(entity.name, record_id))


async def delete_record(request: Request) -> Response:
    entity = entity_of(request)
    record_id = int(request.path_params["id"])
    async with request.form() as form:
        version_text = str(form.get("_version") or "")
        reason = str(form.get("_reason") or "").strip() or None
    lang = lang_of(request)
    if not version_text.isdigit():
        raise HTTPException(400, i18n.pick(lang, "The form is incomplete; reload the page.", "表单不完整，请刷新页面。"))
    try:
        web(request).records.delete(actor_of(request), entity.name, record_id, version=int(version_text), reason=reason)
    except ReasonRequired:
        logger.info("delete of %s %s by %s rejected: no reason given", entity.name, record_id, actor_of(request).id)
        missing = FieldError("required", "Give the reason for deleting this record.", "请填写删除原因。")
        return _workflow(request, entity, record_id, 422, errors={"_reason": [missing]})
    except StaleVersion as stale:
        logger.info("delete of %s %s by %s rejected: version %s is stale", entity.name, record_id, actor_of(request).id,
                    stale.expected)
        return _workflow(request, entity, record_id, 409, stale=stale_message(request, stale))
    except (NotFound, PermissionDenied) as error:
        raise http_error(request, error) from error
    return redirect(request, entity_url(entity.name))


async def download(request: Request) -> Response:
    """Serve a file of a record through the attachments service, so the record's permissions decide."""
    entity = entity_of(request)
    record_id = int(request.path_params["id"])
    try:
        description, stream = web(request).attachments.open(
            actor_of(request), entity.name, record_id, str(request.path_params["field"]), str(request.path_params["sha256"])
        )
    except (NotFound, PermissionDenied, InvalidFileId, FileNotFoundError) as error:
        raise http_error(request, NotFound(entity.name, record_id)) from error

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk

    media_type = str(description.get("media_type") or "application/octet-stream")
    filename = str(description.get("filename") or "file")
    disposition = "inline" if media_type in INLINE_TYPES else "attachment"
    fallback = "".join(character if character.isascii() and character not in '"\\;' else "_" for character in filename)
    headers = {
        "Content-Disposition": f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "private, no-store",
    }
    if isinstance(description.get("size"), int):
        headers["Content-Length"] = str(description["size"])
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


def routes() -> list[BaseRoute]:
    return [
        Route("/records/{entity}/{id:int}", detail, methods=["GET"]),
        Route("/records/{entity}/{id:int}/delete", delete_record, methods=["POST"]),
        Route("/records/{entity}/{id:int}/transitions/{name}", fire_transition, methods=["POST"]),
        Route("/records/{entity}/{id:int}/approvals/{name}/approvers", add_approver, methods=["POST"]),
        Route("/records/{entity}/{id:int}/files/{field}/{sha256}", download, methods=["GET"]),
    ]
