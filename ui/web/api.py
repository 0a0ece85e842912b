"""The JSON API under /api: records of every entity, the flow engine's routes, and the OpenAPI document.

    GET    /api/{entity}                          list, with the list screens' query parameters
    POST   /api/{entity}                          create
    GET    /api/{entity}/{id}                     one record
    PATCH  /api/{entity}/{id}                     change fields; needs the version read
    DELETE /api/{entity}/{id}?version=N           soft delete
    GET    /api/openapi.json                      the OpenAPI 3.1 document, public

Transitions, approvals, the inbox and delegations are handled in api_flows.py, an entity's own
actions in api_actions.py; both are registered here.

Clients authenticate with `Authorization: Bearer mdk_...`; a signed-in browser session
works too, and then unsafe requests need the CSRF token. Every operation goes through the
record service as the acting user, so the API returns exactly the records and fields the
screens show that user.
The version a change needs comes in the body's "version" member or in an If-Match header
holding the ETag that GET returned. A record read and sent back unchanged changes nothing: a
masked value ("138****5678") sent back as read keeps the stored value, at the top level and in
a child row that keeps the "id" it was read with.
"""

from __future__ import annotations

import builtins
import dataclasses
import difflib
import logging
from typing import Any, Awaitable, Callable, NoReturn

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.errors import PermissionDenied, RecordError, ValidationFailed
from runtime.record_query import ListQuery, Page
from runtime.record_codec import FLOW_SYSTEM_FIELDS
from ui.web import api_actions, api_flows
from ui.web.api_json import (
    ApiError,
    FieldProblem,
    encode_record,
    entity_of,
    fail,
    read_json_object,
    record_error,
    record_id_of,
    request_lang,
    version_of,
)
from ui.web.list_checks import check_list_address
from ui.web.list_messages import ListProblem, query_problems
from ui.web.openapi import openapi_document
from ui.web.state import actor_of, web

logger = logging.getLogger(__name__)

#: Number of matching records at which a list stops counting, when the runtime supports a bounded count.
COUNT_LIMIT = 10_000
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_WRITTEN_BY_SYSTEM = frozenset(m.SYSTEM_FIELDS) | frozenset(FLOW_SYSTEM_FIELDS)

Handler = Callable[[Request], Awaitable[Response]]


async def _answer(request: Request, handler: Handler) -> Response:
    """Run a handler and turn every error it raises on bad input into a JSON error response."""
    try:
        return await handler(request)
    except ApiError as error:
        failure = error
    except RecordError as error:
        entity = web(request).model.entities.get(str(getattr(error, "entity", "")))
        if entity is not None:
            error.named(entity.label.en, entity.label.zh_cn)
        failure = record_error(error)
    actor = request.scope.get("actor")
    logger.info("api %s %s by %s rejected with %s %s", request.method, request.url.path,
                actor.id if actor is not None else "-", failure.status, failure.code)
    return failure.response(request_lang(request))


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(handlers)
            error = ApiError(405, "method_not_allowed", f"{request.method} is not supported here; use {allowed}.",
                             f"此地址不支持 {request.method}；请使用 {allowed}。", headers={"Allow": allowed})
            return error.response(request_lang(request))
        return await _answer(request, handler)

    return endpoint


# Request parts --------------------------------------------------------------------


def _reachable(request: Request, entity: m.Entity, record_id: int, action: str) -> None:
    """Raise PermissionDenied or NotFound before looking at the request's version, as the record service would."""
    records = web(request).records
    actor = actor_of(request)
    if not records.access.allows(actor, action, entity.name):
        raise PermissionDenied(entity.name, action)
    records.get(actor, entity.name, record_id)


def _reason(request: Request) -> str | None:
    return request.query_params.get("reason") or None


def _check_keys(entity: m.Entity, hidden: frozenset[str], body: dict[str, Any]) -> None:
    """Reject members that are no field of the entity the user may see, and system fields, naming each."""
    visible = [name for name in entity.fields if name not in hidden]
    problems: list[FieldProblem] = []
    for key in body:
        if key in _WRITTEN_BY_SYSTEM:
            problems.append(FieldProblem(key, "system_field", f"{key} is set by the system; leave it out of the body",
                                         f"{key} 由系统设置；请勿在请求中发送"))
        elif key not in entity.fields or key in hidden:
            close = difflib.get_close_matches(key, visible, n=1)
            hint_en = f"; did you mean {close[0]!r}?" if close else "; remove it"
            hint_zh = f"；是否是指 {close[0]!r}？" if close else "；请删除"
            problems.append(FieldProblem(key, "unknown_field", f"{entity.name} has no field {key!r}{hint_en}",
                                         f"{entity.name} 没有字段 {key!r}{hint_zh}"))
    if problems:
        names = ", ".join(problem.path for problem in problems)
        fail(400, "unknown_field", f"The body has members that cannot be written: {names}.",
             f"请求中有不能写入的字段：{names}。", problems)


def _with_etag(record: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if record.get("version") is not None:
        extra["ETag"] = f'"{record["version"]}"'
    return JSONResponse(encode_record(record), status_code=status, headers=extra)


# Records --------------------------------------------------------------------------


async def list_records(request: Request) -> Response:
    """List records; reject the request if any query parameter does not apply, naming each by its label and parameter."""
    entity = entity_of(request)
    records = web(request).records
    actor = actor_of(request)
    if not records.access.allows(actor, "read", entity.name):
        raise PermissionDenied(entity.name, "read")
    checked = check_list_address(records, actor, entity, request.query_params, cursor_dropped=False)
    if checked.problems:
        _reject_query(checked.problems)
    query = dataclasses.replace(checked.query, with_total=True)
    try:
        page = records.list(actor, entity.name, _bounded(query))
    except ValidationFailed as error:
        _reject_query(query_problems(checked.wording, error.errors, cursor_dropped=False))
    return JSONResponse({
        "data": [encode_record(row) for row in page.rows],
        "next": page.next_cursor,
        "total": page.total,
        "total_exact": _total_exact(page),
    })


def _reject_query(problems: builtins.list[ListProblem]) -> NoReturn:
    fields = [FieldProblem(problem.key, problem.code, problem.message_en, problem.message_zh) for problem in problems]
    fail(400, "invalid_query", "Some query parameters are not valid; correct them: "
         + " ".join(problem.message_en for problem in problems),
         "部分查询参数无效，请更正：" + "".join(problem.message_zh for problem in problems), fields)


def _bounded(query: ListQuery) -> ListQuery:
    """Stop counting at COUNT_LIMIT when the runtime's ListQuery supports a bounded count."""
    if "count_limit" not in {item.name for item in dataclasses.fields(ListQuery)}:
        return query
    changes: dict[str, Any] = {"count_limit": COUNT_LIMIT}
    return dataclasses.replace(query, **changes)


def _total_exact(page: Page) -> bool:
    return bool(getattr(page, "total_exact", True))


async def get_record(request: Request) -> Response:
    entity = entity_of(request)
    record = web(request).records.get(actor_of(request), entity.name, record_id_of(request, entity))
    return _with_etag(record)


async def create_record(request: Request) -> Response:
    entity = entity_of(request)
    body = await read_json_object(request)
    records = web(request).records
    actor = actor_of(request)
    _check_keys(entity, records.access.fields(actor, entity.name).hidden, body)
    record = records.create(actor, entity.name, body, reason=_reason(request))
    return _with_etag(record, 201, {"Location": f"/api/{entity.name}/{record['id']}"})


async def update_record(request: Request) -> Response:
    entity = entity_of(request)
    record_id = record_id_of(request, entity)
    body = await read_json_object(request)
    _reachable(request, entity, record_id, "update")
    version = version_of(request, body)
    records = web(request).records
    actor = actor_of(request)
    _check_keys(entity, records.access.fields(actor, entity.name).hidden, body)
    # Child rows keep their ids, and masked values sent back as read keep the stored ones:
    # the record service matches them (runtime.masked_input).
    record = records.update(actor, entity.name, record_id, body, version=version, reason=_reason(request))
    return _with_etag(record)


async def delete_record(request: Request) -> Response:
    entity = entity_of(request)
    record_id = record_id_of(request, entity)
    _reachable(request, entity, record_id, "delete")
    version = version_of(request, None)
    web(request).records.delete(actor_of(request), entity.name, record_id, version=version, reason=_reason(request))
    return Response(status_code=204)


# The document and unknown addresses ------------------------------------------------


async def openapi_json(request: Request) -> Response:
    # The document depends only on the loaded application, so it is built once per application object.
    document = getattr(request.app.state, "openapi_document", None)
    if document is None:
        document = openapi_document(web(request).model)
        request.app.state.openapi_document = document
    return JSONResponse(document, media_type="application/json")


async def unknown_path(request: Request) -> Response:
    error = ApiError(404, "not_found", f"There is no API address {request.url.path}; see /api/openapi.json.",
                     f"没有 API 地址 {request.url.path}；请参阅 /api/openapi.json。")
    return error.response(request_lang(request))


def routes() -> builtins.list[BaseRoute]:
    return [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        # The user's own addresses come before the entities', whose names they would otherwise match.
        Route("/api/me/inbox", _dispatch({"GET": api_flows.inbox}), methods=_ALL_METHODS),
        Route("/api/me/delegations", _dispatch({"GET": api_flows.list_delegations, "POST": api_flows.create_delegation}),
              methods=_ALL_METHODS),
        Route("/api/me/delegations/{delegation_id}", _dispatch({"DELETE": api_flows.revoke_delegation}), methods=_ALL_METHODS),
        Route("/api/{entity}", _dispatch({"GET": list_records, "POST": create_record}), methods=_ALL_METHODS),
        Route("/api/{entity}/{id}", _dispatch({"GET": get_record, "PATCH": update_record, "DELETE": delete_record}),
              methods=_ALL_METHODS),
        Route("/api/{entity}/{id}/transitions/{name}", _dispatch({"POST": api_flows.fire_transition}), methods=_ALL_METHODS),
        Route("/api/{entity}/{id}/actions/{name}", _dispatch({"POST": api_actions.run_action}), methods=_ALL_METHODS),
        Route("/api/{entity}/{id}/approvals", _dispatch({"GET": api_flows.approval_progress}), methods=_ALL_METHODS),
        Route("/api/{entity}/{id}/approvals/{name}/approvers", _dispatch({"POST": api_flows.add_approver}), methods=_ALL_METHODS),
        Route("/api/{path:path}", unknown_path, methods=_ALL_METHODS),
    ]
