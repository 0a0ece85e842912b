"""Compile a report into one SQL aggregation: joins along references, date buckets, measures and grouping sets.

Every grouping set (the full grouping, the totals, the margins of a pivot) is one SELECT
over the same FROM and WHERE. UNION ALL joins the sets into one statement, so an average
or a distinct count of the totals is computed from the rows, not from the groups. A column
`grouping_set` distinguishes the sets.

Date buckets give the same text on SQLite and PostgreSQL: day `2026-03-05`, week the
Monday that starts it `2026-03-02`, month `2026-03`, quarter `2026-Q1`, year `2026`.
Moments are bucketed by their day in the application's time zone, as list filters read days.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import ColumnElement, FromClause, Integer, Select, Table, Text, cast, distinct, func, literal_column, null, select
from sqlalchemy.sql.expression import CompoundSelect, union_all

from metamodel import model as m

BUCKETS = ("day", "week", "month", "quarter", "year")

_POSTGRES_FORMATS = {"day": "YYYY-MM-DD", "week": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}
_SQLITE_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


@dataclass(frozen=True)
class ReachedField:
    """A report field reached from the source entity, perhaps through references."""

    #: The name as the report gives it, such as `shop.city`.
    name: str
    #: The declared field, or None for a system column such as created_at.
    field: m.Field | None
    column: ColumnElement[Any]
    #: The entity that declares the last name.
    entity: m.Entity
    #: The reference field of the source entity that the path starts with, or None for the source's own field.
    first_hop: str | None

    @property
    def type(self) -> str:
        if self.field is not None:
            return self.field.type
        return "datetime" if self.name.rsplit(".", 1)[-1] in ("created_at", "updated_at") else "string"


@dataclass(frozen=True)
class MeasureColumns:
    """The SQL columns of one measure: its value, and for an average the count that divides the sum."""

    measure: m.Measure
    value: ColumnElement[Any] | None
    count: ColumnElement[Any] | None = None


def bucket_expression(column: ColumnElement[Any], bucket: str, field_type: str, dialect: str,
                      zone: datetime.tzinfo) -> ColumnElement[Any]:
    """Return the text of the bucket a date or moment falls in, the same on both databases."""
    if dialect == "postgresql":
        local: ColumnElement[Any] = column
        if field_type == "datetime":
            local = func.timezone(_zone_name(zone), column)
        if bucket == "week":
            local = func.date_trunc("week", local)
        return func.to_char(local, _POSTGRES_FORMATS[bucket], type_=Text)

    # SQLite's date functions take the shift as a modifier, which spares parsing each value twice.
    modifiers: tuple[str, ...] = ()
    if field_type == "datetime":
        # NOTE: SQLite has no time zones, so a moment is shifted by the zone's offset of today.
        # In a zone with daylight saving time, the hour around a change may fall in the wrong day.
        minutes = int((_offset(zone)).total_seconds() // 60)
        modifiers = (f"{minutes:+d} minutes",)
    if bucket == "week":
        # "weekday 0" moves to the next Sunday (or stays on one); six days back is that week's Monday.
        return func.date(column, *modifiers, "weekday 0", "-6 days", type_=Text)
    if bucket == "quarter":
        month = cast(func.strftime("%m", column, *modifiers), Integer)
        quarter = cast((month + 2) // 3, Text)
        return func.strftime("%Y", column, *modifiers, type_=Text) + "-Q" + quarter
    return func.strftime(_SQLITE_FORMATS[bucket], column, *modifiers, type_=Text)


def bucket_days(bucket: str, value: str) -> tuple[datetime.date, datetime.date]:
    """Return the first and the last day of a bucket given by its text."""
    if bucket == "day":
        day = datetime.date.fromisoformat(value)
        return day, day
    if bucket == "week":
        monday = datetime.date.fromisoformat(value)
        return monday, monday + datetime.timedelta(days=6)
    if bucket == "month":
        first = datetime.date.fromisoformat(value + "-01")
        return first, _next_month(first) - datetime.timedelta(days=1)
    if bucket == "quarter":
        year, quarter = value.split("-Q")
        first = datetime.date(int(year), 3 * int(quarter) - 2, 1)
        return first, _next_month(_next_month(_next_month(first))) - datetime.timedelta(days=1)
    year_number = int(value)
    return datetime.date(year_number, 1, 1), datetime.date(year_number, 12, 31)


def _next_month(day: datetime.date) -> datetime.date:
    return datetime.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _zone_name(zone: datetime.tzinfo) -> str:
    key = getattr(zone, "key", None)
    return str(key) if key else "UTC"


def _offset(zone: datetime.tzinfo) -> datetime.timedelta:
    return datetime.datetime.now(zone).utcoffset() or datetime.timedelta(0)


def measure_columns(measure: m.Measure, column: ColumnElement[Any] | None) -> MeasureColumns:
    """Return the aggregate columns of a measure; a ratio has none, as it divides two other measures."""
    aggregate = measure.aggregate
    if aggregate == "count":
        return MeasureColumns(measure, func.count() if column is None else func.count(column))
    if column is None or aggregate == "ratio":
        return MeasureColumns(measure, None)
    if aggregate == "count_distinct":
        return MeasureColumns(measure, func.count(distinct(column)))
    if aggregate == "avg":
        # Summed exactly and divided in Python: AVG returns a binary float on SQLite.
        return MeasureColumns(measure, func.sum(column, type_=column.type), func.count(column))
    if aggregate == "sum":
        return MeasureColumns(measure, func.sum(column, type_=column.type))
    if aggregate == "min":
        return MeasureColumns(measure, func.min(column, type_=column.type))
    return MeasureColumns(measure, func.max(column, type_=column.type))


def id_list(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Return the distinct non-empty values of an id column of a group, joined with commas."""
    if dialect == "postgresql":
        return func.string_agg(distinct(cast(column, Text)), literal_column("','"), type_=Text)
    return func.group_concat(distinct(column), type_=Text)


def has_empty(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return the number of rows of a group whose column is empty."""
    return func.count() - func.count(column)


@dataclass(frozen=True)
class Aggregation:
    """The select list of one report run: grouped expressions, measures and id lists, over a FROM and a WHERE."""

    source: FromClause
    conditions: Sequence[ColumnElement[bool]]
    dimensions: Sequence[ColumnElement[Any]]
    measures: Sequence[MeasureColumns]
    #: Reference columns of the source whose ids each group lists, for drill-down through joined fields.
    references: Sequence[ColumnElement[Any]]

    def statement(self, grouping_sets: Sequence[tuple[int, ...]], dialect: str) -> CompoundSelect[Any] | Select[Any]:
        """Return one SELECT per grouping set, joined with UNION ALL; the first set's columns type the result."""
        selects = [self._select(index, grouped, dialect) for index, grouped in enumerate(grouping_sets)]
        if len(selects) == 1:
            return selects[0]
        return union_all(*selects)

    def _select(self, index: int, grouped: tuple[int, ...], dialect: str) -> Select[Any]:
        columns: list[ColumnElement[Any]] = [literal_column(str(index), Integer).label("grouping_set")]
        for position, expression in enumerate(self.dimensions):
            columns.append((expression if position in grouped else null()).label(f"d{position}"))
        for position, item in enumerate(self.measures):
            if item.value is not None:
                columns.append(item.value.label(f"m{position}"))
            if item.count is not None:
                columns.append(item.count.label(f"c{position}"))
        for position, reference in enumerate(self.references):
            columns.append(id_list(reference, dialect).label(f"r{position}"))
            columns.append(has_empty(reference).label(f"e{position}"))
        statement = select(*columns).select_from(self.source).where(*self.conditions)
        if grouped:
            statement = statement.group_by(*(self.dimensions[position] for position in grouped))
        return statement


def text_or_null(column: ColumnElement[Any], field_type: str) -> ColumnElement[Any]:
    """Group empty text with missing text, as the list's "is empty" filter matches both."""
    if field_type in m.TEXT_TYPES or field_type in m.IDENTIFIER_TYPES:
        return func.nullif(column, "")
    return column


def joined(source: Table, joins: Sequence[tuple[FromClause, ColumnElement[bool]]]) -> FromClause:
    """Return the source table left-joined with each referenced table, so rows without a reference still count."""
    result: FromClause = source
    for target, on in joins:
        result = result.outerjoin(target, on)
    return result
