"""The approval step a simulated record would meet: the levels that apply and whether a role may sign the first.

The levels are chosen as runtime/approvals.py chooses them at the first signature: every
level, or, with a routing table, the levels of the first rule whose conditions the record's
values meet. An input that cannot be evaluated is empty, so it matches only rules that do
not test it. A role may sign a level when it is one of the level's roles or inherits one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from metamodel import model as m
from metamodel.decision_tables import matching_rules, show_range
from runtime.approvals import roles_including
from runtime.simulated_record import show_value

#: Names of the approval modes, in English and Chinese.
APPROVAL_MODES: dict[str, tuple[str, str]] = {
    "single": ("single approver", "单人审批"),
    "any_of": ("any one approver", "任一人审批"),
    "countersign": ("countersign", "会签"),
    "levels": ("sequential levels", "逐级审批"),
}


@dataclass(frozen=True)
class ApprovalCheck:
    mode: str
    #: The levels that apply to the record, in order; empty when no routing rule matches.
    levels: tuple[m.ApprovalLevel, ...]
    #: The index of the routing rule that matched, or None without a routing table or without a match.
    rule: int | None
    #: The routing table's inputs with their values.
    inputs: tuple[tuple[str, Any], ...]
    may_sign_first: bool
    #: False when the approval has a routing table and none of its rules matches the record.
    routed: bool = True


def check_approval(model: m.AppModel, approval: m.Approval, names: Mapping[str, Any], role: str) -> ApprovalCheck:
    """Return the levels of the approval that apply to a record with these expression names, and whether `role` signs the first."""
    levels = approval.steps()
    if approval.routing is None:
        return ApprovalCheck(approval.mode, levels, None, (), _may_sign(model, levels, role))
    inputs: dict[str, Any] = {}
    for name, expression in approval.routing.inputs.items():
        try:
            inputs[name] = expression.evaluate(names)
        except Exception:  # noqa: BLE001 - a missing value matches only rules that do not test it, as in approvals.py
            inputs[name] = None
    matched = matching_rules(approval.routing, inputs)
    if not matched:
        return ApprovalCheck(approval.mode, (), None, tuple(inputs.items()), False, routed=False)
    chosen = approval.routing.rules[matched[0]].result
    routed_levels = tuple(level for level in levels if level.name in chosen)
    return ApprovalCheck(approval.mode, routed_levels, matched[0], tuple(inputs.items()), _may_sign(model, routed_levels, role))


def _may_sign(model: m.AppModel, levels: tuple[m.ApprovalLevel, ...], role: str) -> bool:
    return bool(levels) and role in roles_including(model, levels[0].roles)


def describe_approval(check: ApprovalCheck, approval: m.Approval, role: str) -> tuple[str, str]:
    """Return, in English and Chinese, which levels apply (with the routing rule) and whether the role may sign the first."""
    mode_en, mode_zh = APPROVAL_MODES.get(check.mode, (check.mode, check.mode))
    inputs_en = ", ".join(f"{name} = {show_value(value, 'en')}" for name, value in check.inputs)
    inputs_zh = "，".join(f"{name} = {show_value(value, 'zh-CN')}" for name, value in check.inputs)
    if not check.routed:
        return (f"approval ({mode_en}): no rule of the routing table matches the record ({inputs_en})",
                f"审批（{mode_zh}）：路由表中没有适用于本记录的规则（{inputs_zh}）")
    if not check.levels:
        return f"approval ({mode_en}): no level applies", f"审批（{mode_zh}）：没有适用的审批级别"

    first = check.levels[0]
    if check.mode == "levels":
        chain_en = " → ".join(f"{level.label.en} ({_signatures(level, 'en')})" for level in check.levels)
        chain_zh = " → ".join(f"{level.label.zh_cn}（{_signatures(level, 'zh-CN')}）" for level in check.levels)
        routed_en = routed_zh = ""
        if check.rule is not None and approval.routing is not None:
            conditions_en, conditions_zh = _rule_conditions(approval.routing.rules[check.rule])
            routed_en = f" by routing rule {check.rule + 1} ({conditions_en}; {inputs_en})"
            routed_zh = f"，依据路由规则 {check.rule + 1}（{conditions_zh}；{inputs_zh}）"
        en = f"approval ({mode_en}): the levels that apply{routed_en} are {chain_en}"
        zh = f"审批（{mode_zh}）：适用的审批级别{routed_zh}为 {chain_zh}"
        first_en, first_zh = f"the first level, “{first.label.en}”", f"第一级“{first.label.zh_cn}”"
    else:
        # A single, any_of or countersign step is one level without a name of its own.
        en = f"approval ({mode_en}): {_signatures(first, 'en')} from the roles {', '.join(first.roles)}"
        zh = f"审批（{mode_zh}）：需角色 {', '.join(first.roles)} 中 {_signatures(first, 'zh-CN')}"
        first_en, first_zh = "it", "该审批"

    roles = ", ".join(first.roles)
    if check.may_sign_first:
        return f"{en}; {role} may sign {first_en}", f"{zh}；{role} 可以签署{first_zh}"
    return (f"{en}; {role} may not sign {first_en}: that needs the role {roles} or a role inheriting it",
            f"{zh}；{role} 不能签署{first_zh}：需要角色 {roles} 或继承它的角色")


def _signatures(level: m.ApprovalLevel, lang: str) -> str:
    if level.quorum is not None:
        return f"{level.quorum} signature(s)" if lang == "en" else f"{level.quorum} 人签署"
    if level.ratio is not None:
        shown = show_value(level.ratio, lang)
        return f"signatures of a share {shown} of the approvers, rounded up" if lang == "en" else f"{shown} 比例的审批人签署（向上取整）"
    return "signatures of every approver" if lang == "en" else "全部审批人签署"


def _rule_conditions(rule: m.DecisionRule) -> tuple[str, str]:
    if not rule.when:
        return "any record", "任何记录"
    parts = []
    for name, condition in rule.when.items():
        shown = show_range(condition) if isinstance(condition, m.RangeCondition) else "[" + ", ".join(sorted(condition)) + "]"
        parts.append(f"{name} in {shown}")
    return " and ".join(parts), " 且 ".join(parts)
