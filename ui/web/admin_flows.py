"""The flow pages: the application's flows, and each flow as a diagram with a table of its transitions.

The diagram is an SVG drawn on the server (ui/web/flow_diagram.py), so the page needs no
script. The table lists every transition with its source and target states, the roles it
names (its own and its approval levels'), its guard, its approval and its SLA.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.flows import needed_roles
from ui.web.admin_support import admin_only, admin_page, entity_label, role_label
from ui.web.flow_diagram import render_svg
from ui.web.flow_layout import mode_name
from ui.web.i18n import label, pick
from ui.web.state import lang_of, web

_KINDS = {
    "return": ("return", "退回"),
    "reject": ("reject", "拒绝"),
    "withdraw": ("withdraw", "撤回"),
}


@dataclass(frozen=True)
class FlowRow:
    flow: m.Flow
    entity: str


@dataclass(frozen=True)
class TransitionRow:
    transition: m.Transition
    #: Marks shown beside the name: automatic, and the kind of a return, rejection or withdrawal.
    marks: tuple[str, ...]
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    approval: str
    sla: str


async def flows_page(request: Request) -> Response:
    lang = lang_of(request)
    model = web(request).model
    rows = [FlowRow(flow, entity_label(model, flow.entity, lang)) for flow in model.flows.values()]
    return admin_page(request, "admin_flows.html", {"title": pick(lang, "Flows", "流程"), "flows": rows})


async def flow_page(request: Request) -> Response:
    lang = lang_of(request)
    model = web(request).model
    name = request.path_params["name"]
    flow = model.flows.get(name)
    if flow is None:
        raise HTTPException(404, pick(lang, f"There is no flow {name!r}; pick one from the list of flows.",
                                      f"没有名为 {name!r} 的流程；请从流程列表中选择。"))
    context = {
        "title": label(flow.label, lang),
        "flow": flow,
        "entity": entity_label(model, flow.entity, lang),
        "diagram": render_svg(flow, lang),
        "transitions": [transition_row(model, flow, transition, lang) for transition in flow.transitions.values()],
    }
    return admin_page(request, "admin_flow.html", context)


def transition_row(model: m.AppModel, flow: m.Flow, transition: m.Transition, lang: str) -> TransitionRow:
    def state(name: str) -> str:
        declared = flow.states.get(name)
        return label(declared.label, lang) if declared is not None else name

    marks = []
    if transition.automatic:
        marks.append(pick(lang, "automatic", "自动"))
    if transition.kind in _KINDS:
        en, zh = _KINDS[transition.kind]
        marks.append(pick(lang, en, zh))
    return TransitionRow(
        transition=transition,
        marks=tuple(marks),
        sources=tuple(state(source) for source in transition.sources),
        target=state(transition.target),
        roles=tuple(role_label(model, role, lang) for role in needed_roles(transition)),
        approval=approval_text(model, transition.approval, lang),
        sla=sla_text(model, transition.sla, lang),
    )


def approval_text(model: m.AppModel, approval: m.Approval | None, lang: str) -> str:
    """Describe an approval in one line: its mode, then its levels in order with their roles and signatures."""
    if approval is None:
        return ""
    levels = []
    for level in approval.steps():
        roles = pick(lang, ", ", "、").join(role_label(model, role, lang) for role in level.roles)
        named = f"{label(level.label, lang)}: " if approval.mode == "levels" else ""
        levels.append(f"{named}{roles} ({_signatures(level, lang)})" if lang == "en" else f"{named}{roles}（{_signatures(level, lang)}）")
    text = f"{mode_name(approval.mode, lang)}: " + " → ".join(levels)
    if approval.routing is not None:
        count = len(approval.routing.rules)
        text += pick(lang, f"; routed by a table of {count} rules", f"；按 {count} 条规则的路由表选择级别")
    return text


def _signatures(level: m.ApprovalLevel, lang: str) -> str:
    if level.quorum is not None:
        return pick(lang, f"{level.quorum} to sign", f"{level.quorum} 人签署")
    if level.ratio is not None:
        return pick(lang, f"{_number(level.ratio)} of them to sign", f"{_number(level.ratio)} 比例签署")
    return pick(lang, "all to sign", "全部签署")


def sla_text(model: m.AppModel, sla: m.Sla | None, lang: str) -> str:
    """Describe a transition's SLA in one line, such as "24 h, reminder 4 h before, escalates to Manager"."""
    if sla is None:
        return ""
    parts = []
    if sla.hours is not None:
        parts.append(pick(lang, f"{_number(sla.hours)} h", f"{_number(sla.hours)} 小时"))
    if sla.working_days is not None:
        parts.append(pick(lang, f"{sla.working_days} working day(s)", f"{sla.working_days} 个工作日"))
    if sla.remind_before_hours is not None:
        hours = _number(sla.remind_before_hours)
        parts.append(pick(lang, f"reminder {hours} h before", f"提前 {hours} 小时提醒"))
    if sla.escalate_to is not None:
        escalated = role_label(model, sla.escalate_to, lang)
        parts.append(pick(lang, f"escalates to {escalated}", f"升级至{escalated}"))
    if sla.on_expiry is not None:
        parts.append(pick(lang, f"on expiry: {sla.on_expiry}", f"超时后：{sla.on_expiry}"))
    return pick(lang, ", ", "，").join(parts)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/flows", admin_only(flows_page), methods=["GET"]),
        Route("/admin/flows/{name}", admin_only(flow_page), methods=["GET"]),
    ]
