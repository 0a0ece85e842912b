"""Parts every admin page shares: the "administer" check, the page frame, form reading and the labels of names.

Every admin endpoint is wrapped by `admin_only`, so that a user without the "administer"
action on the "system" resource gets a 403 page for every GET and every POST alike.
A change responds to an HTMX request with the changed fragment, and to a plain form post
with a redirect to the page, so that a reload does not post again. Invalid input comes back
with status 422 and the message beside the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from metamodel import model as m
from runtime.permission_admin import OrgUnitRow, PermissionConfigError
from runtime.permissions import ANY_UNIT
from ui.web.i18n import label, pick
from ui.web.rendering import render
from ui.web.state import WebState, actor_of, is_htmx, lang_of, web

ADMIN_ACTION = "administer"

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Section:
    path: str
    title_en: str
    title_zh: str
    summary_en: str
    summary_zh: str


SECTIONS: tuple[Section, ...] = (
    Section("/admin/users", "Users", "用户", "Create users, set passwords, activate, unlock and assign roles.",
            "新建用户、设置密码、启用停用、解除锁定、分配角色。"),
    Section("/admin/roles", "Roles", "角色", "Each role with its labels, inheritance and members.", "各角色的名称、继承关系与成员。"),
    Section("/admin/units", "Org units", "组织机构", "The org tree, with the units added while the application runs.",
            "组织机构树，以及运行中新增的机构。"),
    Section("/admin/matrix", "Permission matrix", "权限矩阵", "Grant, deny and revoke actions per role and entity.",
            "按角色与实体授予、拒绝或撤销操作权限。"),
    Section("/admin/field-rules", "Field rules", "字段规则", "Hide, mask, unmask or lock fields per role.",
            "按角色隐藏、脱敏、显示明文或锁定字段。"),
    Section("/admin/explain", "Explain a decision", "权限解释", "Why a user may or may not do something.",
            "说明某个用户为何可以或不可以执行某项操作。"),
    Section("/admin/flows", "Flows", "流程", "Each flow as a diagram, with the table of its transitions.",
            "以流程图展示各流程，并列出其流转。"),
    Section("/admin/config", "Configuration", "配置", "The loaded application and a fresh check of its YAML.",
            "已加载的应用，以及对其 YAML 的即时检查。"),
    Section("/admin/tokens", "API tokens", "API 令牌", "Create and revoke tokens for integrations.", "为外部系统创建和吊销令牌。"),
    Section("/admin/jobs", "Jobs", "任务调度", "Background tasks and schedules, their latest runs, and Run now.",
            "后台任务与定时任务、最近运行记录，以及立即运行。"),
    Section("/admin/sandbox-sms", "Sandbox text messages", "沙箱短信", "The newest messages the sandbox SMS provider kept instead of sending.",
            "沙箱短信服务代替发送而保存的最新短信。"),
)


def admin_only(endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint so that it responds 403 unless the actor may administer the system."""

    async def guarded(request: Request) -> Response:
        if not web(request).permissions.allows(actor_of(request), ADMIN_ACTION, m.SYSTEM_RESOURCE):
            lang = lang_of(request)
            raise HTTPException(403, pick(lang, "The administration pages need the administer permission on the system.",
                                          "系统管理页面需要“系统管理”权限。"))
        return await endpoint(request)

    guarded.__name__ = endpoint.__name__
    guarded.__doc__ = endpoint.__doc__
    return guarded


def admin_page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    block: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render an admin page, or only `block` of it for HTMX, with the admin navigation."""
    full = {"sections": SECTIONS, "section": _current_section(request.url.path), **context}
    return render(request, template, full, block=block, status=status, headers=headers)


def _current_section(path: str) -> str | None:
    return next((section.path for section in SECTIONS if path == section.path or path.startswith(section.path + "/")), None)


def after_change(request: Request, location: str, fragment: Callable[[], Response]) -> Response:
    """Respond to a successful change: the fragment for HTMX, a redirect for a plain form post."""
    if is_htmx(request):
        return fragment()
    return RedirectResponse(location, status_code=303)


async def read_form(request: Request) -> dict[str, str]:
    """Return the posted form's text fields, stripped of surrounding spaces."""
    form = await request.form()
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    await form.close()
    return values


def config_error_field(error: PermissionConfigError, fields: Mapping[str, str], default: str) -> str:
    """Return the form field a PermissionConfigError belongs beside.

    `fields` maps a subject or "subject:problem" (such as "org unit:taken") to a field name.
    """
    return fields.get(f"{error.subject}:{error.problem}") or fields.get(error.subject) or default


def parse_int(text: str) -> int | None:
    """Return a positive whole number written in `text`, or None."""
    if not text.isdigit() or len(text) > 18:
        return None
    number = int(text)
    return number if number > 0 else None


# Labels ---------------------------------------------------------------------------------

_STANDARD_ACTIONS = {
    "read": ("Read", "查看"),
    "create": ("Create", "新建"),
    "update": ("Update", "修改"),
    "delete": ("Delete", "删除"),
    "export": ("Export", "导出"),
    "import": ("Import", "导入"),
    "print": ("Print", "打印"),
    "administer": ("Administer", "系统管理"),
    "audit": ("Audit log", "审计日志"),
    "jobs": ("Jobs", "任务调度"),
    "organize": ("Organize units and accounts", "组织与账号维护"),
}

_SCOPES = {
    "own": ("own records", "本人创建"),
    "unit": ("own unit", "本机构"),
    "unit_and_below": ("unit and below", "本机构及下级"),
    "all": ("all records", "全部"),
    "filter": ("filter", "条件过滤"),
}


def role_label(model: m.AppModel, role: str, lang: str) -> str:
    declared = model.permissions.roles.get(role)
    return label(declared.label, lang) if declared else role


def entity_label(model: m.AppModel, entity: str, lang: str) -> str:
    if entity == m.SYSTEM_RESOURCE and entity not in model.entities:
        return pick(lang, "System", "系统")
    declared = model.entities.get(entity)
    return label(declared.label, lang) if declared else entity


def action_label(model: m.AppModel, entity: str, action: str, lang: str) -> str:
    """Return an action's name on screen: a standard action's, a flow transition's label or the entity's own action's."""
    if action in _STANDARD_ACTIONS:
        en, zh = _STANDARD_ACTIONS[action]
        return pick(lang, en, zh)
    for flow in model.flows_for(entity):
        transition = flow.transitions.get(action)
        if transition is not None:
            return label(transition.label, lang)
    declared = model.entities.get(entity)
    own = next((item for item in declared.actions if item.name == action), None) if declared is not None else None
    return label(own.label, lang) if own is not None else action


def scope_label(scope: str, lang: str) -> str:
    en, zh = _SCOPES.get(scope, (scope, scope))
    return pick(lang, en, zh)


@dataclass(frozen=True)
class UnitOption:
    name: str
    label: str
    #: Depth in the org tree, 0 for a root.
    depth: int
    origin: str


def unit_options(state: WebState, lang: str) -> list[UnitOption]:
    """Return every org unit in tree order (each unit before the units below it), with its depth."""
    units = state.admin.org_units()
    children: dict[str | None, list[OrgUnitRow]] = {}
    names = {unit.name for unit in units}
    for unit in units:
        parent = unit.parent if unit.parent in names else None
        children.setdefault(parent, []).append(unit)
    ordered: list[UnitOption] = []
    pending: list[tuple[OrgUnitRow, int]] = [(unit, 0) for unit in reversed(children.get(None, []))]
    while pending:
        unit, depth = pending.pop()
        ordered.append(UnitOption(unit.name, label(unit.label, lang), depth, unit.origin))
        pending.extend((child, depth + 1) for child in reversed(children.get(unit.name, [])))
    return ordered


def unit_names(options: list[UnitOption]) -> dict[str, str]:
    """Return each unit's label by name, with "*" as every unit."""
    return {ANY_UNIT: "*", **{option.name: option.label for option in options}}


def labels(request: Request) -> dict[str, Any]:
    """Return the label helpers admin templates call, bound to the request's language."""
    state = web(request)
    lang = lang_of(request)
    model = state.model
    units = unit_names(unit_options(state, lang))
    units[ANY_UNIT] = pick(lang, "every unit", "所有机构")
    return {
        "role_label": lambda role: role_label(model, role, lang),
        "entity_label": lambda entity: entity_label(model, entity, lang),
        "action_label": lambda entity, action: action_label(model, entity, action, lang),
        "scope_label": lambda scope: scope_label(scope, lang),
        "unit_label": lambda unit: units.get(unit, unit) if unit else pick(lang, "(no unit)", "（无机构）"),
    }
