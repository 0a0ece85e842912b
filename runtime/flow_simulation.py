"""Simulate a flow on a record without a database: which transitions a role may fire now, and why not the others.

`simulate` takes the application model, a flow, the record's values (with its `state`, see
runtime/simulated_record.py) and a role held in an org unit. For each transition of the
flow it runs the checks of runtime/flows.py in their order and reports every reason the
transition is closed, or what an open one needs:

1. the record's state is one of the transition's sources;
2. the transition is not automatic (an automatic one is reported with whether its guard
   holds now, that is whether the system would fire it by itself);
3. the role, or a role it inherits, is granted the transition's action on the entity by
   the YAML's grants, and the record lies in the data scope of one such grant, computed
   from the unit where the role is held;
4. every required field and required document has a value;
5. the guard holds, shown with the value of every name it reads;
6. with an approval, a routing table (when there is one) matches the record, and the role
   may sign the first of the levels that apply.

A required comment, the conditions of a withdrawal or a return that depend on the
record's history, and the hooks a transition runs are listed on the transition without
closing it. Grants that admins added in the database, delegations and hooks are not
simulated: only the YAML is read.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Mapping

from metamodel import model as m
from runtime.flow_checks import missing_before
from runtime.simulated_access import granting, outside_scope
from runtime.simulated_approval import ApprovalCheck, check_approval, describe_approval
from runtime.simulated_record import (
    SIMULATED_USER,
    Problem,
    SimulatedUser,
    expression_names,
    prepare_record,
    read_name,
    show_value,
)


class SimulationError(ValueError):
    """Raised for input the simulation cannot run on; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(problem.en for problem in problems))


@dataclass(frozen=True)
class Reason:
    """A reason a transition is closed, or (when `blocking` is False) a condition or an effect of an open transition."""

    #: Closing a transition: state, automatic, grant, scope, required, guard or approval. Not closing it: approval,
    #: comment, withdraw, return, hooks, and on the whole simulation applies_when or automatic.
    kind: str
    en: str
    zh: str
    blocking: bool = True

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class GuardCheck:
    source: str
    holds: bool
    #: Each name the guard reads, as written (`customer.blacklisted`), with its value.
    values: tuple[tuple[str, Any], ...]
    #: The evaluation error, when the guard could not be evaluated (it then does not hold).
    error: str | None = None


@dataclass(frozen=True)
class TransitionCheck:
    transition: m.Transition
    open: bool
    reasons: tuple[Reason, ...]
    guard: GuardCheck | None = None
    approval: ApprovalCheck | None = None
    #: For an automatic transition from the record's state: whether the system would fire it now.
    fires_by_itself: bool | None = None


@dataclass(frozen=True)
class Simulation:
    flow: m.Flow
    entity: m.Entity
    state: m.State
    role: m.Role
    #: The org unit where the role is held, or None for an application without org units.
    unit: str | None
    transitions: tuple[TransitionCheck, ...]
    #: Remarks on the whole record, such as a flow condition that does not hold for it.
    notes: tuple[Reason, ...] = ()

    @property
    def open(self) -> list[TransitionCheck]:
        return [check for check in self.transitions if check.open]

    @property
    def closed(self) -> list[TransitionCheck]:
        return [check for check in self.transitions if not check.open]


def simulate(
    model: m.AppModel, flow_name: str, record: Mapping[str, Any], role_name: str, unit: str | None = None, *,
    today: datetime.date | None = None,
) -> Simulation:
    """Check every transition of a flow on the record for a user holding the role in the unit (default: the top unit).

    Raises SimulationError for an unknown flow, role, unit or state, and for invalid record values.
    """
    flow = _flow(model, flow_name)
    role = _role(model, role_name)
    unit = _unit(model, unit)
    entity = model.entities[flow.entity]
    values, problems = prepare_record(model, entity, record)
    state = _state(flow, record, problems)
    # A record that does not say otherwise lies in the unit where the role is held and was created by the simulated user.
    if values.get("org_unit") is None:
        values["org_unit"] = unit
    if values.get("created_by") is None:
        values["created_by"] = SIMULATED_USER
    problems.extend(_system_value_problems(model, flow, values))
    if problems or state is None:
        raise SimulationError(problems)

    user = SimulatedUser(SIMULATED_USER, SIMULATED_USER, [role.name], unit, [unit] if unit else [])
    context = _Context(model, flow, entity, role, unit, values, expression_names(entity, values, user, today or datetime.date.today()))
    checks = tuple(context.check(transition) for transition in flow.transitions.values())
    return Simulation(flow, entity, state, role, unit, checks, tuple(_notes(context, checks)))


# Input ---------------------------------------------------------------------------------------


def _flow(model: m.AppModel, name: str) -> m.Flow:
    flow = model.flows.get(name)
    if flow is None:
        known = ", ".join(model.flows) or "-"
        raise SimulationError([Problem(f"unknown flow {name!r}; use one of: {known}", f"未知的流程 {name!r}；请使用：{known}")])
    return flow


def _role(model: m.AppModel, name: str) -> m.Role:
    role = model.permissions.roles.get(name)
    if role is None:
        known = ", ".join(model.permissions.roles) or "-"
        raise SimulationError([Problem(f"unknown role {name!r}; use one of: {known}", f"未知的角色 {name!r}；请使用：{known}")])
    return role


def _unit(model: m.AppModel, name: str | None) -> str | None:
    units = model.permissions.org_units
    if name is None:
        return next((unit.name for unit in units.values() if unit.parent is None), None)
    if name not in units:
        known = ", ".join(units) or "-"
        raise SimulationError([Problem(f"unknown org unit {name!r}; use one of: {known}", f"未知的组织机构 {name!r}；请使用：{known}")])
    return name


def _state(flow: m.Flow, record: Mapping[str, Any], problems: list[Problem]) -> m.State | None:
    known = ", ".join(flow.states)
    if "state" not in record or record["state"] is None:
        problems.append(Problem(f"the record gives no state; add `state:` with one of: {known}",
                                f"记录没有给出状态；请添加 `state:`，取值为：{known}", ()))
        return None
    state = flow.states.get(str(record["state"]))
    if state is None:
        problems.append(Problem(f"state: flow {flow.name} has no state {record['state']!r}; use one of: {known}",
                                f"state：流程 {flow.name} 没有状态 {record['state']!r}；请使用：{known}", ("state",)))
    return state


def _system_value_problems(model: m.AppModel, flow: m.Flow, values: Mapping[str, Any]) -> list[Problem]:
    problems = []
    units = model.permissions.org_units
    record_unit = values.get("org_unit")
    if units and record_unit not in units:
        known = ", ".join(units)
        problems.append(Problem(f"org_unit: unknown org unit {record_unit!r}; use one of: {known}",
                                f"org_unit：未知的组织机构 {record_unit!r}；请使用：{known}", ("org_unit",)))
    if values.get("flow") not in (None, flow.name):
        problems.append(Problem(f"flow: the record names the flow {values.get('flow')!r}, but {flow.name} is simulated; "
                                "remove the key or simulate that flow",
                                f"flow：记录指定的流程是 {values.get('flow')!r}，而模拟的是 {flow.name}；请删除该键或模拟该流程", ("flow",)))
    return problems


# Checks --------------------------------------------------------------------------------------


@dataclass
class _Context:
    model: m.AppModel
    flow: m.Flow
    entity: m.Entity
    role: m.Role
    unit: str | None
    values: Mapping[str, Any]
    names: Mapping[str, Any]

    def label(self, state: str) -> m.Label:
        declared = self.flow.states.get(state)
        return declared.label if declared is not None else m.Label(state, state)

    def check(self, transition: m.Transition) -> TransitionCheck:
        """Run the checks of one transition in the flow engine's order; see the module docs."""
        state = str(self.values.get("state"))
        if state not in transition.sources:
            return TransitionCheck(transition, False, (self._not_from_state(transition, state),))
        guard = self.guard(transition)
        missing = self.missing(transition)
        if transition.automatic:
            fires = not missing and (guard is None or guard.holds)
            return TransitionCheck(transition, False, (_automatic(self, transition, guard, missing, fires),), guard, None, fires)

        reasons: list[Reason] = []
        granted = self.grant_reasons(transition)
        reasons.extend(granted)
        if missing:
            reasons.append(_missing(self, transition, missing))
        if guard is not None and not guard.holds:
            reasons.append(_guard_fails(transition, guard))
        approval = None
        if transition.approval is not None:
            approval = check_approval(self.model, transition.approval, self.names, self.role.name)
            en, zh = describe_approval(approval, transition.approval, self.role.name)
            reasons.append(Reason("approval", en, zh, blocking=not approval.may_sign_first))
        is_open = not any(reason.blocking for reason in reasons)
        if is_open:
            reasons.extend(_conditions(self, transition))
        return TransitionCheck(transition, is_open, tuple(reasons), guard, approval)

    def _not_from_state(self, transition: m.Transition, state: str) -> Reason:
        current = self.label(state)
        sources_en = ", ".join(f"“{self.label(source).en}”" for source in transition.sources)
        sources_zh = "、".join(f"“{self.label(source).zh_cn}”" for source in transition.sources)
        return Reason("state", f"not from “{current.en}”: it goes from {sources_en}",
                      f"不能在“{current.zh_cn}”状态执行：该流转从{sources_zh}出发")

    def guard(self, transition: m.Transition) -> GuardCheck | None:
        guard = transition.guard
        if guard is None:
            return None
        values: dict[str, Any] = {}
        for use in guard.names:
            written = ".".join((use.name, *use.attributes))
            values.setdefault(written, read_name(self.names, use.name, use.attributes))
        try:
            return GuardCheck(guard.source, bool(guard.evaluate(self.names)), tuple(values.items()))
        except Exception as exc:  # noqa: BLE001 - a guard over missing values does not hold, as in the flow engine
            return GuardCheck(guard.source, False, tuple(values.items()), f"{type(exc).__name__}: {exc}")

    def missing(self, transition: m.Transition) -> list[str]:
        fields = self.entity.fields
        return [name for name in (*transition.required_fields, *transition.required_documents)
                if missing_before(fields.get(name), self.values.get(name))]

    def grant_reasons(self, transition: m.Transition) -> list[Reason]:
        """Return why the role may not fire the transition by its grants and data scope, or nothing when it may."""
        action = transition.name
        grants = granting(self.model, self.role.name, self.entity.name, action)
        role, entity = self.role.label, self.entity.label
        if not grants:
            return [Reason("grant", f"the role {self.role.name} (“{role.en}”) is not granted the action {action} (“{transition.label.en}”) "
                                    f"on {entity.en}, directly or through a role it inherits",
                           f"角色 {self.role.name}（“{role.zh_cn}”）及其继承的角色都没有{entity.zh_cn}的"
                           f"“{transition.label.zh_cn}”（{action}）操作授权")]
        outside = [outside_scope(self.model, grant, self.unit, self.values, self.names) for grant in grants]
        if any(reason is None for reason in outside):
            return []
        details_en = "; ".join(reason[0] for reason in outside if reason is not None)
        details_zh = "；".join(reason[1] for reason in outside if reason is not None)
        return [Reason("scope", f"the record lies outside the data scope of {self.role.name} for {action}: {details_en}",
                       f"记录不在角色 {self.role.name} 执行 {action} 的数据范围内：{details_zh}")]


# Reasons -------------------------------------------------------------------------------------


def _shown_values(values: tuple[tuple[str, Any], ...], lang: str) -> str:
    return ("，" if lang != "en" else ", ").join(f"{name} = {show_value(value, lang)}" for name, value in values)


def _field_labels(context: _Context, names: list[str]) -> tuple[str, str]:
    labels = [(context.entity.fields[name].label if name in context.entity.fields else m.Label(name, name), name) for name in names]
    return (", ".join(f"{label.en} ({name})" for label, name in labels), "、".join(f"{label.zh_cn}（{name}）" for label, name in labels))


def _automatic(context: _Context, transition: m.Transition, guard: GuardCheck | None, missing: list[str], fires: bool) -> Reason:
    en = "automatic: the system fires it by itself, nobody fires it by hand"
    zh = "自动流转：由系统自动执行，不能手工执行"
    if missing:
        shown_en, shown_zh = _field_labels(context, missing)
        en += f"; it waits for {shown_en}"
        zh += f"；尚缺少{shown_zh}"
    if guard is None:
        en += "; it has no guard"
        zh += "；它没有条件"
    else:
        word_en, word_zh = ("holds", "成立") if guard.holds else ("does not hold", "不成立")
        en += f"; its guard {guard.source} {word_en} now ({_shown_values(guard.values, 'en')})"
        zh += f"；其条件 {guard.source} 当前{word_zh}（{_shown_values(guard.values, 'zh-CN')}）"
    target = context.label(transition.target)
    if fires:
        en += f", so it would fire by itself now and move the record to “{target.en}”"
        zh += f"，因此现在就会自动执行，记录转到“{target.zh_cn}”"
    else:
        en += ", so it does not fire now"
        zh += "，因此现在不会执行"
    return Reason("automatic", en, zh)


def _missing(context: _Context, transition: m.Transition, missing: list[str]) -> Reason:
    shown_en, shown_zh = _field_labels(context, missing)
    return Reason("required", f"missing before “{transition.label.en}”: {shown_en}", f"执行“{transition.label.zh_cn}”前需填写：{shown_zh}")


def _guard_fails(transition: m.Transition, guard: GuardCheck) -> Reason:
    en = f"the guard does not hold: {guard.source}, with {_shown_values(guard.values, 'en')}"
    zh = f"条件不满足：{guard.source}，其中 {_shown_values(guard.values, 'zh-CN')}"
    if guard.error is not None:
        en += f" (it could not be evaluated: {guard.error})"
        zh += f"（无法求值：{guard.error}）"
    return Reason("guard", en, zh)


def _conditions(context: _Context, transition: m.Transition) -> list[Reason]:
    """Return what an open transition still needs at firing time or does, which the values alone do not decide."""
    found = []
    if transition.comment == "required":
        found.append(Reason("comment", "a comment is required", "须填写审批意见", blocking=False))
    current = context.label(str(context.values.get("state")))
    if transition.kind == "withdraw":
        found.append(Reason("withdraw", f"only whoever moved the record into “{current.en}” may withdraw it, before anyone has signed there",
                            f"只有把记录提交到“{current.zh_cn}”的人才能撤回，且须在任何人签署之前", blocking=False))
    elif transition.kind == "return":
        target = context.label(transition.target)
        found.append(Reason("return", f"it goes back to “{target.en}” only if the record has been there before",
                            f"仅当记录曾经过“{target.zh_cn}”时才能退回", blocking=False))
    if transition.hooks:
        hooks = ", ".join(transition.hooks)
        found.append(Reason("hooks", f"it runs the hooks {hooks}, which may change values or stop it; they are not simulated",
                            f"执行时运行钩子 {hooks}，它们可能修改数据或阻止流转；模拟不运行钩子", blocking=False))
    return found


def _notes(context: _Context, checks: tuple[TransitionCheck, ...]) -> list[Reason]:
    notes = []
    applies_when = context.flow.applies_when
    if applies_when is not None:
        try:
            applies = bool(applies_when.evaluate(context.names))
        except Exception:  # noqa: BLE001 - a condition over missing values does not hold
            applies = False
        if not applies:
            values = tuple({".".join((use.name, *use.attributes)): read_name(context.names, use.name, use.attributes)
                            for use in applies_when.names}.items())
            notes.append(Reason(
                "applies_when",
                f"the flow's condition {applies_when.source} does not hold for this record ({_shown_values(values, 'en')}), "
                "so a new record like it would follow another flow",
                f"本流程的适用条件 {applies_when.source} 对该记录不成立（{_shown_values(values, 'zh-CN')}），同样的新记录会走其他流程",
                blocking=False))
    for check in checks:
        if check.fires_by_itself:
            target = context.label(check.transition.target)
            notes.append(Reason(
                "automatic",
                f"the automatic transition {check.transition.name} would fire by itself now, so the record would move to "
                f"“{target.en}” before anyone acts",
                f"自动流转 {check.transition.name} 现在就会执行，记录会在任何人操作之前转到“{target.zh_cn}”",
                blocking=False))
            break
    return notes
