"""Explain a permission decision: why a user may or may not perform an action on an entity or one record.

Besides the entities, the page explains the "system" resource, whose actions (administer, audit,
jobs) open the admin pages: it names the role and line that allow it, or explains why none does.
The system resource has no records, so it takes no record id and shows no data scope or field rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.access import FieldAccess
from runtime.account_admin import AccountAdmin, UserQuery
from runtime.permission_admin import PermissionConfigError
from runtime.permissions import HeldLine, PolicyLine
from runtime.policy_access import Explanation, explain
from ui.web.admin_support import admin_only, admin_page, labels, parse_int
from ui.web.i18n import pick
from ui.web.state import WebState, lang_of, web

#: Users offered in the user field's suggestions; any other id may still be typed.
SUGGESTED_USERS = 500


@dataclass(frozen=True)
class LineView:
    line: PolicyLine
    #: The filter expressions of a "filter" line, as the YAML writes them.
    filters: tuple[str, ...]
    #: The role assignment the line reaches the user through, for an allow line.
    held: HeldLine | None = None


def _filters(state: WebState, line: PolicyLine) -> tuple[str, ...]:
    if line.scope != "filter":
        return ()
    return tuple(
        grant.filter.source for grant in state.model.permissions.grants
        if grant.role == line.role and grant.entity == line.entity and line.action in grant.actions and grant.filter is not None
    )


async def explain_page(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    model = state.model
    params = request.query_params
    values = {name: params.get(name, "").strip() for name in ("user", "entity", "action", "record")}
    admin = AccountAdmin(state.accounts)
    errors: dict[str, str] = {}
    context: dict[str, Any] = {
        "title": pick(lang, "Explain a decision", "权限解释"),
        "values": values,
        "errors": errors,
        "users": admin.list_users(UserQuery(limit=SUGGESTED_USERS)).users,
        "entities": _resources(state),
        "actions": list(model.actions_for(values["entity"])) if values["entity"] in _resources(state) else list(_every_action(state)),
        "answer": None,
        **labels(request),
    }
    if not any(values.values()):
        return admin_page(request, "admin_explain.html", context)

    account = admin.account(values["user"]) if values["user"] else None
    if account is None:
        known = [user.id for user in admin.list_users(UserQuery(limit=31)).users]
        errors["user"] = PermissionConfigError("user", "用户", values["user"], known).message(lang)
    has_records = values["entity"] in model.entities
    if values["entity"] not in _resources(state):
        known_entities = [*sorted(model.entities), *_resources(state)[len(model.entities):]]
        errors["entity"] = PermissionConfigError("entity", "实体", values["entity"], known_entities).message(lang)
    elif values["action"] not in model.actions_for(values["entity"]):
        errors["action"] = PermissionConfigError("action", "操作", values["action"], list(model.actions_for(values["entity"]))).message(lang)
    record_id = parse_int(values["record"]) if values["record"] else None
    if values["record"] and record_id is None:
        errors["record"] = pick(lang, "Enter a record id: a whole number above 0, or nothing.", "请输入记录 id：大于 0 的整数，或留空。")
    elif values["record"] and not has_records and "entity" not in errors:
        errors["record"] = pick(lang, "The system has no records: leave the record id empty.", "系统没有记录：请将记录 id 留空。")
    if errors or account is None:
        return admin_page(request, "admin_explain.html", context, status=422)

    actor = state.accounts.actor(
        {"id": account.id, "display_name": account.display_name, "org_unit": account.org_unit, "lang": account.lang}
    )
    answer: Explanation = explain(state.permissions, state.runtime.schema, state.runtime.engine, actor,
                                  values["action"], values["entity"], record_id)
    fields: FieldAccess | None = state.permissions.field_access(actor, values["entity"]) if has_records else None
    allowed = answer.allowed and (answer.record_id is None or bool(answer.record_in_scope))
    context.update({
        "answer": answer,
        "account": account,
        "allowed": allowed,
        "reason": answer.reason(lang),
        "granting": [LineView(held.line, _filters(state, held.line), held) for held in answer.held],
        "denying": [LineView(line, ()) for line in answer.denying],
        "fields": fields,
        "entity_fields": model.entities[values["entity"]].fields if has_records else {},
    })
    return admin_page(request, "admin_explain.html", context)


def _resources(state: WebState) -> list[str]:
    """Return what may be explained: the entities, then the system resource."""
    entities = list(state.model.entities)
    return entities if m.SYSTEM_RESOURCE in entities else [*entities, m.SYSTEM_RESOURCE]


def _every_action(state: WebState) -> dict[str, None]:
    actions: dict[str, None] = {}
    for entity in _resources(state):
        actions.update(dict.fromkeys(state.model.actions_for(entity)))
    return actions


def routes() -> list[BaseRoute]:
    return [Route("/admin/explain", admin_only(explain_page), methods=["GET"])]
