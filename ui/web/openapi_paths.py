"""The paths of the OpenAPI document: list, create, get, update, delete, transitions and approvals of each
entity, and the user's inbox and delegations.

Responses refer to the error responses and shared parameters defined here, which
`openapi_document` puts under `components`. Automatic transitions fire by themselves, so they
have no path.
"""

from __future__ import annotations

from typing import Any

from metamodel import model as m
from ui.web.api_json import MAX_BODY_BYTES
from ui.web.list_params import DEFAULT_LIMIT, MAX_PAGE

#: Tag of the operations on the user's own work: the inbox and delegations.
WORKBENCH_TAG = "workbench"


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


def _errors(*statuses: str, record: bool = True) -> dict[str, Any]:
    """Return the error responses of an operation: 401, 403 and 404 for one on a record, and `statuses`."""
    common = ("401", "403", "404") if record else ("401",)
    return {status: {"$ref": f"#/components/responses/{_ERRORS[status][1]}"} for status in (*common, *statuses)}


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
    paths.update(_approval_paths(entity, flows))
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
                "requestBody": _json_body(_ref("schemas", "TransitionRequest"),
                                          "The version read, an optional comment and the delegator acted for, if any."),
                "responses": {"200": _record_answer(name, "The record in its new state."),
                              **_errors("400", "409", "413", "415", "422", "428")},
            },
        }
    for action in entity.actions:
        states = ", ".join(action.states) or "any state"
        paths[f"/api/{name}/{{id}}/actions/{action.name}"] = {
            "parameters": [_ref("parameters", "id")],
            "post": {
                "operationId": f"action_{name}_{action.name}", "tags": [name],
                "summary": f"{action.label.en} ({action.label.zh_cn})",
                "description": f"{bilingual(action.label)}: runs the hook {action.hook} on the record and writes the values it "
                               f"returns. In: {states}. Needs the grant of the action {action.name}.",
                "parameters": [_ref("parameters", "If-Match")],
                "requestBody": _json_body(_ref("schemas", "ActionRequest"), "The version read and an optional comment."),
                "responses": {"200": _record_answer(name, "The record after the action."),
                              **_errors("400", "409", "413", "415", "422", "428")},
            },
        }
    return paths


def _transitions(flows: tuple[m.Flow, ...], *, approvals: bool = False) -> list[tuple[m.Transition, str]]:
    """Return each transition name a user fires by hand once, with the states it starts from in any flow.

    Flows of one entity may share a name. With `approvals`, only transitions with an approval step are returned.
    """
    first: dict[str, m.Transition] = {}
    sources: dict[str, list[str]] = {}
    for flow in flows:
        for transition in flow.transitions.values():
            if transition.automatic or (approvals and transition.approval is None):
                continue
            first.setdefault(transition.name, transition)
            known = sources.setdefault(transition.name, [])
            known.extend(state for state in transition.sources if state not in known)
    return [(transition, ", ".join(sources[name])) for name, transition in first.items()]


def _approval_paths(entity: m.Entity, flows: tuple[m.Flow, ...]) -> dict[str, Any]:
    """Return the approval progress path of an entity with approval steps, and one add-approver path per step."""
    steps = _transitions(flows, approvals=True)
    if not steps:
        return {}
    name = entity.name
    paths: dict[str, Any] = {f"/api/{name}/{{id}}/approvals": {
        "parameters": [_ref("parameters", "id")],
        "get": {
            "operationId": f"approvals_{name}", "tags": [name], "summary": f"Approval progress of one {entity.label.en} record",
            "description": "审批进度 / For each approval open in the record's state: its levels in order, the approvers of each, "
                           "who signed, how many signatures each needs, and who the current level is waiting for. "
                           "A delegate reads it for a record their delegator may act on.",
            "responses": {"200": {"description": "The approvals open in the record's state; empty when none is.",
                                  "headers": {"ETag": {"description": "The record's version in quotes.", "schema": {"type": "string"}}},
                                  "content": {"application/json": {"schema": _ref("schemas", "ApprovalProgress")}}},
                          **_errors()},
        },
    }}
    for transition, sources in steps:
        paths[f"/api/{name}/{{id}}/approvals/{transition.name}/approvers"] = {
            "parameters": [_ref("parameters", "id")],
            "post": {
                "operationId": f"add_approver_{name}_{transition.name}", "tags": [name],
                "summary": f"Add an approver to {transition.label.en} ({transition.label.zh_cn})",
                "description": f"加签 / Add a user to the current level of “{bilingual(transition.label)}” (in {sources}). "
                               "Only an approver of the current level may; the user added must be active and allowed "
                               "the transition on this record. The record's version rises by one.",
                "parameters": [_ref("parameters", "If-Match")],
                "requestBody": _json_body(_ref("schemas", "AddApproverRequest"), "The version read and the user to add."),
                "responses": {"200": {"description": "The approval progress after the addition.",
                                      "content": {"application/json": {"schema": _ref("schemas", "ApprovalProgress")}}},
                              **_errors("400", "409", "413", "415", "422", "428")},
            },
        }
    return paths


def workbench_paths() -> dict[str, Any]:
    """Return the paths of the user's inbox and delegations."""
    whole = {"type": "integer", "minimum": 1}
    return {
        "/api/me/inbox": {"get": {
            "operationId": "inbox", "tags": [WORKBENCH_TAG], "summary": "Records waiting for me",
            "description": "待办事项 / The records waiting for the user, newest first: `todo` where the user may fire a "
                           "transition by hand, `approve` where the user may sign the current approval level. The work of "
                           "each user whose delegation to the user runs today is included, with `acting_for` set.",
            "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["todo", "approve"]},
                 "description": "Only this kind of work."},
                {"name": "for", "in": "query", "schema": {"type": "string"},
                 "description": "Only the work of this user: the user's own id, or a delegator's."},
                {"name": "page", "in": "query", "schema": {**whole, "default": 1}},
                {"name": "limit", "in": "query", "schema": {**whole, "maximum": MAX_PAGE, "default": DEFAULT_LIMIT}},
            ],
            "responses": {"200": {"description": "The counts and one page.",
                                  "content": {"application/json": {"schema": _ref("schemas", "Inbox")}}},
                          **_errors("400", record=False)},
        }},
        "/api/me/delegations": {
            "get": {
                "operationId": "list_delegations", "tags": [WORKBENCH_TAG], "summary": "My delegations",
                "description": "我的委托 / The delegations the user gave or received that have not ended or been revoked.",
                "responses": {"200": {"description": "The delegations, soonest first.",
                                      "content": {"application/json": {"schema": _ref("schemas", "DelegationList")}}},
                              **_errors(record=False)},
            },
            "post": {
                "operationId": "create_delegation", "tags": [WORKBENCH_TAG], "summary": "Delegate my roles",
                "description": "委托 / Hand the user's roles, or one of them, to another user from the first day to the last, "
                               "both included. While it runs, the delegate fires transitions and signs approvals for the user.",
                "requestBody": _json_body(_ref("schemas", "DelegationRequest"), "The delegate, the days and optionally a role and reason."),
                "responses": {"201": {"description": "The delegation saved.",
                                      "content": {"application/json": {"schema": _ref("schemas", "Delegation")}}},
                              **_errors("400", "413", "415", "422", record=False)},
            },
        },
        "/api/me/delegations/{delegation_id}": {
            "parameters": [{"name": "delegation_id", "in": "path", "required": True, "schema": whole,
                            "description": "委托编号 / Delegation id"}],
            "delete": {
                "operationId": "revoke_delegation", "tags": [WORKBENCH_TAG], "summary": "Revoke a delegation",
                "description": "撤销委托 / Only the delegator or an administrator may revoke; a delegation the user neither "
                               "gave nor received is not found.",
                "responses": {"204": {"description": "Revoked."}, **_errors()},
            },
        },
    }
