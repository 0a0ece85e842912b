"""JSON in and out of the API: reading request bodies, encoding records, and structured errors.

Every response under /api is JSON. An error looks like

    {"error": {"code": "validation", "message": "...",
               "fields": [{"path": "price", "code": "min", "message": "..."}]}}

with the message in the language the client asks for in Accept-Language (Simplified
Chinese unless English is preferred). Numbers in request bodies are read as Decimal, so
money sent as 123456789.99 keeps every digit; responses send money as strings.
"""

from __future__ import annotations

import datetime
import difflib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping, NoReturn

from starlette.requests import Request
from starlette.responses import JSONResponse

from metamodel import model as m
from runtime.approvals import ApprovalProgress, LevelProgress
from runtime.audit import json_value
from runtime.errors import (
    FieldError,
    NotFound,
    PermissionDenied,
    ReasonRequired,
    RecordError,
    StaleVersion,
    ValidationFailed,
)
from ui.web.i18n import DEFAULT_LANGUAGE, pick
from ui.web.state import web

#: Largest request body the API reads, in bytes; records with child tables stay far below it.
MAX_BODY_BYTES = 2 * 1024 * 1024
JSON_MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class FieldProblem:
    path: str
    code: str
    message_en: str
    message_zh: str


@dataclass(eq=False)
class ApiError(Exception):
    """An error response: HTTP status, stable code, message in both languages and optional details."""

    status: int
    code: str
    message_en: str
    message_zh: str
    fields: list[FieldProblem] = field(default_factory=list)
    #: Extra members of the error object, such as who changed a record first.
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def response(self, lang: str) -> JSONResponse:
        body: dict[str, Any] = {"code": self.code, "message": pick(lang, self.message_en, self.message_zh)}
        if self.fields:
            body["fields"] = [
                {"path": item.path, "code": item.code, "message": pick(lang, item.message_en, item.message_zh)}
                for item in self.fields
            ]
        body.update(json_value(self.details))
        return JSONResponse({"error": body}, status_code=self.status, headers=self.headers)


def fail(status: int, code: str, en: str, zh: str, fields: list[FieldProblem] | None = None) -> NoReturn:
    raise ApiError(status, code, en, zh, fields or [])


def request_lang(request: Request) -> str:
    """Return the language of the API's messages: the best match of Accept-Language, else the user's own."""
    header = request.headers.get("accept-language", "")
    chosen = preferred_language(header)
    if chosen is not None:
        return chosen
    actor = request.scope.get("actor")
    return str(actor.lang) if actor is not None else DEFAULT_LANGUAGE


def preferred_language(header: str) -> str | None:
    """Pick zh-CN or en from an Accept-Language header by its quality values; None when neither is asked for."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, parameters = part.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        parameter = parameters.strip()
        if parameter.startswith("q="):
            try:
                quality = float(parameter[2:])
            except ValueError:
                quality = 0.0
        if quality <= 0:
            continue
        if tag == "en" or tag.startswith("en-"):
            ranked.append((-quality, position, "en"))
        elif tag == "zh" or tag.startswith("zh-"):
            ranked.append((-quality, position, "zh-CN"))
    return min(ranked)[2] if ranked else None


async def read_json_object(request: Request) -> dict[str, Any]:
    """Read the request body as one JSON object; raise ApiError 413, 415 or 400 when it is not one."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE and not (media_type.startswith("application/") and media_type.endswith("+json")):
        fail(415, "unsupported_media_type",
             f"Send the body as {JSON_MEDIA_TYPE} (Content-Type was {media_type or 'missing'}).",
             f"请求内容须为 {JSON_MEDIA_TYPE}（当前 Content-Type 为 {media_type or '空'}）。")

    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            _too_large()
        chunks.append(chunk)
    raw = b"".join(chunks)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        fail(400, "malformed_json", f"The body is not UTF-8 text (byte {error.start} is invalid).",
             f"请求内容不是 UTF-8 文本（第 {error.start} 字节无效）。")
    if not text.strip():
        fail(400, "malformed_json", "The body is empty; send a JSON object.", "请求内容为空；请发送一个 JSON 对象。")
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        fail(400, "malformed_json", f"The body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.",
             f"请求内容不是有效的 JSON：第 {error.lineno} 行第 {error.colno} 列：{error.msg}。")
    if not isinstance(document, dict):
        kind = type(document).__name__
        fail(400, "not_an_object", f"The body must be a JSON object of field values, not a {_json_kind(kind)}.",
             f"请求内容必须是由字段值组成的 JSON 对象，而不是 {_json_kind(kind)}。")
    return document


# Request parts --------------------------------------------------------------------


def entity_of(request: Request) -> m.Entity:
    """Return the entity the path names; raise ApiError 404 listing the entities when there is none."""
    name = request.path_params["entity"]
    entity: m.Entity | None = web(request).model.entities.get(name)
    if entity is None:
        known = ", ".join(sorted(web(request).model.entities))
        fail(404, "not_found", f"There is no entity {name!r}; the entities are: {known}.",
             f"没有名为 {name!r} 的实体；现有实体：{known}。")
    return entity


def record_id_of(request: Request, entity: m.Entity) -> int:
    text = request.path_params["id"]
    if not text.isdigit() or len(text) > 18:
        fail(404, "not_found", f"{entity.name} {text} was not found; record ids are whole numbers.",
             f"未找到 {entity.name} {text}；记录编号为整数。")
    return int(text)


def version_of(request: Request, body: dict[str, Any] | None) -> int:
    """Return the version a change is based on, from the body, the query or If-Match; they must agree."""
    sources: list[tuple[str, Any]] = []
    if body is not None and "version" in body:
        sources.append(("version", body.pop("version")))
    if "version" in request.query_params:
        sources.append(("version", request.query_params["version"]))
    if "if-match" in request.headers:
        sources.append(("If-Match", request.headers["if-match"].strip().removeprefix("W/").strip('"')))
    if not sources:
        fail(428, "version_required",
             "Send the version of the record you read, as \"version\" or in an If-Match header, so that no one's change is lost.",
             "请提供所读取记录的版本号（\"version\" 或 If-Match 请求头），以免覆盖他人的修改。")
    versions: set[int] = set()
    for where, value in sources:
        parsed = value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(value, str) and value.isdigit() and len(value) < 10:
            parsed = int(value)
        if parsed is None:
            fail(400, "invalid_version", f"{where} must be the record's version, a whole number such as 3; got {value!r}.",
                 f"{where} 必须是记录的版本号（整数，例如 3），收到的是 {value!r}。")
        versions.add(parsed)
    if len(versions) > 1:
        shown = " and ".join(str(item) for item in sorted(versions))
        fail(400, "invalid_version", f"The versions given differ ({shown}); send one.", f"提供的版本号不一致（{shown}）；请只提供一个。")
    return versions.pop()



def reject_unknown_members(body: Mapping[str, Any], allowed: tuple[str, ...], what_en: str, what_zh: str) -> None:
    """Raise ApiError 400 naming each member of `body` that is not in `allowed`, with the closest allowed name."""
    unknown = [key for key in body if key not in allowed]
    if not unknown:
        return
    problems = []
    for key in unknown:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint_en = f"; did you mean {close[0]!r}?" if close else "; remove it"
        hint_zh = f"；是否是指 {close[0]!r}？" if close else "；请删除"
        problems.append(FieldProblem(key, "unknown_field", f"{key!r} is not a member of this request{hint_en}",
                                     f"{key!r} 不是此请求的字段{hint_zh}"))
    shown = ", ".join(f'"{name}"' for name in allowed)
    names = ", ".join(unknown)
    fail(400, "unknown_field", f"{what_en} takes only {shown}; remove {names}.", f"{what_zh}只接受 {shown}；请删除 {names}。",
         problems)


def _too_large() -> NoReturn:
    limit = MAX_BODY_BYTES // 1024
    fail(413, "too_large", f"The body is larger than {limit} KiB; send less data per request.",
         f"请求内容超过 {limit} KiB；请减少每次发送的数据量。")


def _reject_constant(name: str) -> NoReturn:
    # Python's json module accepts NaN and Infinity, which are not JSON and not a value of any field.
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


def _json_kind(python_type: str) -> str:
    return {"list": "array", "str": "string", "int": "number", "Decimal": "number", "bool": "boolean",
            "NoneType": "null"}.get(python_type, python_type)


def encode_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return a record as JSON: Decimals as strings, dates and times in ISO 8601, without `deleted_at`."""
    encoded: dict[str, Any] = json_value({name: value for name, value in record.items() if name != "deleted_at"})
    return encoded


def record_error(error: RecordError) -> ApiError:
    """Translate an error of the record service into the API's error response."""
    if isinstance(error, ValidationFailed):
        return ApiError(422, "validation", error.message_en, error.message_zh, field_problems(error.errors))
    if isinstance(error, NotFound):
        return ApiError(404, "not_found", error.message_en, error.message_zh)
    if isinstance(error, PermissionDenied):
        return ApiError(403, "forbidden", error.message_en, error.message_zh)
    if isinstance(error, StaleVersion):
        return ApiError(409, "stale_version", error.message_en, error.message_zh, details={
            "current_version": error.current, "changed_by": error.changed_by, "changed_at": error.changed_at,
        })
    if isinstance(error, ReasonRequired):
        return ApiError(422, "reason_required", error.message_en + " in the reason query parameter",
                        error.message_zh + "（查询参数 reason）",
                        [FieldProblem("reason", "required", "give the reason for the operation", "请填写操作原因")])
    return ApiError(422, "rejected", error.message(lang="en"), error.message(lang="zh-CN"))


def field_problems(errors: Mapping[str, list[FieldError]]) -> list[FieldProblem]:
    return [FieldProblem(path, item.code, item.message_en, item.message_zh) for path, items in errors.items() for item in items]


# Flows ----------------------------------------------------------------------------


def encode_label(label: m.Label) -> dict[str, str]:
    return {"zh-CN": label.zh_cn, "en": label.en}


def encode_moment(moment: datetime.datetime | None) -> str | None:
    """Return a stored time in ISO 8601 with its offset; SQLite returns UTC times without one."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.isoformat()


def encode_approval(progress: ApprovalProgress) -> dict[str, Any]:
    """Return one approval step as JSON: its levels in order, each with its approvers and signatures."""
    transition = progress.transition
    current = progress.current
    return {
        "transition": transition.name,
        "label": encode_label(transition.label),
        "mode": transition.approval.mode if transition.approval is not None else None,
        "complete": progress.complete,
        "current_level": current.level.name if current is not None else None,
        "levels": [_encode_level(level, level is current) for level in progress.levels],
    }


def _encode_level(level: LevelProgress, current: bool) -> dict[str, Any]:
    spec = level.level
    signatures = [
        {"approver": str(row["approver"]), "approver_name": level.eligible.get(str(row["approver"])),
         "signed_by": str(row["signed_by"]), "comment": row["comment"], "decided_at": encode_moment(row["decided_at"])}
        for row in level.signed
    ]
    return {
        "name": spec.name,
        "label": encode_label(spec.label),
        "roles": list(spec.roles),
        "quorum": spec.quorum,
        "ratio": json_value(spec.ratio),
        "needed": level.needed,
        "complete": level.complete,
        "current": current,
        "approvers": _users(level.eligible),
        "signatures": signatures,
        # Only the current level waits for anyone: later levels open when it is complete.
        "waiting_for": _users(level.waiting_for) if current else [],
    }


def _users(names: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"id": user_id, "name": name} for user_id, name in names.items()]
