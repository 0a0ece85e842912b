"""The flow pages: the application's flows, and each flow as a diagram with a table of its transitions.

The diagram is an SVG drawn on the server (ui/web/flow_diagram.py), so the page needs no
script. The table lists every transition with its source and target states, the roles it
names (its own and its approval levels'), its guard, its approval and its SLA. Under a
transition whose approval is routed by a decision table, a nested table shows the table's
inputs, its rules and the levels each rule selects.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.flow_availability import needed_roles
from ui.web.admin_support import admin_only, admin_page, entity_label, role_label
from ui.web.flow_diagram import render_svg
from ui.web.flow_layout import mode_name
from ui.web.i18n import format_number, join_list, label, pick
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
class RoutingInput:
    name: str
    #: The expression over the record that gives the input's value.
    source: str
    #: The label of the field when the expression is a field of the flow's entity, else "".
    label: str


@dataclass(frozen=True)
class RoutingRule:
    #: The condition on each input, in the order of the inputs, or None where the rule matches any value.
    conditions: tuple[str | None, ...]
    #: The labels of the levels the rule selects, in approval order.
    levels: tuple[str, ...]


@dataclass(frozen=True)
class RoutingTable:
    inputs: tuple[RoutingInput, ...]
    rules: tuple[RoutingRule, ...]


@dataclass(frozen=True)
class TransitionRow:
    transition: m.Transition
    #: Marks shown beside the name: automatic, and the kind of a return, rejection or withdrawal.
    marks: tuple[str, ...]
    #: The source states' labels, joined in the user's language.
    sources: str
    target: str
    #: The labels of the roles that may fire the transition, joined in the user's language, or "" when only the system fires it.
    roles: str
    approval: str
    routing: RoutingTable | None
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
    approval = transition.approval
    return TransitionRow(
        transition=transition,
        marks=tuple(marks),
        sources=join_list((state(source) for source in transition.sources), lang),
        target=state(transition.target),
        roles=join_list((role_label(model, role, lang) for role in needed_roles(transition)), lang),
        approval=approval_text(model, approval, lang),
        routing=routing_table(model.entities.get(flow.entity), approval, lang) if approval is not None else None,
        sla=sla_text(model, flow, transition.sla, lang),
    )


def approval_text(model: m.AppModel, approval: m.Approval | None, lang: str) -> str:
    """Describe an approval in one line: its mode, then its levels in order with their roles and signatures."""
    if approval is None:
        return ""
    colon = pick(lang, ": ", "：")
    levels = []
    for level in approval.steps():
        roles = join_list((role_label(model, role, lang) for role in level.roles), lang)
        named = f"{label(level.label, lang)}{colon}" if approval.mode == "levels" else ""
        levels.append(f"{named}{roles} ({_signatures(level, lang)})" if lang == "en" else f"{named}{roles}（{_signatures(level, lang)}）")
    text = f"{mode_name(approval.mode, lang)}{colon}" + " → ".join(levels)
    if approval.routing is not None:
        count = len(approval.routing.rules)
        text += pick(lang, f"; the {count} routing rules below choose the levels", f"；由下方 {count} 条路由规则选择级别")
    return text


def routing_table(entity: m.Entity | None, approval: m.Approval, lang: str) -> RoutingTable | None:
    """Return an approval's routing table for display: its inputs, and per rule the conditions and the levels.

    An input whose expression is a field of the flow's entity is headed by the field's label,
    and the values of an enum field are shown with their choice labels.
    """
    table = approval.routing
    if table is None:
        return None
    fields = entity.fields if entity is not None else {}
    inputs = []
    choices: dict[str, dict[str, str]] = {}
    for name, expression in table.inputs.items():
        field = fields.get(expression.source)
        inputs.append(RoutingInput(name, expression.source, label(field.label, lang) if field is not None else ""))
        if field is not None:
            choices[name] = {choice.value: label(choice.label, lang) for choice in field.choices}

    levels = {level.name: label(level.label, lang) for level in approval.steps()}
    rules = []
    for rule in table.rules:
        conditions = tuple(
            _condition_text(rule.when[name], choices.get(name, {}), lang) if name in rule.when else None for name in table.inputs
        )
        # The result lists level names; they are shown in the order the approval runs its levels.
        ordered = [name for name in levels if name in rule.result]
        ordered += [name for name in rule.result if name not in levels]
        rules.append(RoutingRule(conditions, tuple(levels.get(name, name) for name in ordered)))
    return RoutingTable(tuple(inputs), tuple(rules))


def _condition_text(condition: m.Condition, choices: dict[str, str], lang: str) -> str:
    """Describe a decision-table cell: a range such as "> 10,000 and ≤ 50,000", or the values it matches such as "A, B"."""
    if isinstance(condition, m.RangeCondition):
        bounds = (("≥", condition.min), (">", condition.above), ("≤", condition.max), ("<", condition.below))
        parts = [f"{sign} {format_number(value, lang)}" for sign, value in bounds if value is not None]
        return pick(lang, " and ", " 且 ").join(parts)
    values = []
    for value in sorted(condition):
        choice = choices.get(value, value)
        values.append(value if choice == value else pick(lang, f"{choice} ({value})", f"{choice}（{value}）"))
    return join_list(values, lang)


def _signatures(level: m.ApprovalLevel, lang: str) -> str:
    if level.quorum is not None:
        return pick(lang, f"{level.quorum} to sign", f"{level.quorum} 人签署")
    if level.ratio is not None:
        return pick(lang, f"{_number(level.ratio)} of them to sign", f"{_number(level.ratio)} 比例签署")
    return pick(lang, "all to sign", "全部签署")


def sla_text(model: m.AppModel, flow: m.Flow, sla: m.Sla | None, lang: str) -> str:
    """Describe a transition's SLA in one line, such as "24 h, reminder 4 h before, escalates to Manager, on expiry: Reject"."""
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
        expiry = flow.transitions.get(sla.on_expiry)
        fired = label(expiry.label, lang) if expiry is not None else sla.on_expiry
        parts.append(pick(lang, f"on expiry: {fired}", f"超时后：{fired}"))
    return pick(lang, ", ", "，").join(parts)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/flows", admin_only(flows_page), methods=["GET"]),
        Route("/admin/flows/{name}", admin_only(flow_page), methods=["GET"]),
    ]
