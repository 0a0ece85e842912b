"""The groups a report run returns: their values, their order, ratios and the pivot layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from metamodel import model as m

#: Digits after the point of a ratio.
RATIO_PLACES = 4


@dataclass
class ReportGroup:
    """One row of a report: the values of its dimensions and measures, and what identifies its rows."""

    #: Raw dimension values (a bucket's text, an enum value, a reference id); None for a dimension summed over.
    #: A masked field's value is raw here too, so screens and files show `shown` instead.
    keys: tuple[Any, ...]
    #: Dimension values for display: a Label, a record title, a masked text, or the raw value.
    shown: tuple[Any, ...]
    #: Measure values by measure name: int, Decimal, a date or None.
    values: dict[str, Any]
    #: For each reference of the source the joined fields go through: the ids of the group's rows and
    #: whether some of them have no reference.
    references: dict[str, tuple[tuple[int, ...], bool]] = field(default_factory=dict)
    #: Whether a masked value is among the keys, so that the group cannot be drilled into.
    masked: bool = False
    #: Indexes of the dimensions the group is grouped by; the others are summed over (None in `keys`).
    grouped: tuple[int, ...] = ()
    #: For each dimension, the position of the value among its declared choices, states or units;
    #: None where values have no declared order.
    ranks: tuple[int | None, ...] = ()


@dataclass
class Pivot:
    """The groups of two dimensions laid out as a table: row values down, column values across."""

    rows: list[ReportGroup]
    columns: list[ReportGroup]
    cells: dict[tuple[Any, Any], ReportGroup]
    #: Index of the dimension down and across among the report's dimensions.
    row_dimension: int
    column_dimension: int


def grouping_sets(report: m.Report) -> list[tuple[int, ...]]:
    """Return the full grouping, then the totals, then a pivot's cells and margins when they differ."""
    names = [dimension.field for dimension in report.dimensions]
    sets: list[tuple[int, ...]] = [tuple(range(len(names)))]
    if names:
        sets.append(())
    if report.pivot is not None:
        down, across = (names.index(name) for name in report.pivot)
        for grouped in ((down, across), (down,), (across,)):
            if grouped not in sets:
                sets.append(grouped)
    return sets


def pivot_of(report: m.Report, sets: list[tuple[int, ...]], by_set: dict[int, list[ReportGroup]]) -> Pivot | None:
    if report.pivot is None:
        return None
    names = [dimension.field for dimension in report.dimensions]
    down, across = (names.index(name) for name in report.pivot)
    cells = {(group.keys[down], group.keys[across]): group for group in by_set[sets.index((down, across))]}
    rows = _sorted_by_key(by_set[sets.index((down,))], down)
    columns = _sorted_by_key(by_set[sets.index((across,))], across)
    return Pivot(rows, columns, cells, down, across)


def _sorted_by_key(groups: list[ReportGroup], index: int) -> list[ReportGroup]:
    return sorted(groups, key=lambda group: _order_value(group, index))


def _order_value(group: ReportGroup, index: int) -> tuple[bool, Any]:
    """Return a sort key that puts empty values last, keeps declared choices in their order and orders titles by their text."""
    rank = group.ranks[index] if index < len(group.ranks) else None
    if rank is not None:
        return (False, rank)
    key, shown = group.keys[index], group.shown[index]
    value = shown if isinstance(shown, str) else key
    return (value is None, value if value is not None else 0)


def sorted_groups(report: m.Report, groups: list[ReportGroup]) -> list[ReportGroup]:
    """Sort by the report's sort, then by the dimensions; empty values last in both directions."""
    names = [dimension.field for dimension in report.dimensions]
    order = list(report.sort) + [name for name in names if name not in {item.lstrip("-") for item in report.sort}]
    result = list(groups)
    for item in reversed(order):
        name, descending = item.lstrip("-"), item.startswith("-")
        if name in names:
            index = names.index(name)
            present = [group for group in result if group.keys[index] is not None]
            empty = [group for group in result if group.keys[index] is None]
            present.sort(key=lambda group: _order_value(group, index), reverse=descending)
        else:
            present = [group for group in result if group.values.get(name) is not None]
            empty = [group for group in result if group.values.get(name) is None]
            present.sort(key=lambda group: group.values[name], reverse=descending)
        result = present + empty
    return result


def ratio_of(report: m.Report, measure: m.Measure, values: Mapping[str, Any]) -> Decimal | None:
    """Divide the two measures a ratio names; None when either is empty or the denominator is zero."""
    if measure.ratio is None:
        return None
    numerator, denominator = (values.get(name) for name in measure.ratio)
    if numerator is None or denominator is None or Decimal(denominator) == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1).scaleb(-RATIO_PLACES), ROUND_HALF_UP)
