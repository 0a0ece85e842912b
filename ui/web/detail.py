"""The detail page of a record: its form read-only, its state and transitions, its history, the records
related to it (ui/web/related.py); delete and downloads.

Transitions and delete post from the page. Under HTMX a transition redraws only the
workflow part (state, buttons, errors) and, out of band, the history. A transition that
needs a comment, a confirmation or empty required fields opens a dialog
(ui/web/transition_view.py); the fields it fills are saved before the transition fires
(ui/web/transition_fields.py). A transition posted with `_next` (from the inbox) goes back
there once done.

A user who may not read a record, but acts today for a delegator who may act on it, is shown
the record as the delegator reads it (runtime.inbox.open_record), under a banner naming the delegator.
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
from runtime.flows import flow_of
from runtime.form_rules import FormRules, evaluate_rules
from runtime.history import record_history
from runtime.inbox import OpenedRecord, open_record
from runtime.records import RecordService
from ui.web import i18n
from ui.web.display import ReferenceTitles, record_title, record_url
from ui.web.form_view import FormBuilder
from ui.web.forms import entity_of, http_error, redirect, stale_message
from ui.web.history_view import HistoryFormatter
from ui.web.navigation import entity_url
from ui.web.printing_links import print_links
from ui.web.related import related_sections
from ui.web.rendering import render
from ui.web.state import actor_of, is_htmx, lang_of, web
from ui.web.transition_fields import check_dialog_fields, read_dialog_fields
from ui.web.transition_view import Attempt, error_lines, transition_views
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


def _state_label(records: RecordService, entity: m.Entity, record: Mapping[str, Any], lang: str) -> str | None:
    state = record.get("state")
    if not state:
        return None
    flow = flow_of(records, entity.name, record)
    if flow is None or state not in flow.states:
        return str(state)
    return i18n.label(flow.states[state].label, lang)


def open_detail(request: Request, entity: m.Entity, record_id: int) -> OpenedRecord:
    """Read a record for the page as the user, or as a delegator the user acts for. Raise the error page when neither may."""
    try:
        return open_record(web(request).records, actor_of(request), entity.name, record_id)
    except (NotFound, PermissionDenied) as error:
        raise http_error(request, error) from error


def safe_next(value: Any) -> str | None:
    """Return a page of this site to go back to after a transition, or None for an address elsewhere."""
    text = str(value or "")
    if not text.startswith("/") or text.startswith("//") or "\\" in text or any(ord(character) < 32 for character in text):
        return None
    return text


def detail_context(
    request: Request,
    entity: m.Entity,
    opened: OpenedRecord,
    *,
    errors: Mapping[str, list[FieldError]] | None = None,
    stale: str | None = None,
    attempt: Attempt | None = None,
    next_url: str | None = None,
) -> dict[str, Any]:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    record, reader = opened.record, opened.reader
    # A delegate is shown the record as the delegator reads it, and may only fire its transitions.
    titles = ReferenceTitles(state.records, reader, lang)
    rules = evaluate_rules(state.records, reader, entity.name, record, record=record)
    view = FormBuilder(entity, lang, timezone_of(state.model), titles, record, entity_url(entity.name)).build(_read_only(rules), {})
    allows = state.records.access.allows
    history = HistoryFormatter(state, entity, lang, titles).entries(record_history(state.records, reader, entity.name, int(record["id"])))
    transitions = state.records.transitions_for(actor, entity.name, record)
    approvals = state.records.approval_progress(actor, entity.name, record)
    own = not opened.delegated
    return {
        "title": f"{i18n.label(entity.label, lang)} · {record_title(entity, record, lang)}",
        "entity": entity,
        "record": record,
        "view": view,
        "record_url": record_url(entity.name, record["id"]),
        "list_url": entity_url(entity.name),
        "state_label": _state_label(state.records, entity, record, lang),
        "transitions": transition_views(request, entity, record, transitions, editor=actor if own else None, attempt=attempt),
        "approvals": approvals,
        "signer_names": _signer_names(state, approvals),
        "actions": state.records.actions_for(actor, entity.name, record) if own else [],
        # Print buttons only on the user's own view: a delegate may only do the delegator's steps.
        "prints": print_links(request, entity, record) if own else [],
        "approver_ids": {actor.id, reader.id},
        "acting_for": reader if opened.delegated else None,
        "next_url": next_url,
        # A final state or the user's field rules may leave nothing to edit.
        "can_edit": own and allows(actor, "update", entity.name) and any(item.editable for item in rules.fields()),
        "can_delete": own and allows(actor, "delete", entity.name),
        "history": history,
        "workflow_errors": error_lines(entity, {**(errors or {}), **(attempt.errors if attempt else {})}, lang),
        "stale": stale,
        "tab": request.query_params.get("tab", "details"),
    }


def _signer_names(state: Any, approvals: list[Any]) -> dict[str, str]:
    """Return the display name of every user who signed or signed for someone in the approvals shown."""
    names: dict[str, str] = {}
    for progress in approvals:
        for level in progress.levels:
            names.update(level.eligible)
            for row in level.signed:
                for user_id in (str(row["approver"]), str(row["signed_by"])):
                    if user_id not in names:
                        user = state.accounts.user(user_id)
                        names[user_id] = str(user["display_name"]) if user else user_id
    return names


async def detail(request: Request) -> Response:
    entity = entity_of(request)
    opened = open_detail(request, entity, int(request.path_params["id"]))
    context = detail_context(request, entity, opened)
    # Read as the user, as the list screens of the related entities are; only the whole page shows them.
    context["related"] = related_sections(web(request).records, actor_of(request), entity, int(opened.record["id"]))
    return render(request, "detail_page.html", context)


def _workflow(request: Request, entity: m.Entity, record_id: int, status: int, **extra: Any) -> Response:
    """Return the workflow part after a transition or delete, or the whole page without HTMX."""
    context = detail_context(request, entity, open_detail(request, entity, record_id), **extra)
    context["history_oob"] = is_htmx(request)
    return render(request, "detail_page.html", context, block="workflow", status=status)


#: Columns a transition changes without changing what the record's fields show.
_FLOW_COLUMNS = frozenset({"state", "version", "updated_at", "updated_by"})


def _fields_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return any(before.get(name) != value for name, value in after.items() if name not in _FLOW_COLUMNS)


async def fire_transition(request: Request) -> Response:
    """Fire a transition, or sign its approval, after saving the required fields its dialog filled in."""
    entity = entity_of(request)
    record_id = int(request.path_params["id"])
    name = str(request.path_params["name"])
    actor = actor_of(request)
    lang = lang_of(request)
    async with request.form() as form:
        version_text = str(form.get("_version") or "")
        comment = str(form.get("comment") or "")
        on_behalf_of = str(form.get("_for") or "") or None
        next_url = safe_next(form.get("_next"))
        if not version_text.isdigit():
            raise HTTPException(400, i18n.pick(lang, "The form is incomplete; reload the page.", "表单不完整，请刷新页面。"))
        opened = open_detail(request, entity, record_id)
        filled = read_dialog_fields(request, entity, form, opened, name)
    state = web(request)
    version = int(version_text)

    def failed(status: int, errors: Mapping[str, list[FieldError]], *, stale: str | None = None) -> Response:
        attempt = Attempt(name, comment, filled.inputs, errors)
        return _workflow(request, entity, record_id, status, attempt=attempt, stale=stale, next_url=next_url)

    values: dict[str, Any] = {}
    if filled.values:
        checked = check_dialog_fields(request, entity, opened, name, filled, comment)
        if checked.errors:
            return failed(422, checked.errors)
        values = checked.values
    try:
        # The dialog's values are saved in the transition's transaction, so a failed step saves nothing.
        state.records.transition(actor, entity.name, record_id, name, version=version, comment=comment or None,
                                 on_behalf_of=on_behalf_of, values=values or None)
    except ValidationFailed as rejected:
        logger.info("%s %s: transition %s by %s rejected: %s", entity.name, record_id, name, actor.id, ", ".join(rejected.errors))
        return failed(422, rejected.errors)
    except ReasonRequired:
        logger.info("%s %s: transition %s by %s rejected: no reason for the changed fields", entity.name, record_id, name, actor.id)
        return failed(422, {"comment": [FieldError("required", "Write a comment: changes to this record need a reason.",
                                                   "请填写审批意见：修改此类记录需要说明原因。")]})
    except StaleVersion as stale:
        logger.info("%s %s: transition %s by %s rejected: version %s is stale", entity.name, record_id, name, actor.id, stale.expected)
        return failed(409, {}, stale=stale_message(request, stale))
    except PermissionDenied:
        logger.info("%s %s: transition %s by %s denied", entity.name, record_id, name, actor.id)
        denied = FieldError("permission", "You may not do this step on this record.", "您不能对此记录执行这一步。")
        return failed(403, {"state": [denied]})
    except NotFound as error:
        raise http_error(request, error) from error
    logger.info("%s %s: transition %s by %s from %s", entity.name, record_id, name, actor.id, next_url or "the detail page")
    if next_url is not None:
        return redirect(request, next_url)
    try:
        after = open_record(state.records, actor, entity.name, record_id)
    except (NotFound, PermissionDenied):
        # A delegate who has done their part may no longer reach the record.
        return redirect(request, "/inbox")
    if is_htmx(request) and not _fields_changed(opened.record, after.record):
        # The workflow panel shows the state, the approvals and the history; changed fields need the whole page.
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
        missing = FieldError("required", "Enter the user id or sign-in name of the approver to add.", "请填写加签人的用户编号或登录名。")
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


async def run_action(request: Request) -> Response:
    """Run one of the entity's own actions; errors are shown in the workflow panel."""
    entity = entity_of(request)
    record_id = int(request.path_params["id"])
    name = str(request.path_params["name"])
    async with request.form() as form:
        version_text = str(form.get("_version") or "")
    lang = lang_of(request)
    actor = actor_of(request)
    if not version_text.isdigit():
        raise HTTPException(400, i18n.pick(lang, "The form is incomplete; reload the page.", "表单不完整，请刷新页面。"))
    before = open_detail(request, entity, record_id).record
    try:
        after = web(request).records.run_action(actor, entity.name, record_id, name, version=int(version_text))
    except ValidationFailed as failed:
        logger.info("%s %s: action %s by %s rejected: %s", entity.name, record_id, name, actor.id, ", ".join(failed.errors))
        return _workflow(request, entity, record_id, 422, errors=failed.errors)
    except StaleVersion as stale:
        logger.info("%s %s: action %s by %s rejected: version %s is stale", entity.name, record_id, name, actor.id, stale.expected)
        return _workflow(request, entity, record_id, 409, stale=stale_message(request, stale))
    except PermissionDenied:
        logger.info("%s %s: action %s by %s denied", entity.name, record_id, name, actor.id)
        denied = FieldError("permission", "You may not do this on this record.", "您不能对此记录执行该操作。")
        return _workflow(request, entity, record_id, 403, errors={"_record": [denied]})
    except NotFound as error:
        raise http_error(request, error) from error
    if is_htmx(request) and not _fields_changed(before, after):
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
    except ValidationFailed as refused:
        # Records that refer to it, or an after_delete hook, keep the record.
        logger.info("delete of %s %s by %s rejected: %s", entity.name, record_id, actor_of(request).id, ", ".join(refused.errors))
        return _workflow(request, entity, record_id, 422, errors=refused.errors)
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
        Route("/records/{entity}/{id:int}/actions/{name}", run_action, methods=["POST"]),
        Route("/records/{entity}/{id:int}/approvals/{name}/approvers", add_approver, methods=["POST"]),
        Route("/records/{entity}/{id:int}/files/{field}/{sha256}", download, methods=["GET"]),
    ]
