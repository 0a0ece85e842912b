"""The field rules editor: per role and entity, which fields are hidden, masked, unmasked or read-only.

The YAML's rules are shown read-only; the rules admins add here are switched on and off
in place. A user with several roles is restricted only where every one of them is, and a
field is shown to them in clear when any of their roles unmasks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.permission_admin import FIELD_RULE_KINDS, PermissionConfigError
from ui.web.admin_support import admin_only, admin_page, after_change, read_form
from ui.web.i18n import label, pick
from ui.web.state import actor_of, lang_of, web

KIND_LABELS = {
    "hidden": ("Hidden", "隐藏"),
    "masked": ("Masked", "脱敏"),
    "unmasked": ("Unmasked", "显示明文"),
    "read_only": ("Read-only", "只读"),
}


@dataclass(frozen=True)
class FieldRow:
    field: m.Field
    #: For each rule kind: "yaml", "admin" or None when the role has no such rule on the field.
    rules: dict[str, str | None]


def _rules_context(request: Request, role: str, entity: str, *, errors: dict[str, str] | None = None,
                   notice: str | None = None) -> tuple[dict[str, Any], int]:
    state = web(request)
    lang = lang_of(request)
    model = state.model
    errors = dict(errors or {})
    if role not in model.permissions.roles:
        errors["role"] = PermissionConfigError("role", "角色", role, sorted(model.permissions.roles)).message(lang)
    if entity not in model.entities:
        errors["entity"] = PermissionConfigError("entity", "实体", entity, sorted(model.entities)).message(lang)

    rows: list[FieldRow] = []
    if "role" not in errors and "entity" not in errors:
        found: dict[tuple[str, str], str] = {}
        for rule in state.admin.field_rules(role, entity):
            found.setdefault((rule.field, rule.kind), rule.origin)
        rows = [
            FieldRow(field, {kind: found.get((field.name, kind)) for kind in FIELD_RULE_KINDS})
            for field in model.entities[entity].fields.values()
        ]
    context = {
        "title": pick(lang, "Field rules", "字段规则"),
        "role": role,
        "entity": entity,
        "roles": model.permissions.roles,
        "entities": {name: label(spec.label, lang) for name, spec in model.entities.items()},
        "kinds": [(kind, pick(lang, *KIND_LABELS[kind])) for kind in FIELD_RULE_KINDS],
        "rows": rows,
        "errors": errors,
        "notice": notice,
    }
    return context, 422 if errors else 200


async def rules_page(request: Request) -> Response:
    model = web(request).model
    role = request.query_params.get("role", "").strip() or next(iter(model.permissions.roles), "")
    entity = request.query_params.get("entity", "").strip() or next(iter(model.entities), "")
    done = request.query_params.get("done")
    notice = pick(lang_of(request), "The field rule was changed.", "字段规则已更改。") if done else None
    context, status = _rules_context(request, role, entity, notice=notice)
    return admin_page(request, "admin_field_rules.html", context, block="rules", status=status)


async def change_rule(request: Request) -> Response:
    """Switch one admin rule on ("set") or off ("clear")."""
    state = web(request)
    lang = lang_of(request)
    form = await read_form(request)
    role, entity, field, kind = form.get("role", ""), form.get("entity", ""), form.get("field", ""), form.get("kind", "")
    try:
        if form.get("op") == "clear":
            state.admin.clear_field_rule(actor_of(request), role, entity, field, kind)
        else:
            state.admin.set_field_rule(actor_of(request), role, entity, field, kind)
    except PermissionConfigError as error:
        context, status = _rules_context(request, role, entity, errors={"rule": error.message(lang)})
        return admin_page(request, "admin_field_rules.html", context, block="rules", status=422)

    def fragment() -> Response:
        context, status = _rules_context(request, role, entity, notice=pick(lang, "The field rule was changed.", "字段规则已更改。"))
        return admin_page(request, "admin_field_rules.html", context, block="rules", status=status)

    location = "/admin/field-rules?" + urlencode({"role": role, "entity": entity, "done": "1"})
    return after_change(request, location, fragment)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/field-rules", admin_only(rules_page), methods=["GET"]),
        Route("/admin/field-rules", admin_only(change_rule), methods=["POST"]),
    ]
