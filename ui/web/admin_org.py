"""Admin pages for the organisation: the roles with their members, and the org-unit tree."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from runtime.permission_admin import PermissionConfigError
from ui.web.admin_support import UnitOption, admin_only, admin_page, config_error_field, labels, read_form, unit_options
from ui.web.i18n import pick
from ui.web.state import actor_of, lang_of, web

#: Unit names and kinds are identifiers, like the names the YAML declares.
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")


# Roles ----------------------------------------------------------------------------------


async def roles_page(request: Request) -> Response:
    state = web(request)
    roles = state.model.permissions.roles
    inherited_by: dict[str, list[str]] = {}
    for role in roles.values():
        for parent in role.inherits:
            inherited_by.setdefault(parent, []).append(role.name)
    line_counts: dict[str, int] = {}
    for line in state.permissions.lines():
        line_counts[line.role] = line_counts.get(line.role, 0) + 1
    context = {
        "title": pick(lang_of(request), "Roles", "角色"),
        "roles": list(roles.values()),
        "inherited_by": inherited_by,
        "members": state.admin.members(),
        "line_counts": line_counts,
        **labels(request),
    }
    return admin_page(request, "admin_roles.html", context)


# Org units ------------------------------------------------------------------------------


@dataclass
class UnitNode:
    unit: UnitOption
    kind: str
    members: int
    children: list[UnitNode] = field(default_factory=list)


def _unit_tree(request: Request, options: list[UnitOption]) -> list[UnitNode]:
    """Nest the units, which `unit_options` lists each before the units below it."""
    state = web(request)
    units = {row.name: row for row in state.admin.org_units()}
    members: dict[str, int] = {}
    for assignments in state.admin.members().values():
        for _, unit in assignments:
            members[unit] = members.get(unit, 0) + 1
    roots: list[UnitNode] = []
    path: list[UnitNode] = []
    for option in options:
        node = UnitNode(option, units[option.name].kind, members.get(option.name, 0))
        del path[option.depth:]
        (path[-1].children if path else roots).append(node)
        path.append(node)
    return roots


def _units_context(request: Request, values: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> dict[str, Any]:
    state = web(request)
    lang = lang_of(request)
    options = unit_options(state, lang)
    done = request.query_params.get("done") == "added"
    return {
        "title": pick(lang, "Org units", "组织机构"),
        "tree": _unit_tree(request, options),
        "units": options,
        "kinds": sorted({row.kind for row in state.admin.org_units()}),
        "values": values or {},
        "errors": errors or {},
        "notice": pick(lang, "The org unit was added.", "组织机构已添加。") if done else None,
        **labels(request),
    }


async def units_page(request: Request) -> Response:
    return admin_page(request, "admin_units.html", _units_context(request))


async def add_unit(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    form = await read_form(request)
    values = {name: form.get(name, "") for name in ("name", "parent", "kind", "label_zh", "label_en")}
    errors: dict[str, str] = {}
    if not IDENTIFIER.fullmatch(values["name"]):
        errors["name"] = pick(lang, "Enter a name of lower-case letters, digits and _, starting with a letter (at most 63).",
                              "请输入名称：小写字母、数字和下划线，以字母开头，最多 63 个字符。")
    if not IDENTIFIER.fullmatch(values["kind"]):
        errors["kind"] = pick(lang, "Enter a kind such as branch or department: lower-case letters, digits and _.",
                              "请输入类型，如 branch 或 department：小写字母、数字和下划线。")
    for name in ("label_zh", "label_en"):
        if not values[name] or len(values[name]) > 100:
            errors[name] = pick(lang, "Enter a label of at most 100 characters.", "请输入名称，最多 100 个字符。")
    if not errors:
        try:
            state.admin.add_org_unit(actor_of(request), values["name"], values["parent"], values["kind"],
                                     values["label_zh"], values["label_en"])
        except PermissionConfigError as error:
            errors[config_error_field(error, {"org unit:taken": "name", "org unit": "parent"}, "parent")] = error.message(lang)
    if errors:
        return admin_page(request, "admin_units.html", _units_context(request, values, errors), status=422)
    return RedirectResponse("/admin/units?done=added", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/roles", admin_only(roles_page), methods=["GET"]),
        Route("/admin/units", admin_only(units_page), methods=["GET"]),
        Route("/admin/units", admin_only(add_unit), methods=["POST"]),
    ]
