"""The JSON API of an entity's own actions: POST /api/{entity}/{id}/actions/{name} runs one, as its button does.

The body carries the version read (or If-Match gives it) and an optional comment. The
response is the record after the action, with its new ETag. Errors use the API's error body.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ui.web.api_json import (
    FieldProblem,
    encode_record,
    entity_of,
    fail,
    read_json_object,
    record_id_of,
    reject_unknown_members,
    version_of,
)
from ui.web.state import actor_of, web

logger = logging.getLogger(__name__)


async def run_action(request: Request) -> Response:
    """Run the entity's action named in the path on a record."""
    entity = entity_of(request)
    record_id = record_id_of(request, entity)
    name = request.path_params["name"]
    if name not in {action.name for action in entity.actions}:
        declared = ", ".join(action.name for action in entity.actions) or "-"
        fail(404, "unknown_action", f"{entity.name} has no action {name!r}; its actions are {declared}.",
             f"{entity.name} 没有名为 {name!r} 的操作；现有操作：{declared}。")
    body = await read_json_object(request)
    version = version_of(request, body)
    comment = body.pop("comment", None)
    reject_unknown_members(body, ("version", "comment"), "An action", "操作请求")
    if comment is not None and not isinstance(comment, str):
        fail(400, "invalid_comment", "\"comment\" must be text.", "\"comment\" 必须是文本。",
             [FieldProblem("comment", "type", "enter the comment as text", "请以文本填写说明")])
    record = web(request).records.run_action(actor_of(request), entity.name, record_id, name, version=version, comment=comment)
    headers = {"ETag": f'"{record["version"]}"'} if record.get("version") is not None else {}
    return JSONResponse(encode_record(record), headers=headers)
