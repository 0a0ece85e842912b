"""The JSON API of the flow engine: transitions, approval progress, adding approvers, the inbox and delegations.

    POST   /api/{entity}/{id}/transitions/{name}          fire a transition, or sign its approval
    GET    /api/{entity}/{id}/approvals                   progress of the approvals open in the record's state
    POST   /api/{entity}/{id}/approvals/{name}/approvers  add an approver to the current level
    GET    /api/me/inbox                                  records waiting for the user and for those the user acts for
    GET    /api/me/delegations                            delegations the user gave or received that have not ended
    POST   /api/me/delegations                            hand the user's roles, or one of them, to another user
    DELETE /api/me/delegations/{id}                       revoke a delegation

api.py registers these routes. Every operation runs through the runtime as the acting user, as
the screens do. A user reaches a record by reading it, or through a delegator whose delegation
runs today and reaches one of the record's transitions (runtime.inbox.open_record). A record
outside both is reported as not found. Automatic transitions fire by themselves, so a request to
fire one is rejected with 403. An entity named `me` keeps its records' addresses, because record ids
are numbers and never "inbox" or "delegations".
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, NoReturn

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from metamodel import model as m
from runtime import inbox as work
from runtime.delegations import RESOURCE, Delegations, local_today
from runtime.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from ui.web.api_json import (
    ApiError,
    FieldProblem,
    encode_approval,
    encode_label,
    encode_moment,
    encode_record,
    entity_of,
    fail,
    read_json_object,
    record_id_of,
    reject_unknown_members,
    version_of,
)
from ui.web.list_params import DEFAULT_LIMIT, MAX_PAGE
from ui.web.state import actor_of, web

logger = logging.getLogger(__name__)

INBOX_PARAMETERS = ("kind", "for", "page", "limit")
DELEGATION_MEMBERS = ("delegate", "role", "starts_on", "ends_on", "reason")
#: Message for each required member of a delegation request when it is missing or blank.
_REQUIRED_DELEGATION = {
    "delegate": ("Enter the user id or sign-in name of the user who acts for you", "请填写代办人的用户编号或登录名"),
    "starts_on": ("Enter the first day, such as 2026-12-01", "请填写开始日期，例如 2026-12-01"),
    "ends_on": ("Enter the last day, such as 2026-12-31", "请填写结束日期，例如 2026-12-31"),
}


# Transitions ----------------------------------------------------------------------


def _declared(request: Request, entity: m.Entity) -> dict[str, list[m.Transition]]:
    """Return the entity's transitions by name; several flows of one entity may declare the same name."""
    found: dict[str, list[m.Transition]] = {}
    for flow in web(request).model.flows_for(entity.name):
        for transition in flow.transitions.values():
            found.setdefault(transition.name, []).append(transition)
    return found


def _reject_automatic(transition: m.Transition) -> NoReturn:
    label = transition.label
    fail(403, "automatic_transition",
         f"“{label.en}” ({transition.name}) happens by itself when its condition holds; no one fires it by hand.",
         f"“{label.zh_cn}”（{transition.name}）在条件满足时自动执行，不能手工执行。")


def _by_hand(request: Request, entity: m.Entity, name: str) -> list[m.Transition]:
    """Return the transitions named `name` that a user may fire; raise 404 for no such name and 403 for an automatic one."""
    declared = _declared(request, entity)
    offered = sorted(other for other, transitions in declared.items() if any(not item.automatic for item in transitions))
    if name not in declared:
        known = ", ".join(offered) or "none"
        fail(404, "not_found", f"{entity.name} has no transition {name!r}; its transitions are: {known}.",
             f"{entity.name} 没有名为 {name!r} 的流转；现有流转：{known}。")
    manual = [transition for transition in declared[name] if not transition.automatic]
    if not manual:
        _reject_automatic(declared[name][0])
    return manual


def check_access(request: Request, entity: m.Entity, record_id: int, transitions: list[m.Transition]) -> work.OpenedRecord:
    """Raise NotFound or PermissionDenied as the runtime would, before the request's version is looked at.

    The user must reach the record (themselves or through a delegator) and hold the grant of one of
    `transitions`, themselves or through a delegation that reaches it. The runtime checks the rest.
    """
    service = web(request).records
    actor = actor_of(request)
    opened = work.open_record(service, actor, entity.name, record_id)
    principals = work.principals(service, actor)
    if not any(principal.may(service, entity.name, transition) for principal in principals for transition in transitions):
        raise PermissionDenied(entity.name, transitions[0].name)
    return opened


async def fire_transition(request: Request) -> Response:
    """Fire a transition, or sign its approval, for the user or for a delegator named in "on_behalf_of"."""
    entity = entity_of(request)
    record_id = record_id_of(request, entity)
    name = request.path_params["name"]
    transitions = _by_hand(request, entity, name)
    body = await read_json_object(request)
    check_access(request, entity, record_id, transitions)
    version = version_of(request, body)
    comment = body.pop("comment", None)
    on_behalf_of = body.pop("on_behalf_of", None)
    reject_unknown_members(body, ("version", "comment", "on_behalf_of"), "A transition", "流转请求")
    if comment is not None and not isinstance(comment, str):
        fail(400, "invalid_comment", "\"comment\" must be text.", "\"comment\" 必须是文本。",
             [FieldProblem("comment", "type", "enter the comment as text", "请以文本填写意见")])
    if on_behalf_of is not None:
        _check_delegator(request, entity, on_behalf_of)

    service = web(request).records
    try:
        record = service.transition(actor_of(request), entity.name, record_id, name, version=version, comment=comment,
                                    on_behalf_of=on_behalf_of)
    except ValidationFailed as error:
        # A name may be automatic in the flow the record follows and manual in another flow of the entity.
        if any(item.code == "transition.automatic" for items in error.errors.values() for item in items):
            _reject_automatic(next(item for item in _declared(request, entity)[name] if item.automatic))
        raise
    headers = {"ETag": f'"{record["version"]}"'} if record.get("version") is not None else {}
    return JSONResponse(encode_record(record), headers=headers)


def _check_delegator(request: Request, entity: m.Entity, on_behalf_of: Any) -> None:
    """Reject an "on_behalf_of" that is not the user or a user whose delegation to the user runs today."""
    if not isinstance(on_behalf_of, str):
        fail(400, "invalid_on_behalf_of", "\"on_behalf_of\" must be the id of a user, as text.", "\"on_behalf_of\" 必须是用户编号（文本）。",
             [FieldProblem("on_behalf_of", "type", "enter the delegator's user id as text", "请以文本填写委托人的用户编号")])
    known = [principal.id for principal in work.principals(web(request).records, actor_of(request))]
    if on_behalf_of not in known:
        choices = ", ".join(known)
        raise ValidationFailed(entity.name, {"on_behalf_of": [FieldError(
            "not_delegator", f"No delegation from {on_behalf_of!r} to you runs today; use one of: {choices}",
            f"今天没有 {on_behalf_of!r} 委托给您的有效委托；可选：{choices}")]})


# Approvals ------------------------------------------------------------------------


def _approval_steps(request: Request, entity: m.Entity, name: str | None) -> list[m.Transition]:
    """Return the approval transitions a user signs by hand, all or those named `name`; raise 404 when there are none."""
    declared = _declared(request, entity)
    steps = {other: [item for item in items if item.approval is not None and not item.automatic] for other, items in declared.items()}
    offered = sorted(other for other, items in steps.items() if items)
    if not offered:
        fail(404, "not_found", f"{entity.name} has no approval steps.", f"{entity.name} 没有审批步骤。")
    if name is None:
        return [item for other in offered for item in steps[other]]
    if not steps.get(name):
        known = ", ".join(offered)
        fail(404, "not_found", f"{entity.name} has no approval step {name!r}; its approval steps are: {known}.",
             f"{entity.name} 没有名为 {name!r} 的审批步骤；现有审批步骤：{known}。")
    return steps[name]


def _progress_response(request: Request, entity: m.Entity, opened: work.OpenedRecord) -> JSONResponse:
    record = opened.record
    progress = web(request).records.approval_progress(actor_of(request), entity.name, record)
    body = {
        "entity": entity.name,
        "id": record["id"],
        "version": record.get("version"),
        "state": record.get("state"),
        "acting_for": {"id": opened.reader.id, "name": opened.reader.name} if opened.delegated else None,
        "approvals": [encode_approval(item) for item in progress],
    }
    return JSONResponse(body, headers={"ETag": f'"{record["version"]}"'})


async def approval_progress(request: Request) -> Response:
    """Return each approval open in the record's state: its levels, who signed, who is waiting and how many are needed."""
    entity = entity_of(request)
    record_id = record_id_of(request, entity)
    _approval_steps(request, entity, None)
    opened = work.open_record(web(request).records, actor_of(request), entity.name, record_id)
    return _progress_response(request, entity, opened)


async def add_approver(request: Request) -> Response:
    """Add a user to the current level of an approval step; only an approver of that level may."""
    entity = entity_of(request)
    record_id = record_id_of(request, entity)
    name = request.path_params["name"]
    steps = _approval_steps(request, entity, name)
    body = await read_json_object(request)
    check_access(request, entity, record_id, steps)
    version = version_of(request, body)
    approver = body.pop("approver", None)
    reject_unknown_members(body, ("version", "approver"), "Adding an approver", "加签请求")
    if approver is None or (isinstance(approver, str) and not approver.strip()):
        raise ValidationFailed(entity.name, {"approver": [FieldError(
            "required", "Enter the user id or sign-in name of the approver to add", "请填写加签人的用户编号或登录名")]})
    if not isinstance(approver, str):
        raise ValidationFailed(entity.name, {"approver": [FieldError(
            "type", f"Enter the approver as text, a user id or sign-in name, not {approver!r}",
            f"加签人须为文本（用户编号或登录名），而不是 {approver!r}")]})

    service = web(request).records
    actor = actor_of(request)
    try:
        service.add_approver(actor, entity.name, record_id, name, approver.strip(), version=version)
    except PermissionDenied:
        label = steps[0].label
        fail(403, "forbidden", f"Only an approver of the current level of “{label.en}” may add another approver.",
             f"只有“{label.zh_cn}”当前级别的审批人才能加签。")
    logger.info("%s %s: %s added %s to %s through the API", entity.name, record_id, actor.id, approver, name)
    return _progress_response(request, entity, work.open_record(service, actor, entity.name, record_id))


# The inbox ------------------------------------------------------------------------


def _whole_number(problems: list[FieldProblem], key: str, text: str | None, default: int, maximum: int | None) -> int:
    if text is None:
        return default
    if text.isdigit() and len(text) < 10 and int(text) >= 1 and (maximum is None or int(text) <= maximum):
        return int(text)
    limit_en = f" from 1 to {maximum}" if maximum is not None else " of at least 1"
    limit_zh = f"（1 到 {maximum}）" if maximum is not None else "（至少为 1）"
    problems.append(FieldProblem(key, "invalid", f"{key} must be a whole number{limit_en}, not {text!r}",
                                 f"{key} 必须是整数{limit_zh}，而不是 {text!r}"))
    return default


async def inbox(request: Request) -> Response:
    """Return the counts and one page of the records waiting for the user, newest first."""
    service = web(request).records
    actor = actor_of(request)
    parameters = request.query_params
    problems = [FieldProblem(key, "unknown_parameter", f"{key} is no parameter of the inbox; use {', '.join(INBOX_PARAMETERS)}",
                             f"{key} 不是待办事项的参数；可用参数：{', '.join(INBOX_PARAMETERS)}")
                for key in parameters if key not in INBOX_PARAMETERS]
    kind = parameters.get("kind")
    if kind is not None and kind not in work.KINDS:
        problems.append(FieldProblem("kind", "invalid", f"kind must be one of {', '.join(work.KINDS)}, not {kind!r}",
                                     f"kind 必须是 {'、'.join(work.KINDS)} 之一，而不是 {kind!r}"))
        kind = None
    number = _whole_number(problems, "page", parameters.get("page"), 1, None)
    size = _whole_number(problems, "limit", parameters.get("limit"), DEFAULT_LIMIT, MAX_PAGE)
    waiting = work.Inbox(service, actor)
    known = [principal.id for principal in waiting.principals]
    principal = parameters.get("for")
    if principal is not None and principal not in known:
        problems.append(FieldProblem("for", "invalid", f"for must be you or a user you act for today: {', '.join(known)}; "
                                     f"not {principal!r}", f"for 必须是您本人或今天您代办的用户：{'、'.join(known)}；而不是 {principal!r}"))
    if problems:
        fail(400, "invalid_query", "Some query parameters are not valid; correct them: "
             + "; ".join(problem.message_en for problem in problems) + ".",
             "部分查询参数无效，请更正：" + "；".join(problem.message_zh for problem in problems) + "。", problems)

    counts = waiting.counts()
    found = waiting.page(number=number, size=size, kind=kind, principal=principal)
    return JSONResponse({
        "counts": [{"user": _principal(item.principal), "kind": item.kind, "count": item.count} for item in counts],
        "data": [_inbox_row(row) for row in found.rows],
        "page": found.number,
        "limit": found.size,
        "pages": found.pages,
        "total": found.total,
    })


def _principal(principal: work.Principal) -> dict[str, Any]:
    return {"id": principal.id, "name": principal.actor.name, "delegated": principal.delegated}


def _inbox_row(row: work.InboxRow) -> dict[str, Any]:
    return {
        "entity": row.entity,
        "id": row.record["id"],
        "kind": row.kind,
        "acting_for": {"id": row.principal.id, "name": row.principal.actor.name} if row.principal.delegated else None,
        "transitions": [{"name": item.name, "label": encode_label(item.label)} for item in row.transitions],
        "approvals": [encode_approval(item) for item in row.approvals],
        "record": encode_record(row.record),
    }


# Delegations ----------------------------------------------------------------------


def _delegation(request: Request, row: dict[str, Any], today: datetime.date) -> dict[str, Any]:
    state = web(request)
    actor = actor_of(request)

    def user(user_id: str) -> dict[str, Any]:
        found = state.accounts.user(user_id)
        return {"id": user_id, "name": found["display_name"] if found is not None else None}

    administers = state.permissions.allows(actor, "administer", m.SYSTEM_RESOURCE)
    return {
        "id": int(row["id"]),
        "direction": "given" if row["delegator"] == actor.id else "received",
        "delegator": user(str(row["delegator"])),
        "delegate": user(str(row["delegate"])),
        "role": row["role"],
        "starts_on": row["starts_on"].isoformat(),
        "ends_on": row["ends_on"].isoformat(),
        "reason": row["reason"],
        "running": row["starts_on"] <= today <= row["ends_on"],
        "may_revoke": row["delegator"] == actor.id or administers,
        "created_by": row["created_by"],
        "created_at": encode_moment(row["created_at"]),
    }


async def list_delegations(request: Request) -> Response:
    """Return the delegations the user gave or received that have not ended or been revoked, soonest first."""
    service = web(request).records
    today = local_today(service)
    rows = Delegations(service).of_user(actor_of(request).id)
    return JSONResponse({"data": [_delegation(request, row, today) for row in rows]})


def _text(body: dict[str, Any], name: str, errors: dict[str, list[FieldError]], *, required: bool) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = [FieldError("required", *_REQUIRED_DELEGATION[name])]
        return None
    if not isinstance(value, str):
        errors[name] = [FieldError("type", f"{name} must be text, not {value!r}", f"{name} 必须是文本，而不是 {value!r}")]
        return None
    return value.strip()


def _day(body: dict[str, Any], name: str, errors: dict[str, list[FieldError]]) -> datetime.date | None:
    text = _text(body, name, errors, required=True)
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        errors[name] = [FieldError("type.date", f"{name} must be a date such as 2026-12-01, not {text!r}",
                                   f"{name} 必须是日期，例如 2026-12-01，而不是 {text!r}")]
        return None


async def create_delegation(request: Request) -> Response:
    """Hand the user's roles, or the one named in "role", to "delegate" from "starts_on" to "ends_on", both days included."""
    service = web(request).records
    actor = actor_of(request)
    body = await read_json_object(request)
    reject_unknown_members(body, DELEGATION_MEMBERS, "A delegation", "委托请求")
    errors: dict[str, list[FieldError]] = {}
    delegate = _text(body, "delegate", errors, required=True)
    role = _text(body, "role", errors, required=False)
    reason = _text(body, "reason", errors, required=False)
    starts_on = _day(body, "starts_on", errors)
    ends_on = _day(body, "ends_on", errors)
    if errors or delegate is None or starts_on is None or ends_on is None:
        raise ValidationFailed(RESOURCE, errors)

    delegations = Delegations(service)
    delegation_id = delegations.create(actor, actor.id, delegate, starts_on, ends_on, role=role, reason=reason)
    logger.info("delegation %s of %s to %s saved through the API", delegation_id, actor.id, delegate)
    today = local_today(service)
    row = next((item for item in delegations.of_user(actor.id) if int(item["id"]) == delegation_id), None)
    if row is None:
        # Revoked by someone else since it was saved, so of_user leaves it out: return what was saved.
        row = {"id": delegation_id, "delegator": actor.id, "delegate": delegate, "role": role, "starts_on": starts_on,
               "ends_on": ends_on, "reason": reason, "created_by": actor.id, "created_at": None}
    return JSONResponse(_delegation(request, row, today), status_code=201)


async def revoke_delegation(request: Request) -> Response:
    """Revoke a delegation the user gave; administrators may revoke anyone's."""
    service = web(request).records
    actor = actor_of(request)
    text = request.path_params["delegation_id"]
    if not text.isdigit() or len(text) > 18:
        raise NotFound(RESOURCE, text)
    delegation_id = int(text)
    try:
        Delegations(service).revoke(actor, delegation_id)
    except PermissionDenied:
        # A delegation the user neither gave nor received is reported like one that does not exist.
        received = {int(row["id"]) for row in Delegations(service).of_user(actor.id)}
        if delegation_id not in received:
            raise NotFound(RESOURCE, delegation_id) from None
        raise ApiError(403, "forbidden", "Only the delegator or an administrator may revoke a delegation.",
                       "只有委托人或管理员才能撤销委托。") from None
    return Response(status_code=204)
