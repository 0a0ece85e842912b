"""Cross-check flows against the other documents and against themselves.

`check_flow` lists the checks of one flow. The states, fields and roles it names must
exist, and the kind of each transition must fit its target. Some role should be granted
each transition, and each approval routing table must match every record exactly once.
When the flow has transitions and every state they name is declared, every state should
be reachable from the initial state, and every state that is not final should have a
transition out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, TypeVar

from metamodel import model as m
from metamodel.decision_tables import (
    MAX_CELLS,
    Region,
    TooManyCells,
    coverage,
    field_domain,
    input_field,
    plain_path,
    range_is_empty,
    show_range,
)
from metamodel.build_flows import text_key
from metamodel.diagnostics import DocPath, Text, suggest
from metamodel.expressions import VARIABLES, Expression
from metamodel.yamlsource import Document

if TYPE_CHECKING:
    from metamodel.crosscheck import CrossChecker

_Item = TypeVar("_Item")

#: Maximum number of gaps, and of overlaps, reported per routing table. The last one reported counts the rest.
REPORTED_REGIONS = 10


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
        for position, name in enumerate(state.editable):
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
        if transition.sla is not None:
            if transition.sla.escalate_to is not None:
                checker.role_ref(document, path + ("sla", "escalate_to"), transition.sla.escalate_to)
            expiry = transition.sla.on_expiry
            if expiry is not None and expiry not in flow.transitions:
                expected = sorted(flow.transitions)
                checker.report(
                    document, "ref.E007", path + ("sla", "on_expiry"), found=expiry, flow=flow.name, expected=expected,
                    suggestion=suggest(expiry, expected),
                )
            elif expiry is not None:
                target = flow.transitions[expiry]
                if target.approval is not None:
                    checker.report(document, "flow.E007", path + ("sla", "on_expiry"), found=expiry, transition=transition.name,
                                   problem="needs approvals, which a time limit must not skip",
                                   problem_zh="需要审批，时限到期不能跳过审批")
                elif not set(target.sources) & set(transition.sources):
                    checker.report(document, "flow.E007", path + ("sla", "on_expiry"), found=expiry, transition=transition.name,
                                   problem="does not start from any state this transition starts from",
                                   problem_zh="的起点与该流转的起点都不相同")
        if entity is not None:
            for key in ("required_fields", "required_documents"):
                for position, name in enumerate(getattr(transition, key)):
                    checker.field_ref(document, path + (key, position), entity, name)
    return known


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


def check_routing(checker: CrossChecker, document: Document, path: DocPath, approval: m.Approval, entity: m.Entity | None) -> None:
    """Check a routing table's rules against its inputs and levels, then that exactly one rule matches every record."""
    table = approval.routing
    if table is None:
        return
    routing: DocPath = path + ("routing",)
    fields = {
        name: input_field(checker.model, entity.name, source) if entity is not None else None for name, source in table.inputs.items()
    }
    levels = [level.name for level in approval.levels]
    # The expression check reports an input that names a missing field, and its values are unknown here.
    sound = entity is None or not any(_names_missing_field(checker.model, entity, source) for source in table.inputs.values())
    first_use: dict[str, tuple[bool, DocPath]] = {}
    for index, rule in enumerate(table.rules):
        rule_path: DocPath = routing + ("rules", index)
        for name, condition in rule.when.items():
            sound = _check_condition(checker, document, rule_path + ("when", name), name, condition, table, fields, first_use) and sound
        for position, level in enumerate(rule.result):
            if level not in levels:
                checker.report(
                    document, "routing.E004", rule_path + ("levels", position), found=level, expected=levels,
                    suggestion=suggest(level, levels),
                )
    if sound:
        _check_coverage(checker, document, routing, table, {name: field_domain(field) for name, field in fields.items()})


def _check_condition(
    checker: CrossChecker,
    document: Document,
    path: DocPath,
    name: str,
    condition: m.Condition,
    table: m.DecisionTable,
    fields: Mapping[str, m.Field | None],
    first_use: dict[str, tuple[bool, DocPath]],
) -> bool:
    """Check a rule's condition on one input, and return whether the table's coverage can still be analysed.

    `first_use` keeps, per input, whether its first condition is a range and where it is.
    """
    if name not in table.inputs:
        inputs = list(table.inputs)
        checker.diagnostics.append(
            document.diagnostic("routing.E003", path, at_key=True, found=name, expected=inputs, suggestion=suggest(name, inputs))
        )
        return False
    is_range = isinstance(condition, m.RangeCondition)
    first_is_range, first_path = first_use.setdefault(name, (is_range, path))
    field, source = fields[name], table.inputs[name].source
    if first_is_range != is_range:
        checker.report(
            document, "routing.E006", path, found=name, kind=_KINDS[is_range], other_kind=_KINDS[first_is_range],
            other=_rule_position(document, first_path[:-2]),
        )
        return False
    if isinstance(condition, m.RangeCondition):
        if field is not None and field.type not in m.NUMERIC_TYPES:
            # Reported once, at the input's first condition, because the field's type is the mistake.
            if first_path == path:
                checker.report(document, "routing.E008", path, found=name, field=source, type=field.type)
            return False
        if range_is_empty(condition):
            checker.report(document, "routing.E005", path, found=name, range=show_range(condition))
            return False
        return True
    choices = field_domain(field).choices
    written = _data_at(document.data, path)
    for position, value in enumerate(written if choices is not None and isinstance(written, list) else ()):
        if text_key(value) not in (choices or ()):
            checker.report(
                document, "routing.E007", path + (position,), found=text_key(value), field=source, expected=list(choices or ()),
                suggestion=suggest(text_key(value), choices or ()),
            )
    return True


def _names_missing_field(model: m.AppModel, entity: m.Entity, expression: Expression) -> bool:
    """Tell whether an input that is a plain field path names a field that does not exist."""
    path = plain_path(expression)
    if path is None or path[0] in VARIABLES or path[0] in m.SYSTEM_FIELDS:
        return False
    fields = entity.fields
    for name in path:
        field = fields.get(name)
        if field is None:
            return True
        target = model.entities.get(field.entity or "") if field.type == "reference" else None
        if target is None:
            return False
        fields = target.fields
    return False


_KINDS = {True: Text("a range", "范围"), False: Text("a list of values", "取值列表")}


def _check_coverage(
    checker: CrossChecker, document: Document, routing: DocPath, table: m.DecisionTable, domains: Mapping[str, Any]
) -> None:
    try:
        gaps, overlaps = coverage(table, domains, MAX_CELLS)
    except TooManyCells as exc:
        checker.diagnostics.append(document.diagnostic("routing.W001", routing, at_key=True, found=exc.cells, expected=exc.limit))
        return
    for position, gap in enumerate(gaps[:REPORTED_REGIONS]):
        more = _more(len(gaps)) if position == REPORTED_REGIONS - 1 else _NO_MORE
        checker.diagnostics.append(document.diagnostic("routing.E001", routing + ("rules",), at_key=True, cell=gap.text, more=more))
    for position, overlap in enumerate(overlaps[:REPORTED_REGIONS]):
        more = _more(len(overlaps)) if position == REPORTED_REGIONS - 1 else _NO_MORE
        checker.report(
            document, "routing.E002", routing + ("rules", overlap.rules[-1]), cell=overlap.text, more=more,
            rules=_rule_list(document, routing, overlap),
        )


_NO_MORE = Text("", "")


def _more(count: int) -> Text:
    rest = count - REPORTED_REGIONS
    if rest <= 0:
        return _NO_MORE
    return Text(f" (and {rest} more not listed)", f"（另有 {rest} 处未列出）")


def _rule_list(document: Document, routing: DocPath, region: Region) -> Text:
    positions = [_rule_position(document, routing + ("rules", index)) for index in region.rules]
    return Text(", ".join(item.en for item in positions), "、".join(item.zh_cn for item in positions))


def _rule_position(document: Document, path: DocPath) -> Text:
    """Name a rule as "rules[2] (line 14)"."""
    line = document.position(path)[0]
    return Text(f"rules[{path[-1]}] (line {line})", f"rules[{path[-1]}]（第 {line} 行）")


def _data_at(data: Any, path: DocPath) -> Any:
    for part in path:
        data = data[part]
    return data
