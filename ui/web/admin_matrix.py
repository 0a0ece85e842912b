"""The permission matrix: role × entity × action, with grants, deny lines and revocations from each cell.

The grid shows one role at a time (every entity, flow transitions and "system" included)
or one entity at a time (every role). A cell opens in place into an editor that lists its
policy lines and grants, denies or revokes. YAML lines are read-only here: they change in
the YAML, or a deny line overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.permission_admin import EFFECTS, MatrixCell, PermissionConfigError
from runtime.permissions import ANY_UNIT, PolicyLine
from ui.web.admin_support import admin_only, admin_page, after_change, config_error_field, labels, read_form, unit_options
from ui.web.i18n import pick
from ui.web.state import actor_of, is_htmx, lang_of, web

NOTICES = {
    "granted": ("The grant was added.", "授权已添加。"),
    "denied": ("The deny line was added; it overrides every grant of this action.", "拒绝策略已添加，它覆盖该操作的所有授权。"),
    "revoked": ("The line was revoked.", "策略已撤销。"),
}

#: Fields of the cell's form, by the subject of the PermissionConfigError shown beside them.
_ERROR_FIELDS = {"data scope": "scope", "org unit": "unit", "effect": "effect"}


@dataclass(frozen=True)
class CellView:
    role: str
    entity: str
    action: str
    cell: MatrixCell

    @property
    def dom_id(self) -> str:
        return f"cell-{self.role}-{self.entity}-{self.action}"

    @property
    def query(self) -> str:
        return urlencode({"role": self.role, "entity": self.entity, "action": self.action})

    @property
    def denied(self) -> bool:
        return any(line.effect == "deny" for line in self.cell.lines)


def _resources(model: m.AppModel) -> list[str]:
    return [*model.entities, m.SYSTEM_RESOURCE]


async def matrix_page(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    model = state.model
    role = request.query_params.get("role", "").strip()
    entity = request.query_params.get("entity", "").strip()
    if not role and not entity:
        role = next(iter(model.permissions.roles), "")

    errors: dict[str, str] = {}
    if role and role not in model.permissions.roles:
        errors["role"] = PermissionConfigError("role", "角色", role, sorted(model.permissions.roles)).message(lang)
    if entity and entity not in _resources(model):
        errors["entity"] = PermissionConfigError("entity", "实体", entity, _resources(model)).message(lang)

    context: dict[str, Any] = {
        "title": pick(lang, "Permission matrix", "权限矩阵"),
        "role": role,
        "entity": entity,
        "roles": model.permissions.roles,
        "resources": _resources(model),
        "errors": errors,
        "rows": [],
        "columns": [],
        **labels(request),
    }
    if not errors:
        roles = [role] if role else list(model.permissions.roles)
        entities = [entity] if entity else _resources(model)
        cells = state.admin.matrix(roles, entities)
        if role:
            # One role: a row per entity, holding a cell per action of that entity.
            context["rows"] = [
                (name, [CellView(role, name, action, cells[(role, name, action)]) for action in model.actions_for(name)])
                for name in entities
            ]
        else:
            # One entity: a row per role and a column per action.
            context["columns"] = list(model.actions_for(entity))
            context["rows"] = [
                (name, [CellView(name, entity, action, cells[(name, entity, action)]) for action in context["columns"]])
                for name in roles
            ]
    return admin_page(request, "admin_matrix.html", context, status=422 if errors else 200)


# One cell -------------------------------------------------------------------------------


def _cell_context(request: Request, role: str, entity: str, action: str, *, compact: bool = False,
                  errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                  notice: str | None = None) -> tuple[dict[str, Any], int]:
    state = web(request)
    lang = lang_of(request)
    context: dict[str, Any] = {
        "title": pick(lang, "Permission matrix", "权限矩阵"),
        "compact": compact,
        "errors": dict(errors or {}),
        "values": values or {"scope": "all", "unit": ANY_UNIT},
        "scopes": m.SCOPES,
        "effects": EFFECTS,
        "units": unit_options(state, lang),
        "any_unit": ANY_UNIT,
        "notice": notice,
        "view": None,
        **labels(request),
    }
    try:
        context["view"] = CellView(role, entity, action, state.admin.cell(role, entity, action))
    except PermissionConfigError as error:
        context["errors"]["cell"] = error.message(lang)
        return context, 422
    return context, 422 if errors else 200


def _cell_response(request: Request, context: dict[str, Any], status: int) -> Response:
    return admin_page(request, "admin_matrix_cell.html", context, block="cell", status=status)


async def cell_page(request: Request) -> Response:
    params = request.query_params
    notice = NOTICES.get(params.get("done", ""))
    context, status = _cell_context(
        request, params.get("role", ""), params.get("entity", ""), params.get("action", ""),
        compact=params.get("compact") == "1" and is_htmx(request),
        notice=pick(lang_of(request), *notice) if notice else None,
    )
    return _cell_response(request, context, status)


def _cell_url(role: str, entity: str, action: str, done: str) -> str:
    return "/admin/matrix/cell?" + urlencode({"role": role, "entity": entity, "action": action, "done": done})


async def grant(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    form = await read_form(request)
    role, entity, action = form.get("role", ""), form.get("entity", ""), form.get("action", "")
    values = {"scope": form.get("scope", "all"), "unit": form.get("unit", ANY_UNIT)}
    effect = form.get("effect", "allow")
    try:
        state.admin.grant(actor_of(request), role, entity, action, scope=values["scope"], unit=values["unit"], effect=effect)
    except PermissionConfigError as error:
        field = config_error_field(error, _ERROR_FIELDS, "line")
        context, status = _cell_context(request, role, entity, action, errors={field: error.message(lang)}, values=values)
        return _cell_response(request, context, status)

    done = "granted" if effect == "allow" else "denied"

    def fragment() -> Response:
        context, status = _cell_context(request, role, entity, action, notice=pick(lang, *NOTICES[done]))
        return _cell_response(request, context, status)

    return after_change(request, _cell_url(role, entity, action, done), fragment)


async def revoke(request: Request) -> Response:
    """Revoke an admin line and show the cell of `cell_role`, which may inherit the line's role."""
    state = web(request)
    lang = lang_of(request)
    form = await read_form(request)
    line = PolicyLine(form.get("role", ""), form.get("unit", ""), form.get("entity", ""), form.get("action", ""),
                      form.get("scope", ""), form.get("effect", ""), "admin")
    cell_role = form.get("cell_role") or line.role
    try:
        state.admin.revoke(actor_of(request), line)
    except PermissionConfigError as error:
        context, status = _cell_context(request, cell_role, line.entity, line.action, errors={"line": error.message(lang)})
        return _cell_response(request, context, status)

    def fragment() -> Response:
        context, status = _cell_context(request, cell_role, line.entity, line.action, notice=pick(lang, *NOTICES["revoked"]))
        return _cell_response(request, context, status)

    return after_change(request, _cell_url(cell_role, line.entity, line.action, "revoked"), fragment)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/matrix", admin_only(matrix_page), methods=["GET"]),
        Route("/admin/matrix/cell", admin_only(cell_page), methods=["GET"]),
        Route("/admin/matrix/grant", admin_only(grant), methods=["POST"]),
        Route("/admin/matrix/revoke", admin_only(revoke), methods=["POST"]),
    ]

