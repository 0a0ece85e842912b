"""The OpenAPI 3.1 document of an application's JSON API, generated from its metamodel.

Each entity gets three schemas: `<entity>` (a record as the API returns it, with system and
computed fields marked readOnly), `<entity>.patch` (the members a PATCH may carry) and
`<entity>.page` (one page of a list). The flow engine's schemas (approval progress, the
inbox, delegations) are shared by every entity. Its paths come from openapi_paths.py. Labels
appear in both languages in titles and descriptions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from metamodel import model as m
from ui.web.openapi_paths import (
    WORKBENCH_TAG,
    bilingual,
    document_path,
    entity_paths,
    error_responses,
    shared_parameters,
    workbench_paths,
)

OPENAPI_VERSION = "3.1.0"
_DECIMAL_TYPES = frozenset({"decimal", "money", "percent"})
#: Schemas of the field types that have no constraints of their own.
_PLAIN_TYPES: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}
_FILE = {
    "type": "object",
    "description": "A stored file. Files are added by uploading them through the screens; "
                   "the API may keep or remove the files a record has. / 已上传的文件；接口只能保留或删除记录已有的文件。",
    "properties": {
        "sha256": {"type": "string", "description": "SHA-256 of the content, the file's id"},
        "size": {"type": "integer", "description": "size in bytes"},
        "media_type": {"type": "string"},
        "extension": {"type": "string"},
        "filename": {"type": "string"},
    },
}


def openapi_document(model: m.AppModel) -> dict[str, Any]:
    """Build the whole document: info, security, error schemas and every entity's schemas and paths."""
    schemas: dict[str, Any] = {"Error": _error_schema(), "TransitionRequest": _transition_request(),
                               "ActionRequest": _action_request(), **_flow_schemas()}
    paths: dict[str, Any] = {"/api/openapi.json": document_path(), **workbench_paths()}
    for name, entity in model.entities.items():
        flows = model.flows_for(name)
        schemas[name] = _record_schema(entity, flows)
        schemas[f"{name}.patch"] = _patch_schema(entity)
        schemas[f"{name}.page"] = _page_schema(name)
        paths.update(entity_paths(entity, flows))
    label = model.app.label
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{label.en} API",
            "version": str(model.app.settings.get("version", "1")),
            "description": (
                f"{label.zh_cn} / {label.en}. Records of every entity, as the authenticated user may see them. "
                "Authenticate with `Authorization: Bearer mdk_...` (create a token with `metadesk token create`). "
                "Messages follow Accept-Language: zh-CN by default, en on request. Money and decimals are sent as "
                "strings such as \"1234.50\"; numbers are accepted on input. Automatic transitions fire by themselves "
                "when their condition holds, so they have no path here; a request to fire one is rejected with 403 "
                "and the code `automatic_transition`."
            ),
        },
        "security": [{"bearerAuth": []}],
        "tags": [*({"name": name, "description": f"{entity.label.zh_cn} / {entity.label.en}"} for name, entity in model.entities.items()),
                 {"name": WORKBENCH_TAG, "description": "工作台 / The user's inbox and delegations"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": error_responses(),
            "parameters": shared_parameters(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "mdk_ token",
                               "description": "An API token; it acts as the user it was created for."},
            },
        },
    }


# Schemas --------------------------------------------------------------------------


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if kind is None or (isinstance(kind, list) and "null" in kind):
        return schema
    nullable = {**schema, "type": [kind, "null"] if isinstance(kind, str) else [*kind, "null"]}
    if "enum" in schema:
        nullable["enum"] = [*schema["enum"], None]
    return nullable


def field_schema(field: m.Field) -> dict[str, Any]:
    """Return the JSON Schema of one field's value, as the API sends and accepts it."""
    schema = _value_schema(field)
    schema["title"] = field.label.en
    description = bilingual(field.label, field.help)
    if field.choices:
        description += ". " + "; ".join(f"{choice.value}: {choice.label.zh_cn} / {choice.label.en}" for choice in field.choices)
    if field.masked:
        description += ". Shown masked to users who may not read it in clear. / 无权查看明文的用户看到的是脱敏值。"
    schema["description"] = description
    if field.computed is not None or field.read_only:
        schema["readOnly"] = True
    return schema if field.required and field.computed is None else _nullable(schema)


def _value_schema(field: m.Field) -> dict[str, Any]:
    kind = field.type
    if kind in m.TEXT_TYPES:
        schema: dict[str, Any] = {"type": "string"}
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        if field.pattern is not None:
            schema["pattern"] = field.pattern
        return schema

    if kind in _DECIMAL_TYPES:
        places = m.decimal_places(field)
        schema = {"type": ["string", "number"], "format": "decimal",
                  "examples": ["1234." + "5".ljust(places, "0") if places else "1234"],
                  "x-decimal-places": places, "x-integer-digits": m.decimal_integer_digits(field)}
        _add_range(schema, field)
        return schema
    if kind == "integer":
        schema = {"type": "integer"}
        _add_range(schema, field)
        return schema

    if kind in _PLAIN_TYPES:
        return dict(_PLAIN_TYPES[kind])
    if kind == "enum":
        return {"type": "string", "enum": list(field.choice_values)}
    if kind == "reference":
        return {"type": "integer", "x-references": field.entity, "examples": [1]}
    if kind == "multi_reference":
        return {"type": "array", "items": {"type": "integer"}, "x-references": field.entity}

    if kind == "child":
        return {"type": "array", "items": _row_schema(field)}
    if kind == "attachment":
        return dict(_FILE)
    if kind == "attachments":
        return {"type": "array", "items": _FILE}
    if kind == "geo_point":
        coordinate = {"type": ["string", "number"], "format": "decimal"}
        return {"type": "object", "properties": {"lat": coordinate, "lng": coordinate}, "required": ["lat", "lng"]}
    if kind in m.IDENTIFIER_TYPES:
        return {"type": "string", "format": kind}
    # JSON fields take any JSON value.
    return {}


def _add_range(schema: dict[str, Any], field: m.Field) -> None:
    if field.min is not None:
        schema["minimum"] = _number(field.min)
    if field.max is not None:
        schema["maximum"] = _number(field.max)


def _row_schema(field: m.Field) -> dict[str, Any]:
    properties = {"id": {"type": "integer", "readOnly": True}}
    properties.update({item.name: field_schema(item) for item in field.fields})
    required = [item.name for item in field.fields if item.required and item.computed is None]
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _system_properties(flows: tuple[m.Flow, ...]) -> dict[str, Any]:
    moment = {"type": "string", "format": "date-time", "readOnly": True}
    properties: dict[str, Any] = {
        "id": {"type": "integer", "readOnly": True, "description": "记录编号 / Record id"},
        "version": {"type": "integer", "readOnly": True,
                    "description": "版本号 / Version: send it back with a change; it grows with every change"},
        "created_at": {**moment, "description": "创建时间 / Created at"},
        "created_by": {"type": ["string", "null"], "readOnly": True, "description": "创建人 / Created by (user id)"},
        "updated_at": {**moment, "description": "修改时间 / Updated at"},
        "updated_by": {"type": ["string", "null"], "readOnly": True, "description": "修改人 / Updated by (user id)"},
        "org_unit": {"type": ["string", "null"], "readOnly": True, "description": "所属机构 / Org unit that owns the record"},
    }
    if flows:
        states: dict[str, m.State] = {}
        for flow in flows:
            states.update(flow.states)
        properties["state"] = {
            "type": ["string", "null"], "enum": [*states, None], "readOnly": True,
            "description": "流程状态 / Flow state; changed by transitions. "
                           + "; ".join(f"{name}: {state.label.zh_cn} / {state.label.en}" for name, state in states.items()),
        }
        properties["flow"] = {"type": ["string", "null"], "enum": [flow.name for flow in flows] + [None], "readOnly": True,
                              "description": "所用流程 / The flow the record follows"}
        properties["flow_version"] = {"type": ["integer", "null"], "readOnly": True}
    return properties


def _record_schema(entity: m.Entity, flows: tuple[m.Flow, ...]) -> dict[str, Any]:
    properties = _system_properties(flows)
    properties.update({name: field_schema(field) for name, field in entity.fields.items()})
    required = [name for name, field in entity.fields.items()
                if field.required and field.computed is None and not field.read_only]
    description = bilingual(entity.label, entity.description) + ". Fields hidden from the user are left out of the records returned."
    if entity.reason_required:
        description += ". Every create, update and delete needs the `reason` query parameter. / 每次新增、修改、删除都须提供 reason。"
    schema: dict[str, Any] = {"type": "object", "title": entity.label.en, "description": description,
                              "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _patch_schema(entity: m.Entity) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "version": {"type": "integer", "description": "The version you read; or send it in If-Match. / 所读取的版本号。"},
    }
    for name, field in entity.fields.items():
        if field.computed is None and not field.read_only:
            properties[name] = _nullable(field_schema(field)) if field.required else field_schema(field)
    return {"type": "object", "title": f"Changes to a {entity.label.en}", "properties": properties,
            "additionalProperties": False}


def _page_schema(entity: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "next", "total", "total_exact"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{entity}"}},
            "next": {"type": ["string", "null"], "description": "Cursor of the next page for `after`; null on the last page."},
            "total": {"type": ["integer", "null"], "description": "Number of matching records."},
            "total_exact": {"type": "boolean", "description": "False when counting stopped early and total is a lower bound."},
        },
    }


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["validation", "not_found", "stale_version"]},
                    "message": {"type": "string", "description": "In the language of Accept-Language (zh-CN unless en is preferred)."},
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["path", "code", "message"],
                            "properties": {
                                "path": {"type": "string", "examples": ["price", "contacts[0].phone"]},
                                "code": {"type": "string", "examples": ["required", "min", "unknown_field"]},
                                "message": {"type": "string"},
                            },
                        },
                    },
                    "current_version": {"type": "integer", "description": "With stale_version: the version stored now."},
                    "changed_by": {"type": ["string", "null"], "description": "With stale_version: who changed the record."},
                    "changed_at": {"type": ["string", "null"], "format": "date-time",
                                   "description": "With stale_version: when the record was changed."},
                },
            },
        },
    }


def _transition_request() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "version": {"type": "integer", "description": "The version you read; or send it in If-Match."},
            "comment": {"type": ["string", "null"], "description": "意见 / Comment; required by some transitions."},
            "on_behalf_of": {"type": ["string", "null"],
                             "description": "代办对象 / The delegator to act for, whose delegation to the user runs today. "
                                            "Without it the user acts for themselves where they may, else for a delegator."},
        },
        "additionalProperties": False,
    }


def _action_request() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "version": {"type": "integer", "description": "The version you read; or send it in If-Match."},
            "comment": {"type": ["string", "null"], "description": "说明 / Comment, kept in the audit log."},
        },
        "additionalProperties": False,
    }


def _flow_schemas() -> dict[str, Any]:
    """Return the schemas of approval progress, the inbox and delegations."""
    user = {"type": "object", "required": ["id", "name"],
            "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]}}}
    label = {"type": "object", "properties": {"zh-CN": {"type": "string"}, "en": {"type": "string"}}}
    users = {"type": "array", "items": {"$ref": "#/components/schemas/User"}}

    signature = {"type": "object", "properties": {
        "approver": {"type": "string", "description": "The user whose signature it is."},
        "approver_name": {"type": ["string", "null"]},
        "signed_by": {"type": "string", "description": "Who signed: the approver, or a delegate for them."},
        "comment": {"type": ["string", "null"]},
        "decided_at": {"type": "string", "format": "date-time"},
    }}
    level = {"type": "object", "properties": {
        "name": {"type": "string"}, "label": label, "roles": {"type": "array", "items": {"type": "string"}},
        "quorum": {"type": ["integer", "null"], "description": "Signatures needed as declared; null with a ratio or for all."},
        "ratio": {"type": ["string", "null"], "format": "decimal", "description": "Share of the approvers who must sign."},
        "needed": {"type": "integer", "description": "Signatures the level needs now, from the quorum, the ratio or all approvers."},
        "complete": {"type": "boolean"},
        "current": {"type": "boolean", "description": "Whether this is the level being signed now."},
        "approvers": {**users, "description": "Everyone who may sign the level."},
        "signatures": {"type": "array", "items": signature, "description": "Oldest first."},
        "waiting_for": {**users, "description": "On the current level, the approvers who have not signed; empty on others."},
    }}
    approval = {"type": "object", "properties": {
        "transition": {"type": "string"}, "label": label,
        "mode": {"type": "string", "enum": ["single", "any_of", "countersign", "levels"]},
        "complete": {"type": "boolean"},
        "current_level": {"type": ["string", "null"], "description": "Name of the level being signed; null when complete."},
        "levels": {"type": "array", "items": {"$ref": "#/components/schemas/ApprovalLevel"},
                   "description": "The levels that apply to the record, in order."},
    }}
    acting_for = {"oneOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}],
                  "description": "The delegator the user acts for; null for the user's own work."}
    progress = {"type": "object", "properties": {
        "entity": {"type": "string"}, "id": {"type": "integer"}, "version": {"type": "integer"},
        "state": {"type": ["string", "null"]}, "acting_for": acting_for,
        "approvals": {"type": "array", "items": {"$ref": "#/components/schemas/Approval"}},
    }}
    add_approver = {"type": "object", "required": ["approver"], "additionalProperties": False, "properties": {
        "version": {"type": "integer", "description": "The version read; or send it in If-Match."},
        "approver": {"type": "string", "description": "加签人 / User id or sign-in name of the user to add."},
    }}

    row = {"type": "object", "properties": {
        "entity": {"type": "string"}, "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["todo", "approve"]},
        "acting_for": acting_for,
        "transitions": {"type": "array", "description": "The transitions the user may fire on the record now.",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}, "label": label}}},
        "approvals": {"type": "array", "items": {"$ref": "#/components/schemas/Approval"},
                      "description": "With approve: each approval whose current level waits for the user."},
        "record": {"type": "object", "description": "The record as the user, or the delegator acted for, may see it."},
    }}
    count = {"type": "object", "properties": {
        "user": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]},
                                                  "delegated": {"type": "boolean"}}},
        "kind": {"type": "string", "enum": ["todo", "approve"]}, "count": {"type": "integer"},
    }}
    inbox = {"type": "object", "required": ["counts", "data", "page", "limit", "pages", "total"], "properties": {
        "counts": {"type": "array", "items": count, "description": "Per user (the user, then each delegator) and kind."},
        "data": {"type": "array", "items": row}, "page": {"type": "integer"}, "limit": {"type": "integer"},
        "pages": {"type": "integer"}, "total": {"type": "integer", "description": "Records matching the filters."},
    }}

    day = {"type": "string", "format": "date"}
    delegation = {"type": "object", "properties": {
        "id": {"type": "integer"}, "direction": {"type": "string", "enum": ["given", "received"]},
        "delegator": {"$ref": "#/components/schemas/User"}, "delegate": {"$ref": "#/components/schemas/User"},
        "role": {"type": ["string", "null"], "description": "The one role handed over; null for every role."},
        "starts_on": day, "ends_on": day, "reason": {"type": ["string", "null"]},
        "running": {"type": "boolean", "description": "Whether today lies between the first and last day."},
        "may_revoke": {"type": "boolean"}, "created_by": {"type": "string"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
    }}
    request = {"type": "object", "required": ["delegate", "starts_on", "ends_on"], "additionalProperties": False, "properties": {
        "delegate": {"type": "string", "description": "代办人 / User id or sign-in name of the user who acts for you."},
        "role": {"type": ["string", "null"], "description": "One of your roles to hand over; null or absent for every role."},
        "starts_on": {**day, "description": "First day, in the application's time zone."},
        "ends_on": {**day, "description": "Last day, included."},
        "reason": {"type": ["string", "null"]},
    }}

    return {
        "User": user, "ApprovalLevel": level, "Approval": approval, "ApprovalProgress": progress,
        "AddApproverRequest": add_approver, "Inbox": inbox, "Delegation": delegation,
        "DelegationList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Delegation"}}}},
        "DelegationRequest": request,
    }
