"""Explain a permission decision: why a user may or may not perform an action on an entity or one record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from runtime.access import FieldAccess
from runtime.account_admin import AccountAdmin, UserQuery
from runtime.permission_admin import PermissionConfigError
from runtime.permissions import PolicyLine
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
        "entities": list(model.entities),
        "actions": list(model.actions_for(values["entity"])) if values["entity"] in model.entities else list(_every_action(state)),
        "answer": None,
        **labels(request),
    }
    if not any(values.values()):
        return admin_page(request, "admin_explain.html", context)

    account = admin.account(values["user"]) if values["user"] else None
    if account is None:
        known = [user.id for user in admin.list_users(UserQuery(limit=31)).users]
        errors["user"] = PermissionConfigError("user", "用户", values["user"], known).message(lang)
    if values["entity"] not in model.entities:
        errors["entity"] = PermissionConfigError("entity", "实体", values["entity"], sorted(model.entities)).message(lang)
    elif values["action"] not in model.actions_for(values["entity"]):
        errors["action"] = PermissionConfigError("action", "操作", values["action"], list(model.actions_for(values["entity"]))).message(lang)
    record_id = parse_int(values["record"]) if values["record"] else None
    if values["record"] and record_id is None:
        errors["record"] = pick(lang, "Enter a record id: a whole number above 0, or nothing.", "请输入记录 id：大于 0 的整数，或留空。")
    if errors or account is None:
        return admin_page(request, "admin_explain.html", context, status=422)

    actor = state.accounts.actor(
        {"id": account.id, "display_name": account.display_name, "org_unit": account.org_unit, "lang": account.lang}
    )
    answer: Explanation = explain(state.permissions, state.runtime.schema, state.runtime.engine, actor,
                                  values["action"], values["entity"], record_id)
    fields: FieldAccess = state.permissions.field_access(actor, values["entity"])
    allowed = answer.allowed and (answer.record_id is None or bool(answer.record_in_scope))
    context.update({
        "answer": answer,
        "account": account,
        "allowed": allowed,
        "reason": answer.reason(lang),
        "granting": [LineView(line, _filters(state, line)) for line in answer.granting],
        "denying": [LineView(line, ()) for line in answer.denying],
        "fields": fields,
        "entity_fields": model.entities[values["entity"]].fields,
    })
    return admin_page(request, "admin_explain.html", context)


def _every_action(state: WebState) -> dict[str, None]:
    actions: dict[str, None] = {}
    for entity in state.model.entities:
        actions.update(dict.fromkeys(state.model.actions_for(entity)))
    return actions


def routes() -> list[BaseRoute]:
    return [Route("/admin/explain", admin_only(explain_page), methods=["GET"])]
