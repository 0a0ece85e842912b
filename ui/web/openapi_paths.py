"""The paths of the OpenAPI document: list, create, get, update, delete and transitions of each entity.

Responses refer to the error responses and shared parameters defined here, which
`openapi_document` puts under `components`.
"""

from __future__ import annotations

from typing import Any

from metamodel import model as m
from ui.web.api_json import MAX_BODY_BYTES
from ui.web.list_params import DEFAULT_LIMIT, MAX_PAGE


def bilingual(label: m.Label, help_text: m.Label | None = None) -> str:
    """Return a label as "中文 / English", with its help text after it when given."""
    text = f"{label.zh_cn} / {label.en}"
    if help_text is not None:
        text += f". {help_text.zh_cn} / {help_text.en}"
    return text


_ERRORS = {
    "400": ("Malformed request: invalid JSON, a body that is not an object, unknown members or query parameters.",
            "BadRequest"),
    "401": ("No valid API token or session.", "Unauthenticated"),
    "403": ("The user may not perform this action.", "Forbidden"),
    "404": ("No such entity, or no such record within the user's data scope.", "NotFound"),
    "409": ("The record was changed by someone else since the version sent.", "Conflict"),
    "413": (f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.", "TooLarge"),
    "415": ("The body is not application/json.", "UnsupportedMediaType"),
    "422": ("The values do not pass the entity's checks; `fields` lists each problem.", "Unprocessable"),
    "428": ("The change did not say which version of the record it is based on.", "VersionRequired"),
}


def error_responses() -> dict[str, Any]:
    return {
        name: {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for description, name in _ERRORS.values()
    }


def _errors(*statuses: str) -> dict[str, Any]:
    return {status: {"$ref": f"#/components/responses/{_ERRORS[status][1]}"} for status in ("401", "403", "404", *statuses)}


def shared_parameters() -> dict[str, Any]:
    return {
        "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1},
               "description": "记录编号 / Record id"},
        "reason": {"name": "reason", "in": "query", "required": False, "schema": {"type": "string"},
                   "description": "修改原因 / Reason for the change, required by entities that ask for one"},
        "If-Match": {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                     "description": "The ETag of the version read, such as \"3\"; instead of a version member or parameter."},
    }


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}


def _record_answer(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"ETag": {"description": "The record's version in quotes, for If-Match.", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": _ref("schemas", name)}},
    }


def document_path() -> dict[str, Any]:
    return {"get": {
        "operationId": "openapi_document", "summary": "This document", "security": [],
        "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }}


def _list_parameters(entity: m.Entity, flows: tuple[m.Flow, ...]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "搜索 / Search text; every word must match."},
        {"name": "sort", "in": "query", "schema": {"type": "string"}, "examples": {"newest": {"value": "-created_at"}},
         "description": "Fields separated by commas, \"-\" for descending."},
        {"name": "after", "in": "query", "schema": {"type": "string"}, "description": "The `next` cursor of the previous page."},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_LIMIT}},
    ]
    filtered = list(entity.list.filters)
    if flows and "state" not in filtered:
        filtered.append("state")
    for name in filtered:
        field = entity.fields.get(name)
        kind = field.type if field is not None else "string"
        label = bilingual(field.label) if field is not None else "流程状态 / Flow state"
        parameters.append({"name": name, "in": "query", "style": "form", "explode": True,
                           "schema": {"type": "array", "items": {"type": "string"}},
                           "description": f"{label}: equal to one of the values (repeat the parameter)."})
        if kind in m.NUMERIC_TYPES:
            for suffix, word in (("min", "at least"), ("max", "at most")):
                parameters.append({"name": f"{name}.{suffix}", "in": "query", "schema": {"type": "string"},
                                   "description": f"{label}: {word} this value."})
        elif kind in ("date", "datetime"):
            for suffix, word in (("from", "on or after"), ("to", "on or before")):
                parameters.append({"name": f"{name}.{suffix}", "in": "query", "schema": {"type": "string", "format": "date"},
                                   "description": f"{label}: {word} this day."})
    return parameters


def entity_paths(entity: m.Entity, flows: tuple[m.Flow, ...]) -> dict[str, Any]:
    name = entity.name
    title = f"{entity.label.zh_cn} / {entity.label.en}"
    reason = [_ref("parameters", "reason")]
    filter_note = (" Any field filters the same way: `field=value`, `field.min`/`field.max`, "
                   "`field.from`/`field.to`, `field.empty=1|0`.")
    paths: dict[str, Any] = {
        f"/api/{name}": {
            "get": {
                "operationId": f"list_{name}", "tags": [name], "summary": f"List {entity.label.en} records",
                "description": f"{title}: one page of the records the user may read." + filter_note,
                "parameters": _list_parameters(entity, flows),
                "responses": {"200": {"description": "One page.", "content": {"application/json": {"schema": _ref("schemas", f"{name}.page")}}},
                              **_errors("400")},
            },
            "post": {
                "operationId": f"create_{name}", "tags": [name], "summary": f"Create a {entity.label.en}",
                "parameters": reason,
                "requestBody": _json_body(_ref("schemas", name), "The field values; read-only members are not accepted."),
                "responses": {"201": {**_record_answer(name, "The new record."),
                                      "headers": {"Location": {"schema": {"type": "string"}, "description": "The record's address."},
                                                  "ETag": {"schema": {"type": "string"}, "description": "The record's version."}}},
                              **_errors("400", "413", "415", "422")},
            },
        },
        f"/api/{name}/{{id}}": {
            "parameters": [_ref("parameters", "id")],
            "get": {
                "operationId": f"get_{name}", "tags": [name], "summary": f"Read one {entity.label.en}",
                "responses": {"200": _record_answer(name, "The record as the user may see it."), **_errors()},
            },
            "patch": {
                "operationId": f"update_{name}", "tags": [name], "summary": f"Change fields of a {entity.label.en}",
                "parameters": [*reason, _ref("parameters", "If-Match")],
                "requestBody": _json_body(_ref("schemas", f"{name}.patch"),
                                          "The fields to change and the version read. Masked values sent back unchanged are left as they are."),
                "responses": {"200": _record_answer(name, "The changed record."),
                              **_errors("400", "409", "413", "415", "422", "428")},
            },
            "delete": {
                "operationId": f"delete_{name}", "tags": [name], "summary": f"Delete a {entity.label.en}",
                "description": "Soft delete: the record leaves every list and read until restored.",
                "parameters": [{"name": "version", "in": "query", "schema": {"type": "integer"},
                                "description": "The version read; or send it in If-Match."},
                               *reason, _ref("parameters", "If-Match")],
                "responses": {"204": {"description": "Deleted."}, **_errors("400", "409", "422", "428")},
            },
        },
    }
    for transition, sources in _transitions(flows):
        roles = ", ".join(transition.roles) or "any role granted the action"
        paths[f"/api/{name}/{{id}}/transitions/{transition.name}"] = {
            "parameters": [_ref("parameters", "id")],
            "post": {
                "operationId": f"transition_{name}_{transition.name}", "tags": [name],
                "summary": f"{transition.label.en} ({transition.label.zh_cn})",
                "description": f"{bilingual(transition.label)}: from {sources} to {transition.target}. Roles: {roles}. "
                               f"Comment: {transition.comment}.",
                "parameters": [_ref("parameters", "If-Match")],
                "requestBody": _json_body(_ref("schemas", "TransitionRequest"), "The version read and an optional comment."),
                "responses": {"200": _record_answer(name, "The record in its new state."),
                              **_errors("400", "409", "413", "415", "422", "428")},
            },
        }
    return paths


def _transitions(flows: tuple[m.Flow, ...]) -> list[tuple[m.Transition, str]]:
    """Return each transition name once with the states it starts from in any flow; flows of one entity may share a name."""
    first: dict[str, m.Transition] = {}
    sources: dict[str, list[str]] = {}
    for flow in flows:
        for transition in flow.transitions.values():
            first.setdefault(transition.name, transition)
            known = sources.setdefault(transition.name, [])
            known.extend(state for state in transition.sources if state not in known)
    return [(transition, ", ".join(sources[name])) for name, transition in first.items()]
