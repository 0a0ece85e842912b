"""Firing flow transitions: the checks (runtime/flow_checks.py), approvals, hooks, the state change and its audit entry.

A transition `t` of flow `f` may be fired on a record when, in this order:

1. the actor is granted the action `t` on the entity (a transition is an action of its
   own), or a user who delegated to the actor a role `t` needs is. The record lies in
   that user's data scope for the action;
2. the version given is the record's (else StaleVersion: someone else acted first);
3. the record follows `f`, its state is one of `t`'s sources, and `t` is not automatic;
4. a comment is given where `t` requires one;
5. by kind: a withdrawal comes from the user who moved the record into its state, before
   anyone has signed in it; a return goes to a state the record has already left;
6. every required field and required document has a value, and the guard holds;
7. with an approval, the user is an eligible approver of the current level and signs it
   (runtime/approvals.py). The transition fires only when the last level is complete;
   before that the signature is saved and the record's version raised;
8. every hook runs without raising: the source state's `on_leave`, then `t`'s own, then the
   target state's `on_enter` (their returned values are written with the state change, and
   checked again against 6).

The state change closes the record's step and opens the next (runtime/flow_steps.py),
then any automatic transition of the new state whose guard holds fires too, as the
system. Everything happens in one transaction with its audit entries, so a failure
anywhere writes nothing.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from sqlalchemy import Connection, select, update

from metamodel import model as m
from runtime import approvals
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.delegations import active_delegators, actor_of, covers
from runtime.errors import FieldError, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from runtime.flow_availability import needed_roles
from runtime.flow_checks import check_firing, check_values, guard_holds, missing_before
from runtime.flow_steps import close_step, ensure_step, enter_step
from runtime.flow_versions import automatic_possible, record_flow
from runtime.flow_timers import due_times
from runtime.hook_records import call_hook
from runtime.hooks import HookContext
from runtime.permissions import SYSTEM_ROLE
from runtime.record_codec import changed_fields
from runtime.schema import SEARCH_COLUMN

if TYPE_CHECKING:
    from runtime.record_reads import RecordReads
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: Automatic transitions fired one after another after a change, at most; a longer chain is a loop in the YAML.
AUTOMATIC_CHAIN_LIMIT = 20

Add = Callable[[str, str, str, str], None]


def flow_of(service: RecordReads, entity: str, record: Mapping[str, Any], connection: Connection | None = None) -> m.Flow | None:
    """Return the flow the record follows in the version it started under (runtime/flow_versions.py), or None."""
    return record_flow(service, entity, record, connection)


@dataclass
class _Firing:
    """A firing under way: the acting user, the user whose permissions apply, the record, and the errors found so far."""

    service: RecordService
    connection: Connection
    actor: Actor
    principal: Actor
    entity: m.Entity
    current: dict[str, Any]
    flow: m.Flow
    transition: m.Transition
    comment: str | None
    now: datetime.datetime

    def __post_init__(self) -> None:
        self.errors: dict[str, list[FieldError]] = {}
        #: The one role a delegation hands over, which limits the approval levels the delegate may sign.
        self.delegated_role: str | None = None

    def add(self, path: str, code: str, en: str, zh: str) -> None:
        self.errors.setdefault(path, []).append(FieldError(code, en, zh))

    def raise_errors(self) -> None:
        if self.errors:
            raise ValidationFailed(self.entity.name, self.errors)


def fire(
    service: RecordService, actor: Actor, entity_name: str, record_id: int, name: str, *, version: int, comment: str | None,
    on_behalf_of: str | None = None, values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fire (or sign) transition `name` on a record; see the module docs for the checks, in order.

    `values` are saved first, as an update by the user whose permissions apply, in the same
    transaction: when the transition fails, they are not saved either.
    """
    entity = service._entity(entity_name)
    now = service.clock()
    with service._write() as connection:
        firing = start_firing(service, connection, actor, entity, record_id, name, version, comment, on_behalf_of, now)
        if values:
            service._update_in(connection, firing.principal, entity, record_id, values, version=version, reason=firing.comment,
                               trusted=frozenset(), now=now)
            version += 1
            firing.current = _current(service, connection, entity, record_id)
        check_firing(firing)
        # The system's own work (jobs, imports, demo data) completes an approval step outright.
        if firing.transition.approval is not None and SYSTEM_ROLE not in firing.principal.roles:
            step = ensure_step(connection, service.schema.flows, entity_name, firing.current, now)
            level, progress = approvals.sign(service, connection, entity, firing.current, firing.transition, step, firing.principal,
                                             actor, firing.comment, delegated_role=firing.delegated_role)
            if not progress.complete:
                _record_signature(firing, level, version)
                return service._read_back(connection, firing.principal, entity, record_id)
        changes = _run_hooks(firing)
        _move(firing, changes, version)
        run_automatic(service, connection, entity, record_id, now)
        # A delegate reads the result as the delegator, whose permissions the firing used.
        return service._read_back(connection, firing.principal, entity, record_id)


def start_firing(
    service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, record_id: int, name: str, version: int,
    comment: str | None, on_behalf_of: str | None, now: datetime.datetime,
) -> _Firing:
    """Read the record, find the transition and the user whose permissions apply; raise when there is none."""
    # Read without the actor's scope: a delegate may act on records only the delegator can reach.
    current = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(actor, entity.name), record_id)
    if current is None:
        raise NotFound(entity.name, record_id)
    flow = flow_of(service, entity.name, current, connection)
    transition = flow.transitions.get(name) if flow is not None else None
    if flow is None or transition is None:
        raise ValidationFailed(entity.name, {"state": [FieldError(
            "transition.unknown", f"{entity.label.en} {record_id} has no step {name!r}", f"{entity.label.zh_cn} {record_id} 没有名为 {name!r} 的流转")]})
    principal, delegated_role = _principal(service, connection, actor, entity.name, record_id, transition, on_behalf_of)
    if current["version"] != version:
        raise StaleVersion(entity.name, record_id, version, current["version"], current["updated_by"], current["updated_at"])
    firing = _Firing(service, connection, actor, principal, entity, current, flow, transition, (comment or "").strip() or None, now)
    firing.delegated_role = delegated_role
    return firing


def _current(service: RecordService, connection: Connection, entity: m.Entity, record_id: int) -> dict[str, Any]:
    current = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(SYSTEM_ACTOR, entity.name), record_id)
    if current is None:
        raise NotFound(entity.name, record_id)
    return current


def _principal(
    service: RecordService, connection: Connection, actor: Actor, entity: str, record_id: int, transition: m.Transition,
    on_behalf_of: str | None,
) -> tuple[Actor, str | None]:
    """Return the actor whose permissions the firing uses, and the one role delegated when a delegation names one.

    The actor is the user, or a delegator whose delegation to the user runs today.
    """
    candidates: list[tuple[Actor, str | None]] = []
    if on_behalf_of is None or on_behalf_of == actor.id:
        candidates.append((actor, None))
    if on_behalf_of != actor.id:
        for delegator, role in active_delegators(service, connection, actor.id):
            if (on_behalf_of is None or delegator == on_behalf_of) and covers(role, needed_roles(transition)):
                principal = actor_of(service, connection, delegator)
                if principal is not None:
                    candidates.append((principal, role))
    for candidate, role in candidates:
        if approvals.may_fire(service, connection, candidate, entity, record_id, transition.name):
            return candidate, role
    # A record outside every scope is reported as not found, like one that does not exist.
    if not any(approvals.may_fire(service, connection, candidate, entity, record_id, "read") for candidate, _ in candidates):
        raise NotFound(entity, record_id)
    raise PermissionDenied(entity, transition.name)


def _record_signature(firing: _Firing, level: approvals.LevelProgress, version: int) -> None:
    """Save a signature that does not complete the step: raise the record's version and audit it."""
    service, entity, record_id = firing.service, firing.entity, int(firing.current["id"])
    table = service.schema.entities[entity.name].table
    updated = firing.connection.execute(
        update(table).where(table.c.id == record_id, table.c.version == version, table.c.deleted_at.is_(None))
        .values(version=table.c.version + 1, updated_at=firing.now, updated_by=firing.actor.id)
    ).rowcount
    if updated != 1:
        raise service._lost_race(firing.connection, entity.name, record_id, version)
    changes: dict[str, Any] = {"level": [None, level.level.name], "signatures": [None, f"{level.counted}/{level.needed}"]}
    if firing.principal.id != firing.actor.id:
        changes["on_behalf_of"] = [None, firing.principal.id]
    service.audit.append(
        firing.connection, at=firing.now, actor=firing.actor.id, address=firing.actor.address, action=f"sign:{firing.transition.name}",
        entity=entity.name, record_id=record_id, reason=firing.comment, changes=changes,
    )
    logger.info("%s %s: %s signed %s level %s (%s/%s)", entity.name, record_id, firing.actor.id, firing.transition.name,
                level.level.name, level.counted, level.needed)


def _run_hooks(firing: _Firing) -> dict[str, Any]:
    """Run the hooks of leaving the state, of the transition and of entering the next state, in that order.

    Each hook receives the values the ones before returned. What they return together is checked, with
    the transition's conditions, and written with the state change.
    """
    transition, flow = firing.transition, firing.flow
    source = flow.states.get(str(firing.current.get("state")))
    target = flow.states[transition.target]
    steps = [(f"leave:{source.name}", name) for name in source.on_leave] if source is not None else []
    steps += [(transition.name, name) for name in transition.hooks]
    steps += [(f"enter:{target.name}", name) for name in target.on_enter]
    changes: dict[str, Any] = {}
    doing = m.Label(f"“{transition.label.zh_cn}”", f"“{transition.label.en}”")
    for event, hook_name in steps:
        record = {**firing.current, **changes, **({"state": target.name} if event.startswith("enter:") else {})}
        context = HookContext(firing.actor, firing.entity.name, record, event, firing.comment)
        result = call_hook(firing.service, firing.connection, hook_name, context, firing.entity, doing=doing)
        if result:
            changes.update(result)
    firing.raise_errors()
    if not changes:
        return changes
    service = firing.service
    # The application's own code computed these values, so read-only fields may take them.
    access = SystemAccess().fields(firing.principal, firing.entity.name)
    checked = service._validator(firing.connection, firing.entity).check(
        firing.connection, firing.principal, access, changes, firing.current, firing.now.date(), frozenset(changes)
    )
    if checked.errors:
        raise ValidationFailed(firing.entity.name, checked.errors)
    check_values(firing, {**firing.current, **checked.values})
    firing.raise_errors()
    return dict(checked.values)


def _move(firing: _Firing, changes: Mapping[str, Any], version: int, *, timed_out: bool = False) -> None:
    """Write the new state with the hooks' changes, move the record to its next step, and audit it.

    `timed_out` marks a transition fired because the step's time limit ran out.
    """
    service, connection, entity = firing.service, firing.connection, firing.entity
    record_id = int(firing.current["id"])
    table = service.schema.entities[entity.name].table
    codec = service.codecs[entity.name]
    current, transition = firing.current, firing.transition
    written = changed_fields(current, changes, changes.keys())
    row = codec.encode({name: changes[name] for name in written})
    if SEARCH_COLUMN in table.c:
        row[SEARCH_COLUMN] = codec.search_text({**current, **changes})
    row.update(state=transition.target, updated_at=firing.now, updated_by=firing.actor.id, version=table.c.version + 1)
    updated = connection.execute(
        update(table).where(table.c.id == record_id, table.c.version == version, table.c.deleted_at.is_(None)).values(**row)
    ).rowcount
    if updated != 1:
        raise service._lost_race(connection, entity.name, record_id, version)
    service._save_children(connection, entity, record_id, {name: changes[name] for name in written})

    flows = service.schema.flows
    step = ensure_step(connection, flows, entity.name, current, firing.now)
    close_step(connection, flows, int(step["id"]), firing.now)
    acting_for = firing.principal.id if firing.principal.id != firing.actor.id else None
    enter_step(connection, flows, entity.name, current, transition.target, firing.now, transition=transition.name,
               by=firing.actor.id, acting_for=acting_for, due=due_times(firing.flow, transition.target, firing.now, service.timezone))

    audited: dict[str, Any] = {name: [service._audit_values(entity, {name: old})[name], service._audit_values(entity, {name: new})[name]]
                               for name, (old, new) in written.items()}
    audited["state"] = [current.get("state"), transition.target]
    if acting_for is not None:
        audited["on_behalf_of"] = [None, acting_for]
    if timed_out:
        audited["timed_out"] = [None, True]
    service.audit.append(
        connection, at=firing.now, actor=firing.actor.id, address=firing.actor.address, action=f"transition:{transition.name}",
        entity=entity.name, record_id=record_id, reason=firing.comment, changes=audited,
    )
    logger.info("%s %s: %s from %s to %s by %s%s", entity.name, record_id, transition.name, current.get("state"), transition.target,
                firing.actor.id, f" for {acting_for}" if acting_for else "")


def run_automatic(service: RecordService, connection: Connection, entity: m.Entity, record_id: int, now: datetime.datetime) -> None:
    """Fire, as the system, the automatic transitions whose guard holds, one after another from the record's state."""
    if not automatic_possible(service, entity.name, connection):
        return
    system_fields = SystemAccess().fields(SYSTEM_ACTOR, entity.name)
    for _ in range(AUTOMATIC_CHAIN_LIMIT):
        current = service._read(connection, SYSTEM_ACTOR, entity, system_fields, record_id)
        flow = flow_of(service, entity.name, current, connection) if current is not None else None
        if current is None or flow is None:
            return
        ready = next((
            transition for transition in flow.transitions.values()
            if transition.automatic and current.get("state") in transition.sources
            and not any(missing_before(entity.fields.get(name), current.get(name))
                        for name in (*transition.required_fields, *transition.required_documents))
            and guard_holds(service, connection, entity, transition, current, SYSTEM_ACTOR)
        ), None)
        if ready is None:
            return
        firing = _Firing(service, connection, SYSTEM_ACTOR, SYSTEM_ACTOR, entity, current, flow, ready, None, now)
        _move(firing, _run_hooks(firing), int(current["version"]))
    logger.error("%s %s: more than %s automatic transitions in a row; the flow's guards loop", entity.name, record_id,
                 AUTOMATIC_CHAIN_LIMIT)
    raise ValidationFailed(entity.name, {"state": [FieldError(
        "transition.loop", f"The automatic steps of this flow repeat without end; ask the administrator to fix the flow",
        "该流程的自动流转循环不止；请联系管理员修正流程配置")]})


def expire(service: RecordService, connection: Connection, entity: m.Entity, record_id: int, name: str, now: datetime.datetime) -> bool:
    """Fire transition `name` as the system when a step's time runs out; return whether it fired."""
    return fire_as_system(service, connection, entity, record_id, name, now, timed_out=True)


def fire_as_system(service: RecordService, connection: Connection, entity: m.Entity, record_id: int, name: str,
                   now: datetime.datetime, *, timed_out: bool = False) -> bool:
    """Fire transition `name` as the system, bypassing approvals; return whether it fired.

    The transition fires only from one of its source states, with its required fields and
    guard satisfied; otherwise the record stays and the reason is logged.
    """
    current = service._read(connection, SYSTEM_ACTOR, entity, SystemAccess().fields(SYSTEM_ACTOR, entity.name), record_id)
    flow = flow_of(service, entity.name, current, connection) if current is not None else None
    transition = flow.transitions.get(name) if flow is not None else None
    if current is None or flow is None or transition is None or current.get("state") not in transition.sources:
        logger.info("%s %s: transition %s by the system does not apply in its state", entity.name, record_id, name)
        return False
    firing = _Firing(service, connection, SYSTEM_ACTOR, SYSTEM_ACTOR, entity, current, flow, transition, None, now)
    check_values(firing, current)
    if firing.errors:
        logger.warning("%s %s: transition %s by the system not fired: %s", entity.name, record_id, name,
                       "; ".join(item.message_en for items in firing.errors.values() for item in items))
        return False
    _move(firing, _run_hooks(firing), int(current["version"]), timed_out=timed_out)
    run_automatic(service, connection, entity, record_id, now)
    return True


def after_write(service: RecordService, connection: Connection, actor: Actor, entity: m.Entity, record_id: int,
                now: datetime.datetime, *, created: bool) -> None:
    """Open a new record's first step, then fire the automatic transitions its values allow."""
    if not service.model.flows_for(entity.name):
        return
    if created:
        table = service.schema.entities[entity.name].table
        row = connection.execute(select(table.c.id, table.c.flow, table.c.flow_version, table.c.state).where(table.c.id == record_id)).mappings().first()
        if row is None or row["flow"] is None:
            return
        flow = service.model.flows.get(str(row["flow"]))
        due = due_times(flow, str(row["state"]), now, service.timezone) if flow is not None else None
        enter_step(connection, service.schema.flows, entity.name, dict(row), str(row["state"]), now, transition=None, by=actor.id,
                   acting_for=None, due=due)
    run_automatic(service, connection, entity, record_id, now)
