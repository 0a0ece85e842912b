"""JSON in and out of the API: reading request bodies, encoding records, and structured errors.

Every response under /api is JSON. An error looks like

    {"error": {"code": "validation", "message": "...",
               "fields": [{"path": "price", "code": "min", "message": "..."}]}}

with the message in the language the client asks for in Accept-Language (Simplified
Chinese unless English is preferred). Numbers in request bodies are read as Decimal, so
money sent as 123456789.99 keeps every digit; responses send money as strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping, NoReturn

from starlette.requests import Request
from starlette.responses import JSONResponse

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
