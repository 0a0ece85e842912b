"""Approval steps: who may sign each level, who has signed, and when a step is complete.

A transition with an approval fires once its levels are complete, in order. A single or
any_of step is one level that one signature completes, so it fires at once. A
countersign step is one level that needs every eligible approver, a quorum count, or a
ratio of the eligible approvers (rounded up). A levels step has several such levels in
sequence. Its routing table, when it has one, picks the levels that apply to the record
at the first signature, and that choice stays for the rest of the step.

An eligible approver of a level is an active user holding one of the level's roles (or a
role that inherits one), or, once the step's SLA has run out, a holder of the role it
escalates to, whose permissions allow the transition on this record. The user who
submitted the record to the step is never one. A user added to a level (加签) must sign it
as well: the level needs its count from the eligible approvers plus every added user's
signature. One person signs one level of a step. Signatures belong to the record's
current step: after a return, the approvals start again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Connection, insert, select, true

from metamodel import model as m
from metamodel.decision_tables import matching_rules
from runtime.access import Actor
from runtime.delegations import actor_of, resolve_user
from runtime.errors import FieldError, PermissionDenied, RecordError, ValidationFailed
from runtime.flow_steps import remember_levels

if TYPE_CHECKING:
    from runtime.records import RecordService


@dataclass
class LevelProgress:
    """One level of an approval step: who may sign, who has signed and how many signatures it needs."""

    level: m.ApprovalLevel
    #: User id to display name of every eligible approver, added users included.
    eligible: dict[str, str]
    #: The signatures, oldest first: approver, signed_by, comment, decided_at.
    signed: list[dict[str, Any]] = field(default_factory=list)
    #: The users added to the level, each of whom must sign it too.
    added: frozenset[str] = frozenset()

    @property
    def by_role(self) -> dict[str, str]:
        """Return the eligible approvers the level's roles give, without the users added to it."""
        return {user: name for user, name in self.eligible.items() if user not in self.added}

    @property
    def needed_by_role(self) -> int:
        if self.level.quorum is not None:
            return self.level.quorum
        if self.level.ratio is not None:
            return max(1, math.ceil(self.level.ratio * len(self.by_role)))
        return len(self.by_role)

    @property
    def needed(self) -> int:
        return self.needed_by_role + len(self.added)

    @property
    def signers(self) -> set[str]:
        return {str(row["approver"]) for row in self.signed}

    @property
    def counted(self) -> int:
        """Return the signatures that count towards `needed`: the role holders' up to their count, and the added users'."""
        return min(len(self.signers - self.added), self.needed_by_role) + len(self.signers & self.added)

    @property
    def waiting_for(self) -> dict[str, str]:
        """Return the eligible approvers whose signature the level still waits for: only added users once the roles' count is met."""
        role_count_met = len(self.signers - self.added) >= self.needed_by_role
        return {user: name for user, name in self.eligible.items()
                if user not in self.signers and (user in self.added or not role_count_met)}

    @property
    def complete(self) -> bool:
        signed_by_role = len(self.signers - self.added)
        return self.needed > 0 and self.added <= self.signers and signed_by_role >= self.needed_by_role

    @property
    def unreachable(self) -> bool:
        """Tell whether fewer people may sign than the level needs, so it cannot complete until someone is added."""
        able = len(set(self.by_role) - self.added)
        return not self.complete and able < self.needed_by_role


@dataclass
class ApprovalProgress:
    transition: m.Transition
    levels: list[LevelProgress]

    @property
    def current(self) -> LevelProgress | None:
        return next((level for level in self.levels if not level.complete), None)

    @property
    def complete(self) -> bool:
        return self.current is None


def roles_including(model: m.AppModel, roles: tuple[str, ...]) -> set[str]:
    """Return the roles given and every role that inherits one of them, directly or through others."""
    found = set(roles)
    changed = True
    while changed:
        changed = False
        for role in model.permissions.roles.values():
            if role.name not in found and found.intersection(role.inherits):
                found.add(role.name)
                changed = True
    return found


def routed_levels(
    service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, record: Mapping[str, Any],
    transition: m.Transition, step: dict[str, Any], *, remember: bool = True,
) -> list[m.ApprovalLevel]:
    """Return the levels that apply to the record, choosing them by the routing table at the first call of a step.

    With `remember`, the choice is stored with the step; a reader that must not write passes False.
    """
    approval = transition.approval
    assert approval is not None
    levels = approval.steps()
    chosen = (step.get("levels") or {}).get(transition.name)
    if chosen is not None:
        return [level for level in levels if level.name in chosen]
    if approval.routing is None:
        return list(levels)
    names = service._validator(connection, entity).expression_names(record, actor, service.clock().date())
    values: dict[str, Any] = {}
    for input_name, expression in approval.routing.inputs.items():
        try:
            values[input_name] = expression.evaluate(names)
        except Exception:  # noqa: BLE001 - a missing value matches only rules that do not test it
            values[input_name] = None
    matched = matching_rules(approval.routing, values)
    if not matched:
        shown_en = ", ".join(f"{key} = {'(empty)' if value is None else value}" for key, value in values.items())
        shown_zh = "，".join(f"{key} = {'（空）' if value is None else value}" for key, value in values.items())
        raise ValidationFailed(entity.name, {"approval": [FieldError(
            "approval.routing", f"No routing rule of “{transition.label.en}” matches this record ({shown_en}); fill in the values "
            "or ask the administrator to complete the routing table",
            f"“{transition.label.zh_cn}”的审批路由表中没有适用于本记录的规则（{shown_zh}）；请补全这些值，或联系管理员补全路由表")]})
    result = set(approval.routing.rules[matched[0]].result)
    selected = [level for level in levels if level.name in result]
    if remember:
        remember_levels(connection, service.schema.flows, step, transition.name, [level.name for level in selected])
    return selected


def progress(
    service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, record: Mapping[str, Any],
    transition: m.Transition, step: dict[str, Any], *, remember: bool = True,
) -> ApprovalProgress:
    """Return the state of the record's approval step for `transition`; see `routed_levels` for `remember`."""
    flows = service.schema.flows
    levels = routed_levels(service, connection, actor, entity, record, transition, step, remember=remember)
    decisions = connection.execute(
        select(flows.decisions).where(flows.decisions.c.step_id == step["id"], flows.decisions.c.transition == transition.name)
        .order_by(flows.decisions.c.id)
    ).mappings().all()
    result = []
    for level in levels:
        eligible, added = eligible_approvers(service, connection, entity, record, transition, level, step)
        signed = [dict(row) for row in decisions if row["level"] == level.name]
        # One person signs one level, so a user who signed another level may no longer sign this one.
        elsewhere = {str(row[key]) for row in decisions if row["level"] != level.name for key in ("approver", "signed_by")}
        eligible = {user: name for user, name in eligible.items()
                    if user not in elsewhere or user in {str(row["approver"]) for row in signed}}
        result.append(LevelProgress(level, eligible, signed, frozenset(added) & set(eligible)))
    return ApprovalProgress(transition, result)


def eligible_approvers(
    service: RecordService, connection: Connection, entity: m.Entity, record: Mapping[str, Any], transition: m.Transition,
    level: m.ApprovalLevel, step: Mapping[str, Any],
) -> tuple[dict[str, str], set[str]]:
    """Return the eligible approvers of a level (id to name, added users included) and the ids of the users added."""
    access = service.schema.access
    flows = service.schema.flows
    roles = roles_including(service.model, level.roles)
    # Once the step's time limit has run out, the role it was escalated to may sign too.
    timer = (step.get("due") or {}).get(transition.name) or {}
    if timer.get("escalated") and transition.sla is not None and transition.sla.escalate_to:
        roles |= roles_including(service.model, (transition.sla.escalate_to,))
    holders = {user for (user,) in connection.execute(
        select(access.user_roles.c.user_id).where(access.user_roles.c.role.in_(roles)).distinct()
    )}
    added = {user for (user,) in connection.execute(
        select(flows.approvers.c.user_id).where(flows.approvers.c.step_id == step["id"], flows.approvers.c.transition == transition.name,
                                                flows.approvers.c.level == level.name)
    )}
    submitters = {step.get("entered_by"), step.get("entered_for")} - {None}
    eligible: dict[str, str] = {}
    for user_id in sorted((holders | added) - submitters):
        candidate = actor_of(service, connection, user_id)
        if candidate is None:
            continue
        # A role holder signs through the level's roles, in their data scope; an added user through any grant.
        through = None if user_id in added else frozenset(roles)
        if may_fire(service, connection, candidate, entity.name, int(record["id"]), transition.name, through=through):
            eligible[user_id] = candidate.name
    return eligible, added & set(eligible)


def may_fire(service: RecordService, connection: Connection, actor: Actor, entity: str, record_id: int, action: str,
             *, through: frozenset[str] | None = None) -> bool:
    """Tell whether the actor is granted the action and the record lies in its scope for it.

    With `through`, only the grants of the actor's roles among those count.
    """
    if not service.access.allows(actor, action, entity):
        return False
    table = service.schema.entities[entity].table
    if through is None:
        scope = service._scoped(actor, entity, action)
    else:
        predicate = service.access.scope_through(actor, entity, table, action, through)
        scope = predicate if predicate is not None else true()
    return connection.scalar(select(table.c.id).where(table.c.id == record_id, scope)) is not None


def refusal(
    service: RecordService, entity: m.Entity, transition: m.Transition, state: ApprovalProgress, step: Mapping[str, Any],
    approver: Actor, signed_by: Actor, *, delegated_role: str | None = None,
) -> RecordError | None:
    """Return why `signed_by`, signing for `approver`, may not sign the current level now, or None when they may.

    Screens offer the transition only when this returns None, and `sign` raises what it returns.
    """
    level = state.current
    if level is None:
        return _failed(entity, "approval.complete", f"“{transition.label.en}” is already approved", f"“{transition.label.zh_cn}”已审批完成")
    for other in state.levels:
        people = other.signers | {str(row["signed_by"]) for row in other.signed}
        if other is not level and (approver.id in people or signed_by.id in people):
            who = approver.name if approver.id in people else signed_by.name
            return _failed(entity, "approval.other_level", f"{who} has already signed “{other.level.label.en}” of this approval; "
                           "one person signs one level", f"{who} 已签署本审批的“{other.level.label.zh_cn}”；每人只能签署其中一个级别")
    if approver.id in level.signers:
        return _failed(entity, "approval.signed", f"{approver.name} has already signed “{level.level.label.en}”; wait for the others",
                       f"{approver.name} 已签署“{level.level.label.zh_cn}”，请等待其他审批人")
    if signed_by.id != approver.id and signed_by.id in {str(row["signed_by"]) for row in level.signed} | level.signers:
        return _failed(entity, "approval.signed", f"{signed_by.name} has already signed “{level.level.label.en}”; one person "
                       "gives one signature per level, for themselves or for one delegator",
                       f"{signed_by.name} 已签署“{level.level.label.zh_cn}”；每人在一个级别只能签署一次（本人或代一位委托人）")
    submitters = {step.get("entered_by"), step.get("entered_for")} - {None}
    if approver.id in submitters or signed_by.id in submitters:
        return _failed(entity, "approval.own", "The person who submitted a record to this step cannot approve it; ask another approver",
                       "提交人不能审批自己提交到本步骤的记录，请由其他审批人处理")
    if approver.id not in level.eligible:
        return _not_your_turn(entity, transition, level)
    if delegated_role is not None and delegated_role not in roles_including(service.model, level.level.roles):
        return PermissionDenied(entity.name, transition.name)
    return None


def _not_your_turn(entity: m.Entity, transition: m.Transition, level: LevelProgress) -> ValidationFailed:
    """Return the error naming whose signature the current level waits for, or saying that no one left may give it."""
    waiting = sorted(level.waiting_for.values())
    if not waiting or level.unreachable:
        return _failed(entity, "approval.stuck", f"“{level.level.label.en}” of “{transition.label.en}” needs {level.needed} "
                       f"signatures but only {len(level.eligible)} approver(s) may sign it; ask the administrator to add an approver",
                       f"“{transition.label.zh_cn}”的“{level.level.label.zh_cn}”需要 {level.needed} 人签署，但只有 "
                       f"{len(level.eligible)} 人有权签署；请联系管理员加签审批人")
    return _failed(entity, "approval.turn", f"“{level.level.label.en}” of “{transition.label.en}” is waiting for "
                   f"{', '.join(waiting)}; you are not one of its approvers",
                   f"“{transition.label.zh_cn}”的“{level.level.label.zh_cn}”正在等待 {'、'.join(waiting)} 签署，您不是该级审批人")


def sign(
    service: RecordService, connection: Connection, entity: m.Entity, record: Mapping[str, Any], transition: m.Transition,
    step: dict[str, Any], approver: Actor, signed_by: Actor, comment: str | None, *, delegated_role: str | None = None,
) -> tuple[LevelProgress, ApprovalProgress]:
    """Record `approver`'s signature on the current level; return the level signed and the progress after it.

    A delegate holding one `delegated_role` of the approver signs only levels open to that role.
    """
    before = progress(service, connection, approver, entity, record, transition, step)
    level = before.current
    problem = refusal(service, entity, transition, before, step, approver, signed_by, delegated_role=delegated_role)
    if problem is not None:
        raise problem
    assert level is not None
    connection.execute(insert(service.schema.flows.decisions).values(
        step_id=step["id"], transition=transition.name, level=level.level.name, approver=approver.id, signed_by=signed_by.id,
        comment=comment, decided_at=service.clock(),
    ))
    after = progress(service, connection, approver, entity, record, transition, step)
    signed = next(item for item in after.levels if item.level.name == level.level.name)
    return signed, after


def add_approver(
    service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, record: Mapping[str, Any],
    transition: m.Transition, step: dict[str, Any], user_id: str, *, signed_in: Actor | None = None,
) -> LevelProgress:
    """Add a user to the current level of an approval step; the actor must be one of its eligible approvers.

    `signed_in` is the user who acts, when they act for the actor through a delegation. The
    person who submitted the record adds no approver, for themselves or for a delegator.
    """
    if signed_in is not None and signed_in.id in {step.get("entered_by"), step.get("entered_for")}:
        raise _failed(entity, "approval.own", "The person who submitted the record to this step cannot add approvers to it",
                      "提交人不能为自己提交的记录加签", path="approver")
    state = progress(service, connection, actor, entity, record, transition, step)
    current = state.current
    if current is None:
        raise _failed(entity, "approval.complete", f"“{transition.label.en}” is already approved", f"“{transition.label.zh_cn}”已审批完成")
    if actor.id not in current.eligible:
        raise PermissionDenied(entity.name, transition.name)
    user_id = resolve_user(service, connection, user_id)
    added = actor_of(service, connection, user_id)
    if added is None:
        raise _failed(entity, "approval.user", f"No active user {user_id!r}; choose another approver",
                      f"没有启用的用户 {user_id!r}，请选择其他审批人", path="approver")
    if user_id in current.eligible:
        raise _failed(entity, "approval.present", f"{added.name} is already an approver of “{current.level.label.en}”",
                      f"{added.name} 已经是“{current.level.label.zh_cn}”的审批人", path="approver")
    if user_id in {step.get("entered_by"), step.get("entered_for")}:
        raise _failed(entity, "approval.own", f"{added.name} submitted the record to this step and cannot approve it",
                      f"{added.name} 是本步骤的提交人，不能审批", path="approver")
    signed_elsewhere = next((other for other in state.levels if other is not current and user_id in other.signers), None)
    if signed_elsewhere is not None:
        raise _failed(entity, "approval.other_level", f"{added.name} has already signed “{signed_elsewhere.level.label.en}”; "
                      "one person signs one level", f"{added.name} 已签署“{signed_elsewhere.level.label.zh_cn}”；每人只能签署一个级别",
                      path="approver")
    if not may_fire(service, connection, added, entity.name, int(record["id"]), transition.name):
        raise _failed(entity, "approval.not_allowed",
                      f"{added.name} may not decide “{transition.label.en}” on this record; ask an administrator to grant it first",
                      f"{added.name} 无权对本记录执行“{transition.label.zh_cn}”；请先请管理员授权", path="approver")
    flows = service.schema.flows
    connection.execute(insert(flows.approvers).values(
        step_id=step["id"], transition=transition.name, level=current.level.name, user_id=user_id, added_by=actor.id,
        added_at=service.clock(),
    ))
    current.eligible[user_id] = added.name
    current.added = current.added | {user_id}
    return current


def _failed(entity: m.Entity, code: str, en: str, zh: str, *, path: str = "approval") -> ValidationFailed:
    return ValidationFailed(entity.name, {path: [FieldError(code, en, zh)]})
