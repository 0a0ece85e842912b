"""The transitions a user may fire by hand on a record now, so that screens offer only those.

A transition is offered when the user, or a delegator whose delegation to the user covers a
role the transition needs, is granted it on the record, and, by kind:

- an approval only to an eligible approver of its current level who has not signed it and
  did not submit the record to this step (runtime/approvals.py `refusal`). When a routing
  table matches no rule, the transition stays offered, so that firing it shows the reason;
- a withdrawal only to the user who moved the record into its state, before anyone signed;
- a return or a rejection to anyone but that user, who withdraws instead.

The same functions refuse a firing that gets past the screen, so the two never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Connection, select

from metamodel import model as m
from runtime import approvals
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.delegations import active_delegators, actor_of, covers
from runtime.errors import ValidationFailed
from runtime.flow_steps import current_step
from runtime.flow_tables import FlowTables
from runtime.flow_versions import record_flow
from runtime.permissions import SYSTEM_ROLE

if TYPE_CHECKING:
    from runtime.records import RecordService

#: Why a transition is refused: message code, English text, Chinese text.
Refusal = tuple[str, str, str]


def needed_roles(transition: m.Transition) -> tuple[str, ...]:
    """Return the roles a transition names: its own and its approval levels'."""
    roles = list(transition.roles)
    if transition.approval is not None:
        for level in transition.approval.steps():
            roles.extend(level.roles)
    return tuple(dict.fromkeys(roles))


def withdrawal_refusal(connection: Connection, flows: FlowTables, step: Mapping[str, Any], principal: Actor,
                       state_label: m.Label) -> Refusal | None:
    """Return why `principal` may not withdraw the record from its step, or None when they may."""
    if principal.id not in (step.get("entered_by"), step.get("entered_for")):
        return ("transition.withdraw", f"Only the person who moved the record to “{state_label.en}” may withdraw it",
                f"只有把记录提交到“{state_label.zh_cn}”的人才能撤回")
    if step.get("id") is not None:
        signed = connection.scalar(select(flows.decisions.c.id).where(flows.decisions.c.step_id == step["id"]).limit(1))
        if signed is not None:
            return ("transition.decided", "Someone has already decided on it, so it can no longer be withdrawn",
                    "已有审批人作出决定，不能再撤回")
    return None


def decision_refusal(step: Mapping[str, Any], principal: Actor, actor: Actor, transition: m.Transition,
                     state_label: m.Label) -> Refusal | None:
    """Return why the submitter may not return or reject the record they submitted to its step, or None."""
    if transition.kind not in ("return", "reject"):
        return None
    submitters = {step.get("entered_by"), step.get("entered_for")} - {None}
    if submitters & {principal.id, actor.id}:
        return ("transition.own", f"The person who submitted the record to “{state_label.en}” cannot send it back or reject "
                "it; withdraw it instead while nobody has signed", f"把记录提交到“{state_label.zh_cn}”的人不能退回或拒绝该记录；"
                "在无人签署前可以撤回")
    return None


def available_transitions(service: RecordService, actor: Actor, entity: str, record: Mapping[str, Any]) -> list[m.Transition]:
    """Return the transitions the actor may fire by hand on the record in its state, itself or for a delegator."""
    flow = record_flow(service, entity, record)
    if flow is None:
        return []
    state = record.get("state")
    candidates = [transition for transition in flow.transitions.values() if state in transition.sources and not transition.automatic]
    if not candidates:
        return []
    with service.engine.connect() as connection:
        principals: list[tuple[Actor, str | None]] = [(actor, None)]
        for delegator, role in active_delegators(service, connection, actor.id):
            principal = actor_of(service, connection, delegator)
            if principal is not None:
                principals.append((principal, role))
        offered = []
        view: _RecordView | None = None
        for transition in candidates:
            allowed = [(principal, role) for principal, role in principals
                       if service.access.allows(principal, transition.name, entity)
                       and (principal is actor or covers(role, needed_roles(transition)))]
            if not allowed:
                continue
            if transition.approval is None and transition.kind not in ("withdraw", "return", "reject"):
                offered.append(transition)
                continue
            view = view or _RecordView.read(service, connection, entity, record, flow)
            if view is not None and any(view.open_to(transition, principal, actor, role) for principal, role in allowed):
                offered.append(transition)
    return offered


class _RecordView:
    """The stored record and its open step, read once for the checks of several transitions; nothing is written."""

    def __init__(self, service: RecordService, connection: Connection, entity: m.Entity, current: dict[str, Any],
                 flow: m.Flow, step: dict[str, Any]) -> None:
        self.service = service
        self.connection = connection
        self.entity = entity
        self.current = current
        self.flow = flow
        self.step = step

    @classmethod
    def read(cls, service: RecordService, connection: Connection, entity_name: str, record: Mapping[str, Any],
             flow: m.Flow) -> _RecordView | None:
        entity = service.model.entities[entity_name]
        current = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(SYSTEM_ACTOR, entity_name), int(record["id"]))
        if current is None:
            return None
        step = current_step(connection, service.schema.flows, entity_name, int(current["id"]))
        if step is None or step["state"] != current.get("state"):
            # The record entered its state before steps were kept, so the step has no submitter and no signatures.
            step = {"id": None, "state": current.get("state"), "entered_by": None, "entered_for": None, "levels": None, "due": None}
        return cls(service, connection, entity, current, flow, step)

    def open_to(self, transition: m.Transition, principal: Actor, actor: Actor, role: str | None) -> bool:
        """Tell whether `actor`, acting as `principal` (themselves or a delegator), may fire `transition` now."""
        state = str(self.current.get("state"))
        label = self.flow.states[state].label if state in self.flow.states else m.Label(state, state)
        if transition.kind == "withdraw":
            return withdrawal_refusal(self.connection, self.service.schema.flows, self.step, principal, label) is None
        if transition.kind in ("return", "reject"):
            return decision_refusal(self.step, principal, actor, transition, label) is None
        if SYSTEM_ROLE in principal.roles:
            return True
        try:
            progress = approvals.progress(self.service, self.connection, principal, self.entity, self.current, transition,
                                          self.step, remember=False)
        except ValidationFailed:
            return True
        return approvals.refusal(self.service, self.entity, transition, progress, self.step, principal, actor,
                                 delegated_role=role) is None
