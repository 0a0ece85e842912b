"""Cross-check flows against the other documents and against themselves.

`check_flow` lists the checks of one flow. The states, fields and roles it names must
exist, and the kind of each transition must fit its target. Each SLA must have a length
that its reminder fits in, and must expire into a transition that may fire in its place.
Some role should be granted each transition, and each approval routing table must match
every record exactly once (metamodel/crosscheck_routing.py). When the flow has
transitions and every state they name is declared, every state should be reachable from
the initial state, and every state that is not final should have a transition out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping, TypeVar

from metamodel import model as m
from metamodel.crosscheck_routing import check_routing
from metamodel.decision_tables import show_number
from metamodel.diagnostics import DocPath, suggest
from metamodel.yamlsource import Document

if TYPE_CHECKING:
    from metamodel.crosscheck import CrossChecker

_Item = TypeVar("_Item")


def check_flows(checker: CrossChecker) -> None:
    flows_per_entity: dict[str, list[tuple[Document, m.Flow]]] = {}
    for document, flow in checker.named("flow"):
        flows_per_entity.setdefault(flow.entity, []).append((document, flow))
        entity = checker.entity_ref(document, ("entity",), flow.entity)
        check_flow(checker, document, flow, entity)
    for name, flows in flows_per_entity.items():
        if len(flows) > 1:
            for document, flow in flows:
                if flow.applies_when is None:
                    checker.report(document, "flow.E004", ("entity",), found=name, count=len(flows))


def check_flow(checker: CrossChecker, document: Document, flow: m.Flow, entity: m.Entity | None) -> None:
    states = _declared(document.data["states"], flow.states)
    transitions = _declared(document.data["transitions"], flow.transitions)
    known = _check_references(checker, document, flow, entity, states, transitions)
    _check_kinds(checker, document, flow, transitions, known)
    for index, transition in transitions:
        if transition.sla is not None:
            _check_sla(checker, document, flow, ("transitions", index), transition, transition.sla)
    _check_grants(checker, document, flow, transitions)
    for index, transition in transitions:
        if transition.approval is not None and transition.approval.routing is not None:
            check_routing(checker, document, ("transitions", index, "approval"), transition.approval, entity)
    # A flow without transitions yet, or whose transitions name undeclared states, is no graph to analyse.
    if known and transitions and sum(state.initial for state in flow.states.values()) == 1:
        _check_graph(checker, document, flow, states)


def _declared(items: list[Any], built: Mapping[str, _Item]) -> list[tuple[int, _Item]]:
    """Pair each built state or transition with the index of the YAML item it came from, the first of its name."""
    pairs: list[tuple[int, _Item]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = item["name"]
        if name in built and name not in seen:
            seen.add(name)
            pairs.append((index, built[name]))
    return pairs


def _check_references(
    checker: CrossChecker,
    document: Document,
    flow: m.Flow,
    entity: m.Entity | None,
    states: list[tuple[int, m.State]],
    transitions: list[tuple[int, m.Transition]],
) -> bool:
    """Check the states, fields, roles and transitions the flow names, and return whether every state named exists."""
    names = sorted(flow.states)
    known = True
    for index, state in states:
        for position, name in enumerate(state.editable or ()):
            if entity is not None:
                checker.field_ref(document, ("states", index, "editable", position), entity, name)

    for index, transition in transitions:
        path: DocPath = ("transitions", index)
        from_is_list = isinstance(document.data["transitions"][index]["from"], list)
        for position, source in enumerate(transition.sources):
            source_path = path + ("from", position) if from_is_list else path + ("from",)
            if source not in flow.states:
                known = False
                checker.report(
                    document, "ref.E004", source_path, found=source, flow=flow.name, expected=names, suggestion=suggest(source, names)
                )
            elif flow.states[source].final:
                checker.report(document, "flow.E003", source_path, found=transition.name, state=source)
        if transition.target not in flow.states:
            known = False
            checker.report(
                document, "ref.E004", path + ("to",), found=transition.target, flow=flow.name, expected=names,
                suggestion=suggest(transition.target, names),
            )
        for role_path, role in _named_roles(path, transition):
            checker.role_ref(document, role_path, role)
        if entity is not None:
            for key in ("required_fields", "required_documents"):
                for position, name in enumerate(getattr(transition, key)):
                    checker.field_ref(document, path + (key, position), entity, name)
    return known


def _check_sla(checker: CrossChecker, document: Document, flow: m.Flow, path: DocPath, transition: m.Transition, sla: m.Sla) -> None:
    """Check an SLA's length and reminder, the role it escalates to and the transition it fires when it runs out.

    When the time runs out the runtime (runtime/flow_sweep.py) fires `on_expiry` if its guard
    and required fields allow, and otherwise notifies the `escalate_to` role, so the two may be
    given together.
    """
    sla_path = path + ("sla",)
    if sla.hours is None and sla.working_days is None:
        checker.diagnostics.append(document.diagnostic("flow.E008", sla_path, at_key=True, found=transition.name))
    elif sla.remind_before_hours is not None:
        _check_reminder(checker, document, sla_path, transition.name, sla, sla.remind_before_hours)
    if sla.escalate_to is not None:
        checker.role_ref(document, sla_path + ("escalate_to",), sla.escalate_to)
        # A role without the transition's grant only receives the notification, which is how a manager is asked to chase a step.
    expiry = sla.on_expiry
    if expiry is not None and expiry not in flow.transitions:
        expected = sorted(flow.transitions)
        checker.report(
            document, "ref.E007", sla_path + ("on_expiry",), found=expiry, flow=flow.name, expected=expected,
            suggestion=suggest(expiry, expected),
        )
    elif expiry is not None:
        target = flow.transitions[expiry]
        if target.approval is not None:
            checker.report(document, "flow.E007", sla_path + ("on_expiry",), found=expiry, transition=transition.name,
                           problem="needs approvals, which a time limit must not skip",
                           problem_zh="需要审批，时限到期不能跳过审批")
        elif not set(target.sources) & set(transition.sources):
            checker.report(document, "flow.E007", sla_path + ("on_expiry",), found=expiry, transition=transition.name,
                           problem="does not start from any state this transition starts from",
                           problem_zh="的起点与该流转的起点都不相同")


def _check_reminder(checker: CrossChecker, document: Document, sla_path: DocPath, name: str, sla: m.Sla, before: Decimal) -> None:
    """Report a reminder set as early as the SLA's start or earlier, which the sweep would send at once.

    With `hours` the SLA's length is exact. With `working_days` the due time is the same
    time of day that many working days later, so the SLA lasts at least working_days × 24
    hours and longer across weekends and holidays: a reminder that early is a warning.
    """
    where = sla_path + ("remind_before_hours",)
    if sla.hours is not None and before >= sla.hours:
        checker.report(
            document, "flow.E009", where, found=before, before=show_number(before), transition=name, hours=show_number(sla.hours)
        )
    elif sla.working_days is not None and before >= sla.working_days * 24:
        checker.report(
            document, "flow.W006", where, found=before, before=show_number(before), transition=name, days=sla.working_days,
            hours=sla.working_days * 24,
        )


def _named_roles(path: DocPath, transition: m.Transition) -> list[tuple[DocPath, str]]:
    """Return the roles a transition names with their paths: its own roles, its approval's and its levels'."""
    roles: list[tuple[DocPath, str]] = [(path + ("roles", position), role) for position, role in enumerate(transition.roles)]
    approval = transition.approval
    if approval is not None:
        roles.extend((path + ("approval", "roles", position), role) for position, role in enumerate(approval.roles))
        for level_index, level in enumerate(approval.levels):
            roles.extend(
                (path + ("approval", "levels", level_index, "roles", position), role) for position, role in enumerate(level.roles)
            )
    return roles


def _check_kinds(
    checker: CrossChecker, document: Document, flow: m.Flow, transitions: list[tuple[int, m.Transition]], known: bool
) -> None:
    """A rejection ends in a final state, a withdrawal needs no approval, and a return goes back to an earlier state."""
    for index, transition in transitions:
        path: DocPath = ("transitions", index)
        target = flow.states.get(transition.target)
        if transition.kind == "reject" and target is not None and not target.final:
            checker.report(document, "flow.E005", path + ("to",), found=transition.name, state=transition.target)
        elif transition.kind == "withdraw" and transition.approval is not None:
            checker.diagnostics.append(document.diagnostic("flow.E006", path + ("approval",), at_key=True, found=transition.name))
        elif transition.kind == "return" and known:
            later = [source for source in transition.sources if not _comes_before(flow, transition.target, source)]
            if later:
                checker.report(document, "flow.W005", path + ("to",), found=transition.name, state=transition.target, sources=later)


def _comes_before(flow: m.Flow, earlier: str, state: str) -> bool:
    """Tell whether some path of forward transitions (not returns) leads from `earlier` to `state`."""
    forward = [transition for transition in flow.transitions.values() if transition.kind != "return"]
    return earlier != state and state in _reachable(earlier, forward)


def _reachable(start: str, transitions: Any) -> set[str]:
    reached = {start}
    pending = [start]
    while pending:
        current = pending.pop()
        for transition in transitions:
            if current in transition.sources and transition.target not in reached:
                reached.add(transition.target)
                pending.append(transition.target)
    return reached


def _check_graph(checker: CrossChecker, document: Document, flow: m.Flow, states: list[tuple[int, m.State]]) -> None:
    """Warn about states no path reaches, and about non-final states that no transition leaves.

    A dead end is a warning, not an error: `final` also locks every field, so a state where
    records live on and stay editable cannot be final, and the checker cannot tell it from a
    forgotten transition.
    """
    initial = flow.initial_state
    reached = _reachable(initial, flow.transitions.values())
    for index, state in states:
        path: DocPath = ("states", index, "name")
        if state.name not in reached:
            checker.report(document, "flow.W001", path, found=state.name, initial=initial)
        elif not state.final and not any(
            state.name in transition.sources and transition.target != state.name for transition in flow.transitions.values()
        ):
            checker.report(document, "flow.W002", path, found=state.name)


def _check_grants(checker: CrossChecker, document: Document, flow: m.Flow, transitions: list[tuple[int, m.Transition]]) -> None:
    """Warn about transitions no role is granted, and roles named on a transition that lack its grant.

    Administrators may also add grants at run time, so these are warnings. They are checked
    only once the permissions grant anything at all. Automatic transitions are fired by the
    system and need no grant.
    """
    permissions = checker.model.permissions
    if not permissions.grants:
        return
    for index, transition in transitions:
        if transition.automatic:
            continue
        path: DocPath = ("transitions", index)
        granted = {
            grant.role for grant in permissions.grants if grant.entity == flow.entity and transition.name in grant.actions
        }
        if not granted:
            checker.report(document, "flow.W003", path + ("name",), found=transition.name, entity=flow.entity)
            continue
        for role_path, role in _named_roles(path, transition):
            if role in permissions.roles and not _with_inherited(role, permissions) & granted:
                checker.report(document, "flow.W004", role_path, found=role, action=transition.name, entity=flow.entity)


def _with_inherited(role: str, permissions: m.Permissions) -> set[str]:
    """Return the role and every role it inherits, directly or through others."""
    roles = {role}
    pending = [role]
    while pending:
        current = permissions.roles.get(pending.pop())
        for parent in current.inherits if current is not None else ():
            if parent not in roles:
                roles.add(parent)
                pending.append(parent)
    return roles
