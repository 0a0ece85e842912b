"""Each user's inbox: the records waiting for them, by role, data scope and delegation.

Work comes in two kinds, for the user and for every user whose delegation to the user runs
today (the user then acts for that delegator, with the delegator's permissions):

- `todo`: a record in a state where the principal may fire a transition by hand. Withdrawals
  are left out (they undo the principal's own step rather than wait for them), and so are
  states with an approval the principal takes part in, which count as approval work only;
- `approve`: an approval step where the principal is an eligible approver of the current
  level and has not signed yet. A record the principal has signed leaves the inbox.

A delegation of one role reaches the transitions that name that role, as when firing
(runtime.flows). The states, the data scope of each transition and of reading, and the
signatures are conditions of one SQL query per entity. Only sequential levels are also checked
record by record, among the records that query finds, because their current level depends on
how many have signed each earlier one. Pages are read through the record service as the principal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import ColumnElement, Integer, and_, exists, false, func, literal, or_, select, true, union_all

from metamodel import model as m
from runtime import approvals
from runtime.approvals import ApprovalProgress, may_fire, progress, roles_including
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.delegations import active_delegators, actor_of, covers
from runtime.errors import NotFound, PermissionDenied, ValidationFailed
from runtime.flow_steps import current_step, ensure_step
from runtime.flow_availability import needed_roles
from runtime.flows import flow_of
from runtime.record_query import Condition, ListQuery

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

TODO = "todo"
APPROVE = "approve"
KINDS = (TODO, APPROVE)


@dataclass(frozen=True)
class Principal:
    """Whose work the inbox shows: the signed-in user, or a delegator the user acts for today."""

    actor: Actor
    #: Roles the delegations hand over; None for every role (and for the user's own work).
    roles: frozenset[str] | None = None
    delegated: bool = False
    #: The signed-in user who does the work: the principal itself, or the delegate.
    user_id: str = ""

    @property
    def people(self) -> tuple[str, ...]:
        """Return the ids of the principal and of the user acting for it."""
        return tuple(dict.fromkeys((self.actor.id, self.user_id or self.actor.id)))

    @property
    def id(self) -> str:
        return self.actor.id

    def may(self, service: RecordService, entity: str, transition: m.Transition) -> bool:
        """Tell whether the principal has the grant for the transition and the delegation reaches it."""
        if not service.access.allows(self.actor, transition.name, entity):
            return False
        if not self.delegated or self.roles is None:
            return True
        return any(covers(role, needed_roles(transition)) for role in self.roles)


@dataclass(frozen=True)
class InboxCount:
    principal: Principal
    kind: str
    count: int


@dataclass
class InboxRow:
    """A record waiting for the principal, read as the principal, with what the principal may do on it now."""

    entity: str
    record: dict[str, Any]
    principal: Principal
    kind: str
    #: Transitions the principal may fire by hand, approvals included where the principal may sign now.
    transitions: list[m.Transition] = field(default_factory=list)
    #: Progress of each approval the principal may sign now.
    approvals: list[ApprovalProgress] = field(default_factory=list)


@dataclass
class InboxPage:
    rows: list[InboxRow]
    #: Records matching the page's filters, over every page.
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True)
class OpenedRecord:
    """A record opened for a user, and the user it was read as: the user, or a delegator the user acts for."""

    record: dict[str, Any]
    reader: Actor
    delegated: bool = False


@dataclass(frozen=True)
class _Work:
    entity: str
    principal: Principal
    kind: str
    predicate: ColumnElement[bool]


def principals(service: RecordService, actor: Actor) -> list[Principal]:
    """Return the actor and every active user whose delegation to the actor runs today, each once."""
    roles: dict[str, set[str] | None] = {}
    with service.engine.connect() as connection:
        for delegator, role in active_delegators(service, connection, actor.id):
            if delegator == actor.id:
                continue
            handed = roles.setdefault(delegator, set())
            if role is None or handed is None:
                roles[delegator] = None
            else:
                handed.add(role)
        found = [Principal(actor, user_id=actor.id)]
        for delegator, delegated in roles.items():
            delegator_actor = actor_of(service, connection, delegator)
            if delegator_actor is not None:
                found.append(Principal(delegator_actor, frozenset(delegated) if delegated is not None else None, True, actor.id))
    return found


class Inbox:
    """One user's inbox as it is now: built once per screen, then counted and read a page at a time."""

    def __init__(self, service: RecordService, actor: Actor) -> None:
        self.service = service
        self.actor = actor
        self.principals = principals(service, actor)
        self._works = _works(service, self.principals)

    def counts(self) -> list[InboxCount]:
        """Return, for the actor and then each delegator, how many records wait of each kind (zero counts included)."""
        with self.service.engine.connect() as connection:
            return [
                InboxCount(principal, kind, sum(_count(self.service, connection, work) for work in self._works
                                                if work.principal.id == principal.id and work.kind == kind))
                for principal in self.principals for kind in KINDS
            ]

    def page(self, *, number: int = 1, size: int = 20, kind: str | None = None, principal: str | None = None) -> InboxPage:
        """Return one page of the waiting records, the most recently changed first.

        `kind` keeps one kind of work. `principal` keeps the work of one user: the actor's own, or a delegator's.
        """
        service = self.service
        number = max(1, number)
        works = [work for work in self._works
                 if (kind is None or work.kind == kind) and (principal is None or work.principal.id == principal)]
        if not works:
            return InboxPage([], 0, number, size)
        selects = []
        for index, work in enumerate(works):
            table = service.schema.entities[work.entity].table
            selects.append(select(literal(index, Integer).label("work"), table.c.id.label("record_id"),
                                  table.c.updated_at.label("at")).where(work.predicate))
        merged = union_all(*selects).subquery()
        with service.engine.connect() as connection:
            total = int(connection.scalar(select(func.count()).select_from(merged)) or 0)
            found = connection.execute(
                select(merged.c.work, merged.c.record_id).order_by(merged.c.at.desc(), merged.c.record_id.desc(), merged.c.work)
                .limit(size).offset((number - 1) * size)
            ).all()
        rows = _read_rows(service, [(works[int(index)], int(record_id)) for index, record_id in found])
        return InboxPage(rows, total, number, size)


def open_record(service: RecordService, actor: Actor, entity: str, record_id: int) -> OpenedRecord:
    """Read a record as the actor, or else as a delegator whose delegation lets the actor act on it today.

    The delegator must be able to read the record and to fire, on it in its present state, a
    transition the delegation reaches. Raises what `RecordService.get` raises for the actor otherwise.
    """
    try:
        return OpenedRecord(service.get(actor, entity, record_id), actor)
    except (NotFound, PermissionDenied) as error:
        read_error: NotFound | PermissionDenied = error
    for principal in principals(service, actor)[1:]:
        try:
            record = service.get(principal.actor, entity, record_id)
        except (NotFound, PermissionDenied):
            continue
        if _open_transitions(service, principal, entity, record, include_approvals=True):
            logger.info("%s %s opened by %s for %s", entity, record_id, actor.id, principal.id)
            return OpenedRecord(record, principal.actor, True)
    raise read_error


# Building the queries -------------------------------------------------------------


def _works(service: RecordService, found: Sequence[Principal]) -> list[_Work]:
    """Return one query condition per entity, principal and kind of work that can match anything."""
    works = []
    for principal in found:
        for entity in service.model.entities:
            flows = service.model.flows_for(entity)
            if not flows or not service.access.allows(principal.actor, "read", entity):
                continue
            hand: list[ColumnElement[bool]] = []
            signing: list[ColumnElement[bool]] = []
            for flow in flows:
                _flow_conditions(service, principal, entity, flow, hand, signing)
            table = service.schema.entities[entity].table
            readable = and_(table.c.deleted_at.is_(None), service._scoped(principal.actor, entity, "read"))
            if hand:
                works.append(_Work(entity, principal, TODO, and_(readable, or_(false(), *hand))))
            if signing:
                works.append(_Work(entity, principal, APPROVE, and_(readable, or_(false(), *signing))))
    return works


def _flow_conditions(
    service: RecordService, principal: Principal, entity: str, flow: m.Flow, hand: list[ColumnElement[bool]],
    signing: list[ColumnElement[bool]],
) -> None:
    """Add the conditions of one flow: per transition, its flow, source states and the principal's scope for it."""
    # NOTE: the conditions follow the flow's current definition. A record still on an older version of the
    # flow (runtime/flow_versions.py) is matched by state name, and its row then shows that version's transitions.
    table = service.schema.entities[entity].table
    signable = [t for t in flow.transitions.values() if t.approval is not None and not t.automatic and principal.may(service, entity, t)]
    approval_states = {state for t in signable for state in t.sources}
    for transition in signable:
        condition = _approval_condition(service, principal, entity, flow, transition)
        if condition is not None:
            signing.append(condition)
    for transition in flow.transitions.values():
        if transition.automatic or transition.approval is not None or transition.kind == "withdraw":
            continue
        states = [state for state in transition.sources
                  if state not in approval_states and state in flow.states and not flow.states[state].final]
        if states and principal.may(service, entity, transition):
            hand.append(and_(table.c.flow == flow.name, table.c.state.in_(states), service._scoped(principal.actor, entity, transition.name)))


def _approval_condition(
    service: RecordService, principal: Principal, entity: str, flow: m.Flow, transition: m.Transition,
) -> ColumnElement[bool] | None:
    """Return the records whose approval step of `transition` waits for the principal's signature, or None for none."""
    assert transition.approval is not None
    table = service.schema.entities[entity].table
    tables = service.schema.flows
    levels = transition.approval.steps()
    open_step = and_(tables.steps.c.entity == entity, tables.steps.c.record_id == table.c.id, tables.steps.c.left_at.is_(None),
                     tables.steps.c.state == table.c.state)
    signed = exists().where(tables.decisions.c.step_id == tables.steps.c.id, open_step,
                            tables.decisions.c.transition == transition.name, tables.decisions.c.approver == principal.id)
    added = exists().where(tables.approvers.c.step_id == tables.steps.c.id, open_step,
                           tables.approvers.c.transition == transition.name, tables.approvers.c.user_id == principal.id)
    # A record waits for no signature of the person who submitted it, for themselves or for a delegator.
    submitted = exists().where(open_step, or_(tables.steps.c.entered_by.in_(principal.people),
                                              tables.steps.c.entered_for.in_(principal.people)))
    own_roles = set(principal.actor.roles)
    holds_level = any(own_roles & roles_including(service.model, level.roles) for level in levels)
    # The role an overdue step escalates to may sign it, but only once the step has been escalated.
    escalation = transition.sla.escalate_to if transition.sla is not None else None
    escalated_only = not holds_level and bool(escalation) and bool(own_roles & roles_including(service.model, (str(escalation),)))
    condition = and_(
        table.c.flow == flow.name, table.c.state.in_(transition.sources), service._scoped(principal.actor, entity, transition.name),
        ~signed, ~submitted, true() if holds_level or escalated_only else added,
    )
    if transition.approval.mode != "levels" and not escalated_only:
        return condition
    # Which level is current depends on the signatures of the earlier ones, and an escalation on the step's
    # timers: check the records found one by one.
    with service.engine.connect() as connection:
        candidates = [int(record_id) for (record_id,) in connection.execute(select(table.c.id).where(table.c.deleted_at.is_(None),
                                                                                                      condition))]
    waiting = _at_current_level(service, principal, entity, transition, candidates)
    return table.c.id.in_(waiting) if waiting else None


def _at_current_level(service: RecordService, principal: Principal, entity: str, transition: m.Transition,
                      candidates: list[int]) -> list[int]:
    """Return the candidates whose current approval level the principal may sign and has not signed."""
    if not candidates:
        return []
    spec = service.model.entities[entity]
    fields = SystemAccess().fields(SYSTEM_ACTOR, entity)
    now = service.clock()
    waiting = []
    # The routing table's choice of levels is fixed the first time a step's progress is read, as on the detail page.
    with service._write() as connection:
        for record_id in candidates:
            current = service._read(connection, SYSTEM_ACTOR, spec, fields, record_id)
            if current is None:
                continue
            step = ensure_step(connection, service.schema.flows, entity, current, now)
            try:
                level = progress(service, connection, principal.actor, spec, current, transition, step).current
            except ValidationFailed as exc:
                logger.warning("inbox: approval progress of %s on %s %s: %s", transition.name, entity, record_id, exc)
                continue
            if level is not None and principal.id in level.eligible and principal.id not in level.signers:
                waiting.append(record_id)
    return waiting


def _user_of(principal: Principal) -> Actor:
    """Return an actor standing for the signed-in user of a principal, for the checks of a signature."""
    if principal.user_id and principal.user_id != principal.actor.id:
        return Actor(id=principal.user_id, name=principal.user_id, roles=())
    return principal.actor


def _count(service: RecordService, connection: Any, work: _Work) -> int:
    table = service.schema.entities[work.entity].table
    return int(connection.scalar(select(func.count()).select_from(table).where(work.predicate)) or 0)


# Reading a page ---------------------------------------------------------------------


def _read_rows(service: RecordService, found: list[tuple[_Work, int]]) -> list[InboxRow]:
    """Read the records of a page through the record service, as each row's principal, in the page's order."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    works: dict[tuple[str, str, str], _Work] = {}
    for work, record_id in found:
        key = (work.entity, work.principal.id, work.kind)
        groups.setdefault(key, []).append(record_id)
        works[key] = work
    read: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for key, ids in groups.items():
        work = works[key]
        listed = service.list(work.principal.actor, work.entity, ListQuery(where=Condition("id", "in", ids), limit=len(ids)))
        for listed_record in listed.rows:
            read[(*key, int(listed_record["id"]))] = listed_record
    rows = []
    for work, record_id in found:
        record = read.get((work.entity, work.principal.id, work.kind, record_id))
        if record is None:
            # The record changed between the page's query and this read, so it no longer waits here.
            continue
        row = InboxRow(work.entity, record, work.principal, work.kind)
        row.transitions = _open_transitions(service, work.principal, work.entity, record, include_approvals=False)
        if work.kind == APPROVE:
            row.approvals = _signable(service, work.principal, work.entity, record)
            row.transitions = [state.transition for state in row.approvals] + row.transitions
        rows.append(row)
    return rows


def _open_transitions(
    service: RecordService, principal: Principal, entity: str, record: dict[str, Any], *, include_approvals: bool,
) -> list[m.Transition]:
    """Return the transitions open in the record's state that the principal may fire on it (withdrawals left out)."""
    flow = flow_of(service, entity, record)
    if flow is None:
        return []
    state = record.get("state")
    candidates = [
        t for t in flow.transitions.values()
        if state in t.sources and not t.automatic and t.kind != "withdraw" and (include_approvals or t.approval is None)
        and principal.may(service, entity, t)
    ]
    if not candidates:
        return []
    with service.engine.connect() as connection:
        return [t for t in candidates if may_fire(service, connection, principal.actor, entity, int(record["id"]), t.name)]


def _signable(service: RecordService, principal: Principal, entity: str, record: dict[str, Any]) -> list[ApprovalProgress]:
    """Return the approvals open on the record whose current level the principal may sign and has not signed."""
    found = []
    with service.engine.connect() as connection:
        step = current_step(connection, service.schema.flows, entity, int(record["id"])) or {}
    for state in service.approval_progress(principal.actor, entity, record):
        level = state.current
        if level is None or principal.id not in level.eligible or not principal.may(service, entity, state.transition):
            continue
        if approvals.refusal(service, service._entity(entity), state.transition, state, step, principal.actor,
                             _user_of(principal)) is None:
            found.append(state)
    return found
