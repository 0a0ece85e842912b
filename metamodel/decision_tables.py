"""Decision tables: which rules match a record, and whether the rules cover every record exactly once.

A table has named inputs, each an expression over the record, and rules that give a
condition per input: a numeric range (`min` and `max` include their bound, `above` and
`below` exclude it) or a set of values compared as text. An input that a rule does not
name matches any value; an input whose value is None matches only there.

`matching_rules` routes one record; the runtime evaluates the inputs and calls it.
`coverage` analyses a table without records: it splits the values of each input into
cells at every bound the rules name, goes through every combination of cells, and
returns the combinations that no rule matches (gaps) and those that several rules
match (overlaps), merged into boxes and described in both languages. `empty_gaps`
does the same for records whose one input is empty.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Mapping, Sequence

from metamodel import model as m
from metamodel.build_flows import text_key
from metamodel.diagnostics import Text
from metamodel.expressions import Expression

#: Maximum number of cells `coverage` enumerates before it raises TooManyCells.
MAX_CELLS = 100_000


class TooManyCells(Exception):
    """The inputs of a table split into more combinations of cells than the limit."""

    def __init__(self, cells: int, limit: int) -> None:
        super().__init__(f"the table has {cells} cells, more than the limit of {limit}")
        self.cells = cells
        self.limit = limit


class MixedConditions(ValueError):
    """An input has range conditions in some rules and sets of values in others."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the input {name!r} has both ranges and sets of values")
        self.name = name


@dataclass(frozen=True)
class InputDomain:
    """The values an input can take, as far as the model defines them. The defaults allow any value."""

    #: A closed set of values, as text: the choices of an enum field, or true and false.
    choices: tuple[str, ...] | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    #: Numbers are whole multiples of this: 1 for integers, 0.01 for money with two places.
    step: Decimal | None = None


@dataclass(frozen=True)
class Region:
    """A box of input values that the same rules match."""

    #: Indexes of the rules that match every value in the box.
    rules: tuple[int, ...]
    #: The box, such as "amount in (100, 200], grade = C".
    text: Text


# Routing one record -----------------------------------------------------------------


def matching_rules(table: m.DecisionTable, values: Mapping[str, Any]) -> list[int]:
    """Return the indexes of the rules whose every condition holds for the input values.

    Numbers (int, float, Decimal) are compared as Decimals, and booleans and text are not
    numbers. A set contains a value whose text (true/false for booleans) it lists, and a
    number equal to a number it lists, so 12 matches [12.0].
    """
    return [
        index
        for index, rule in enumerate(table.rules)
        if all(condition_holds(condition, values.get(name)) for name, condition in rule.when.items())
    ]


def condition_holds(condition: m.Condition, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(condition, m.RangeCondition):
        number = _number(value)
        return number is not None and in_range(condition, number)
    if text_key(value) in condition:
        return True
    number = _number(value)
    return number is not None and any(_number(_parsed(item)) == number for item in condition)


def in_range(condition: m.RangeCondition, number: Decimal) -> bool:
    return (
        (condition.min is None or number >= condition.min)
        and (condition.max is None or number <= condition.max)
        and (condition.above is None or number > condition.above)
        and (condition.below is None or number < condition.below)
    )


def range_is_empty(condition: m.RangeCondition) -> bool:
    """Tell whether no number lies in the range, as in min 10, max 5 or above 5, below 5."""
    low, low_open = _lower(condition)
    high, high_open = _upper(condition)
    if low is None or high is None:
        return False
    return low > high or (low == high and (low_open or high_open))


def show_range(condition: m.RangeCondition) -> str:
    """Write a range as an interval, such as "(150000, 300000]"."""
    low, low_open = _lower(condition)
    high, high_open = _upper(condition)
    left = "(-∞"
    if low is not None:
        left = ("(" if low_open else "[") + show_number(low)
    right = "+∞)"
    if high is not None:
        right = show_number(high) + (")" if high_open else "]")
    return f"{left}, {right}"


def show_number(number: Decimal) -> str:
    """Write a Decimal without exponent or trailing zeros: 150000, 0.7."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(str(value))
        return number if number.is_finite() else None
    return None


def _parsed(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _lower(condition: m.RangeCondition) -> tuple[Decimal | None, bool]:
    """Return the tighter lower bound of min (closed) and above (open), and whether it is open."""
    if condition.min is None or (condition.above is not None and condition.above >= condition.min):
        return condition.above, True
    return condition.min, False


def _upper(condition: m.RangeCondition) -> tuple[Decimal | None, bool]:
    if condition.max is None or (condition.below is not None and condition.below <= condition.max):
        return condition.below, True
    return condition.max, False


# The values an input can take ------------------------------------------------------------


def plain_path(expression: Expression) -> tuple[str, ...] | None:
    """Return the names of `field` or `reference.field` when the expression is only that."""
    node: ast.AST = expression.tree.body
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return (node.id, *names)


def input_field(model: m.AppModel, entity: str, expression: Expression) -> m.Field | None:
    """Return the field an input names, following reference fields; None for any other expression."""
    path = plain_path(expression)
    owner = model.entities.get(entity)
    if path is None or owner is None:
        return None
    field = owner.fields.get(path[0])
    for name in path[1:]:
        if field is None or field.type != "reference" or field.entity is None or field.entity not in model.entities:
            return None
        field = model.entities[field.entity].fields.get(name)
    return field


def field_domain(field: m.Field | None) -> InputDomain:
    """Return the values a field can hold: its choices, or its limits and the step of its numbers."""
    if field is None:
        return InputDomain()
    if field.type == "enum":
        return InputDomain(choices=field.choice_values)
    if field.type == "boolean":
        return InputDomain(choices=("true", "false"))
    if field.type == "integer":
        return InputDomain(minimum=field.min, maximum=field.max, step=Decimal(1))
    if field.type in m.NUMERIC_TYPES:
        return InputDomain(minimum=field.min, maximum=field.max, step=Decimal(1).scaleb(-m.decimal_places(field)))
    return InputDomain()


# Coverage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """A cell of a numeric input: the point `low` when `point`, else the open interval (low, high)."""

    low: Decimal | None
    high: Decimal | None
    point: bool

    def sample(self) -> Decimal:
        """Return a number inside the cell. Each range the cells were cut by contains the whole cell or none of it."""
        if self.low is None:
            return Decimal(0) if self.high is None else self.high - 1
        if self.point:
            return self.low
        return self.low + 1 if self.high is None else (self.low + self.high) / 2


#: The cell of a set input that represents every value the rules do not name.
_OTHER = None


@dataclass(frozen=True)
class _Axis:
    name: str
    #: "range", "set", or None for an input no rule names.
    kind: str | None
    domain: InputDomain
    #: The cells: _Span for a range input, a value or _OTHER for a set input, one None for an unused input.
    cells: tuple[Any, ...]
    #: Per cell, the rules (as bits) whose condition on this input is true there.
    masks: tuple[int, ...]


def coverage(
    table: m.DecisionTable, domains: Mapping[str, InputDomain] | None = None, limit: int = MAX_CELLS
) -> tuple[list[Region], list[Region]]:
    """Return the gaps (boxes no rule matches) and overlaps (boxes two or more rules match).

    A missing value (None) is left out: the analysis covers records whose inputs have a value.
    Raise MixedConditions for an input with both ranges and sets, and TooManyCells when the
    combinations of cells number more than `limit`.
    """
    domains = domains or {}
    axes = [_axis(table, name, domains.get(name, InputDomain())) for name in table.inputs]
    count = 1
    for axis in axes:
        count *= len(axis.cells)
    if count > limit:
        raise TooManyCells(count, limit)

    every = (1 << len(table.rules)) - 1
    by_rules: dict[int, list[tuple[int, ...]]] = {}
    for cell in itertools.product(*(range(len(axis.cells)) for axis in axes)):
        mask = every
        for axis, index in zip(axes, cell):
            mask &= axis.masks[index]
        if mask == 0 or mask & (mask - 1):
            by_rules.setdefault(mask, []).append(cell)

    gaps: list[Region] = []
    overlaps: list[Region] = []
    for mask, cells in by_rules.items():
        rules = tuple(index for index in range(len(table.rules)) if mask >> index & 1)
        for box in _merge(cells, axes):
            (overlaps if rules else gaps).append(Region(rules, _describe(box, axes)))
    return gaps, overlaps


def empty_gaps(
    table: m.DecisionTable, name: str, domains: Mapping[str, InputDomain] | None = None, limit: int = MAX_CELLS
) -> list[Region]:
    """Return the boxes of the other inputs where no rule matches a record whose input `name` is empty (None).

    No condition holds for an empty value, so only the rules that do not name the input
    can match such a record. Raise TooManyCells as `coverage` does.
    """
    rules = tuple(rule for rule in table.rules if name not in rule.when)
    inputs = {key: expression for key, expression in table.inputs.items() if key != name}
    gaps, _ = coverage(m.DecisionTable(inputs=m.frozen_mapping(inputs), rules=rules), domains, limit)
    return gaps


def _axis(table: m.DecisionTable, name: str, domain: InputDomain) -> _Axis:
    conditions = [(index, rule.when[name]) for index, rule in enumerate(table.rules) if name in rule.when]
    kinds = {"range" if isinstance(condition, m.RangeCondition) else "set" for _, condition in conditions}
    if len(kinds) > 1:
        raise MixedConditions(name)
    free = 0
    for index, rule in enumerate(table.rules):
        if name not in rule.when:
            free |= 1 << index
    kind = kinds.pop() if kinds else None
    if kind is None:
        return _Axis(name, None, domain, (None,), (free,))
    cells: tuple[Any, ...] = tuple(_spans(conditions, domain) if kind == "range" else _values(conditions, domain))
    masks = []
    for cell in cells:
        mask = free
        for index, condition in conditions:
            if _cell_holds(condition, cell):
                mask |= 1 << index
        masks.append(mask)
    return _Axis(name, kind, domain, cells, tuple(masks))


def _cell_holds(condition: m.Condition, cell: _Span | str | None) -> bool:
    if isinstance(condition, m.RangeCondition):
        return isinstance(cell, _Span) and in_range(condition, cell.sample())
    return isinstance(cell, str) and cell in condition


def _spans(conditions: Sequence[tuple[int, m.Condition]], domain: InputDomain) -> list[_Span]:
    """Cut the number line at every bound into points and open intervals; keep those the domain reaches."""
    bounds = sorted(
        {bound for _, condition in conditions if isinstance(condition, m.RangeCondition)
         for bound in (condition.min, condition.max, condition.above, condition.below) if bound is not None}
    )
    edges: list[Decimal | None] = [None, *bounds, None]
    spans: list[_Span] = []
    for position, bound in enumerate(bounds):
        spans.append(_Span(edges[position], bound, False))
        spans.append(_Span(bound, bound, True))
    spans.append(_Span(bounds[-1] if bounds else None, None, False))
    return [span for span in spans if _reachable(span, domain)]


def _reachable(span: _Span, domain: InputDomain) -> bool:
    """Tell whether the domain contains a value inside the cell."""
    step = domain.step
    if span.point and span.low is not None:
        value = span.low
        return (
            (domain.minimum is None or value >= domain.minimum)
            and (domain.maximum is None or value <= domain.maximum)
            and (step is None or value % step == 0)
        )
    low, low_open = span.low, True
    if domain.minimum is not None and (low is None or domain.minimum > low):
        low, low_open = domain.minimum, False
    high, high_open = span.high, True
    if domain.maximum is not None and (high is None or domain.maximum < high):
        high, high_open = domain.maximum, False
    if low is None or high is None:
        return True
    if step is not None:
        first = (low / step).to_integral_value(rounding=ROUND_CEILING) * step
        if low_open and first == low:
            first += step
        low, low_open = first, False
    return low < high or (low == high and not low_open and not high_open)


def _values(conditions: Sequence[tuple[int, m.Condition]], domain: InputDomain) -> list[str | None]:
    if domain.choices is not None:
        return list(domain.choices)
    named: dict[str, None] = {}
    for _, condition in conditions:
        if isinstance(condition, frozenset):
            named.update(dict.fromkeys(sorted(condition)))
    return [*named, _OTHER]


def _merge(cells: list[tuple[int, ...]], axes: Sequence[_Axis]) -> list[tuple[tuple[int, ...], ...]]:
    """Merge cells into boxes: runs of neighbouring cells of a numeric input, any cells of a set input."""
    boxes: list[tuple[tuple[int, ...], ...]] = [tuple((index,) for index in cell) for cell in cells]
    for dimension, axis in enumerate(axes):
        groups: dict[tuple[tuple[int, ...], ...], list[int]] = {}
        for box in boxes:
            groups.setdefault(box[:dimension] + box[dimension + 1:], []).extend(box[dimension])
        boxes = []
        for rest, indexes in groups.items():
            ordered = sorted(set(indexes))
            runs = _runs(ordered) if axis.kind == "range" else [ordered]
            boxes.extend(rest[:dimension] + (tuple(run),) + rest[dimension:] for run in runs)
    return sorted(boxes)


def _runs(indexes: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in indexes:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _describe(box: tuple[tuple[int, ...], ...], axes: Sequence[_Axis]) -> Text:
    parts_en: list[str] = []
    parts_zh: list[str] = []
    for axis, indexes in zip(axes, box):
        if len(indexes) == len(axis.cells):
            continue
        if axis.kind == "range":
            en, zh = _describe_spans(axis, indexes)
        else:
            en, zh = _describe_values(axis, indexes)
        parts_en.append(en)
        parts_zh.append(zh)
    if not parts_en:
        return ANY_VALUE
    return Text(", ".join(parts_en), "，".join(parts_zh))


#: The description of a box that spans every value of every input.
ANY_VALUE = Text("any value of the inputs", "输入取任何值")


def _describe_spans(axis: _Axis, indexes: tuple[int, ...]) -> tuple[str, str]:
    first, last = axis.cells[indexes[0]], axis.cells[indexes[-1]]
    low, low_open = first.low, not first.point
    if axis.domain.minimum is not None and (low is None or low < axis.domain.minimum):
        low, low_open = axis.domain.minimum, False
    high, high_open = last.high, not last.point
    if axis.domain.maximum is not None and (high is None or high > axis.domain.maximum):
        high, high_open = axis.domain.maximum, False
    if low is not None and low == high:
        text = f"{axis.name} = {show_number(low)}"
        return text, text
    interval = show_range(m.RangeCondition(
        min=None if low_open else low, above=low if low_open else None,
        max=None if high_open else high, below=high if high_open else None,
    ))
    return f"{axis.name} in {interval}", f"{axis.name} 在 {interval} 内"


def _describe_values(axis: _Axis, indexes: tuple[int, ...]) -> tuple[str, str]:
    values = [axis.cells[index] for index in indexes]
    if _OTHER in values:
        left_out = ", ".join(value for value in axis.cells if value is not _OTHER and value not in values)
        return f"{axis.name} not in {{{left_out}}}", f"{axis.name} 不属于 {{{left_out}}}"
    if len(values) == 1:
        text = f"{axis.name} = {values[0]}"
        return text, text
    listed = ", ".join(values)
    return f"{axis.name} in {{{listed}}}", f"{axis.name} 属于 {{{listed}}}"
