"""Cross-check the approval routing tables of flows: their rules, and that exactly one rule matches every record.

`check_routing` checks one table. Each condition must name a declared input, in the way
(range or list of values) the input's other conditions use and that its field's type
allows, and each rule must name declared levels. When all of that holds, the coverage
analysis of metamodel/decision_tables.py finds the records no rule or several rules match.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from metamodel import model as m
from metamodel.build_flows import text_key
from metamodel.decision_tables import (
    MAX_CELLS,
    Region,
    TooManyCells,
    ANY_VALUE,
    coverage,
    empty_gaps,
    field_domain,
    input_field,
    plain_path,
    range_is_empty,
    show_range,
)
from metamodel.diagnostics import DocPath, Text, suggest
from metamodel.expressions import VARIABLES, Expression
from metamodel.yamlsource import Document

if TYPE_CHECKING:
    from metamodel.crosscheck import CrossChecker

#: Maximum number of gaps, and of overlaps, reported per routing table. The last one reported counts the rest.
REPORTED_REGIONS = 10


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
        domains = {name: field_domain(field) for name, field in fields.items()}
        if _check_coverage(checker, document, routing, table, domains) and entity is not None:
            _check_empty_inputs(checker, document, routing, table, domains, entity)


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


def _optional_field(model: m.AppModel, entity: str, expression: Expression) -> tuple[m.Entity, m.Field] | None:
    """Return the first field on an input's path that is not `required: true`, with its entity.

    Such a field may be empty, and so may the input then. Return None when every field on
    the path is required, and for an input that is no plain field path (a variable, a
    system field such as state, or any other expression), whose emptiness is not known here.
    """
    path = plain_path(expression)
    owner = model.entities.get(entity)
    if path is None or owner is None:
        return None
    for position, name in enumerate(path):
        field = owner.fields.get(name)
        if field is None:
            return None
        if not field.required:
            return owner, field
        if position + 1 < len(path):
            if field.type != "reference" or field.entity is None or field.entity not in model.entities:
                return None
            owner = model.entities[field.entity]
    return None


_KINDS = {True: Text("a range", "范围"), False: Text("a list of values", "取值列表")}


def _check_coverage(
    checker: CrossChecker, document: Document, routing: DocPath, table: m.DecisionTable, domains: Mapping[str, Any]
) -> bool:
    """Report the values that no rule or several rules match; return whether some rule matches every value."""
    try:
        gaps, overlaps = coverage(table, domains, MAX_CELLS)
    except TooManyCells as exc:
        checker.diagnostics.append(document.diagnostic("routing.W001", routing, at_key=True, found=exc.cells, expected=exc.limit))
        return False
    for position, gap in enumerate(gaps[:REPORTED_REGIONS]):
        more = _more(len(gaps)) if position == REPORTED_REGIONS - 1 else _NO_MORE
        checker.diagnostics.append(document.diagnostic("routing.E001", routing + ("rules",), at_key=True, cell=gap.text, more=more))
    for position, overlap in enumerate(overlaps[:REPORTED_REGIONS]):
        more = _more(len(overlaps)) if position == REPORTED_REGIONS - 1 else _NO_MORE
        checker.report(
            document, "routing.E002", routing + ("rules", overlap.rules[-1]), cell=overlap.text, more=more,
            rules=_rule_list(document, routing, overlap),
        )
    return not gaps


def _check_empty_inputs(
    checker: CrossChecker, document: Document, routing: DocPath, table: m.DecisionTable, domains: Mapping[str, Any],
    entity: m.Entity,
) -> None:
    """Warn about each input that may be empty, because its field is not required, where no rule then matches.

    The runtime matches an empty input only with the rules that do not name it, so a
    record whose input is empty outside those rules' values cannot be routed. Inputs are
    taken one at a time. Records with two inputs empty at once are not analysed.
    """
    named = {name for rule in table.rules for name in rule.when}
    for name, source in table.inputs.items():
        optional = _optional_field(checker.model, entity.name, source)
        if name not in named or optional is None:
            continue
        try:
            gaps = empty_gaps(table, name, domains, MAX_CELLS)
        except TooManyCells:
            continue
        if not gaps:
            continue
        owner, field = optional
        cells = [gap.text for gap in gaps if gap.text.en != ANY_VALUE.en][:REPORTED_REGIONS]
        cell = _NO_MORE
        if cells:
            cell = Text(" when " + "; or ".join(item.en for item in cells), "且 " + "；或 ".join(item.zh_cn for item in cells))
        checker.diagnostics.append(document.diagnostic(
            "routing.W002", routing + ("inputs", name), at_key=True, found=name, field=f"{owner.name}.{field.name}", cell=cell,
        ))


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
