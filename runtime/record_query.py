"""List queries: filters, search, sort and keyset pagination, compiled to SQLAlchemy Core.

Filter values go through the same checks as field input, so "1,234.50" or "2024年3月5日"
filter as they would be stored. A bound on a moment may be a day alone: the day starts at
midnight in the application's time zone. Sorting puts empty values last in both directions and
always ends with the id, so that the keyset cursor of a page names exactly one row.
"""

from __future__ import annotations

import base64
import datetime
import json
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import ColumnElement, DateTime, Integer, Table, and_, false, or_, true
from sqlalchemy.sql.elements import UnaryExpression

from metamodel import model as m
from metamodel.values import check_value
from runtime.audit import json_value
from runtime.errors import FieldError
from runtime.record_codec import RecordCodec
from runtime.schema import HASH_SUFFIX, SEARCH_COLUMN

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains", "between", "empty", "not_empty")
_HASHABLE_OPERATORS = ("eq", "ne", "in", "not_in", "empty", "not_empty")
#: Problem codes of a value outside the field's min and max.
_RANGE_CODES = frozenset({"min", "max"})

#: Largest page a list returns.
MAX_LIMIT = 500


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Group:
    """Conditions joined by "and" or "or"; groups nest."""

    mode: str
    items: tuple[Condition | Group, ...]


@dataclass(frozen=True)
class ListQuery:
    where: Condition | Group | None = None
    search: str | None = None
    #: Field names, a leading "-" for descending; the entity's default sort when empty.
    sort: tuple[str, ...] = ()
    limit: int = 20
    #: Cursor from the previous page's `next_cursor`.
    after: str | None = None
    #: List deleted records (the recycle bin) instead of live ones.
    deleted: bool = False
    #: Count the matching records into `Page.total`.
    with_total: bool = False
    #: Stop counting after this many records, so that a total stays cheap on a big table.
    count_limit: int | None = None
    #: Read only these fields besides the system columns; None reads every field the actor may see.
    #: A field hidden from the actor is left out either way.
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None
    #: False when counting stopped at `ListQuery.count_limit`: at least `total` records match.
    total_exact: bool = True


class QueryProblems(Exception):
    def __init__(self, errors: dict[str, list[FieldError]]) -> None:
        super().__init__("invalid list query")
        self.errors = errors


@dataclass
class QueryCompiler:
    """Compiles a ListQuery for one entity's table, as seen by one actor."""

    entity: m.Entity
    table: Table
    codec: RecordCodec
    hidden: frozenset[str]
    #: Zone of the days and wall-clock times given as bounds of moments.
    timezone: datetime.tzinfo = datetime.timezone.utc
    errors: dict[str, list[FieldError]] = field(default_factory=dict)

    def error(self, path: str, code: str, en: str, zh: str) -> None:
        self.errors.setdefault(path, []).append(FieldError(code, en, zh))

    def column_of(self, path: str, name: str) -> Any:
        if name in self.hidden or (name not in self.table.c and name not in self.entity.fields):
            self.error(path, "unknown_field", f"{name} is not a field that can be filtered or sorted", f"{name} 不是可筛选或排序的字段")
            return None
        if name not in self.table.c:
            self.error(path, "not_sortable", "This field is stored in its own table, so a list cannot filter or sort by it.",
                       "此字段存放在单独的表中，列表不能按它筛选或排序。")
            return None
        return self.table.c[name]

    def where(self, node: Condition | Group | None, path: str = "where") -> ColumnElement[bool]:
        if node is None:
            return true()
        if isinstance(node, Group):
            parts = [self.where(item, f"{path}.{index}") for index, item in enumerate(node.items)]
            if node.mode not in ("and", "or"):
                self.error(path, "group", f"a group joins with and or or, not {node.mode!r}", f"条件组只能用 and 或 or 连接，而不是 {node.mode!r}")
            return or_(false(), *parts) if node.mode == "or" else and_(true(), *parts)
        return self.condition(node, path)

    def _value(self, path: str, field: m.Field | None, value: Any, column: Any) -> Any:
        if field is None:
            return self._system_value(path, column, value)
        if field.type == "datetime":
            return self._moment(path, value)
        checked, problems = check_value(field, value)
        for problem in problems:
            # A bound outside the field's own min and max is a valid filter: it matches all or nothing.
            if problem.code not in _RANGE_CODES:
                self.error(path, problem.code, problem.message_en, problem.message_zh)
        if field.type == "reference" and not problems:
            return self._record_id(path, checked)
        return checked

    def _system_value(self, path: str, column: Any, value: Any) -> Any:
        """Convert a bound on a system column (created_at, id ...) to the column's type."""
        if isinstance(column.type, DateTime):
            return self._moment(path, value)
        if isinstance(column.type, Integer):
            return self._record_id(path, value)
        return value

    def _record_id(self, path: str, value: Any) -> Any:
        """Return a record number as an integer: PostgreSQL does not compare integer columns with text."""
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        self.error(path, "type.integer", f"Enter a record number, such as 12, not {text!r}.",
                   f"请输入记录编号（如 12），而不是 {text!r}。")
        return value

    def _moment(self, path: str, value: Any) -> Any:
        """Return a moment in UTC, as moments are stored; a day alone means its midnight in `timezone`.

        Text that is neither is reported and returned unchanged, as check_value does.
        """
        if value is None or isinstance(value, datetime.datetime):
            moment = value
        elif isinstance(value, datetime.date):
            moment = datetime.datetime.combine(value, datetime.time())
        else:
            text = unicodedata.normalize("NFKC", str(value)).strip()
            try:
                moment = datetime.datetime.fromisoformat(text)
            except ValueError:
                self.error(path, "type.datetime", f"Enter a date such as 2024-03-05 or a time such as 2024-03-05 14:30, not {text!r}.",
                           f"请输入日期（如 2024-03-05）或时间（如 2024-03-05 14:30），而不是 {text!r}。")
                return text
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.timezone)
        return moment.astimezone(datetime.timezone.utc) if moment is not None else None

    def condition(self, node: Condition, path: str) -> ColumnElement[bool]:
        path = f"{path}.{node.field}"
        if node.op not in OPERATORS:
            self.error(path, "operator", f"unknown operator {node.op!r}; use one of {', '.join(OPERATORS)}", f"未知的运算符 {node.op!r}")
            return true()
        field = self.entity.fields.get(node.field)
        name = node.field + HASH_SUFFIX if field is not None and field.encrypted else node.field
        column = self.column_of(path, name if field is None or not field.encrypted else node.field)
        if column is None:
            return true()
        if field is not None and field.encrypted:
            if node.op not in _HASHABLE_OPERATORS:
                self.error(path, "encrypted", "This field is encrypted, so it can only be matched by its whole value; enter the whole value without a range.",
                           "此字段已加密，只能按完整的值匹配；请填写完整的值，不要用范围。")
                return true()
            column = self.table.c[name]

        if node.op in ("empty", "not_empty"):
            empty = or_(column.is_(None), column == "") if field is not None and field.type in m.TEXT_TYPES else column.is_(None)
            return empty if node.op == "empty" else ~empty
        if node.op in ("in", "not_in"):
            values = node.value if isinstance(node.value, (list, tuple)) else [node.value]
            checked = [self._stored(field, self._value(path, field, item, column)) for item in values]
            membership: ColumnElement[bool] = column.in_(checked) if node.op == "in" else column.not_in(checked)
            return membership
        if node.op == "between":
            if not isinstance(node.value, (list, tuple)) or len(node.value) != 2:
                self.error(path, "between", "between takes two values, low and high", "between 需要两个值：下限和上限")
                return true()
            low, high = (self._value(path, field, item, column) for item in node.value)
            parts = []
            if low is not None:
                parts.append(column >= low)
            if high is not None:
                parts.append(column <= high)
            return and_(true(), *parts)
        if node.op == "contains":
            text = str(node.value or "")
            contained: ColumnElement[bool] = column.contains(text, autoescape=True)
            return contained

        value = self._stored(field, self._value(path, field, node.value, column))
        comparison: ColumnElement[bool]
        if node.op == "eq":
            comparison = column == value
        elif node.op == "ne":
            comparison = or_(column != value, column.is_(None))
        elif node.op == "lt":
            comparison = column < value
        elif node.op == "le":
            comparison = column <= value
        elif node.op == "gt":
            comparison = column > value
        else:
            comparison = column >= value
        return comparison

    def _stored(self, field: m.Field | None, value: Any) -> Any:
        if field is not None and field.encrypted and value is not None:
            return self.codec.hash_of(field, value)
        return value

    def search(self, text: str | None) -> ColumnElement[bool]:
        """Match every word of the search text in the search column, or an encrypted searchable field exactly."""
        if not text or not text.strip():
            return true()
        clauses = []
        for word in text.lower().split():
            alternatives: list[ColumnElement[bool]] = []
            if SEARCH_COLUMN in self.table.c:
                alternatives.append(self.table.c[SEARCH_COLUMN].contains(word, autoescape=True))
            for searched in self.entity.fields.values():
                if searched.searchable and searched.encrypted and searched.name not in self.hidden:
                    checked, problems = check_value(searched, word)
                    if not problems:
                        alternatives.append(self.table.c[searched.name + HASH_SUFFIX] == self.codec.hash_of(searched, checked))
            clauses.append(or_(false(), *alternatives))
        return and_(true(), *clauses)

    def order(self, sort: Sequence[str]) -> list[tuple[Any, bool]]:
        """Return (column, descending) pairs ending with the id."""
        keys: list[tuple[Any, bool]] = []
        for item in sort or self.entity.list.sort or ("-created_at",):
            name = item.lstrip("-")
            if name == "id":
                continue
            column = self.column_of(f"sort.{name}", name)
            field = self.entity.fields.get(name)
            if column is not None and field is not None and field.encrypted:
                self.error(f"sort.{name}", "encrypted", "This field is encrypted, so a list cannot be sorted by it; sort by another column.",
                           "此字段已加密，列表不能按它排序；请按其他列排序。")
                continue
            if column is not None:
                keys.append((column, item.startswith("-")))
        keys.append((self.table.c.id, bool(keys[-1][1]) if keys else True))
        return keys


def order_by(keys: list[tuple[Any, bool]]) -> list[UnaryExpression[Any] | Any]:
    """Order with empty values last whatever the direction, the same on SQLite and PostgreSQL.

    Columns that cannot be empty (id, created_at) are ordered plainly, so that an index
    on them serves the order without a sort.
    """
    clauses: list[Any] = []
    for column, descending in keys:
        if column.nullable:
            clauses.append(column.is_(None).asc())
        clauses.append(column.desc() if descending else column.asc())
    return clauses


def after_cursor(keys: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Return the predicate for rows that sort after the row whose sort values are `values`."""
    alternatives = []
    for index, (column, descending) in enumerate(keys):
        equal_before = [
            previous.is_(None) if value is None else previous == value
            for (previous, _), value in zip(keys[:index], values[:index])
        ]
        value = values[index]
        if value is None:
            continue  # nothing sorts after an empty value on this key except through later keys
        beyond = column < value if descending else column > value
        after = or_(column.is_(None), beyond) if column.nullable else beyond
        alternatives.append(and_(true(), *equal_before, after))
    return or_(false(), *alternatives)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(json_value(values), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, keys: list[tuple[Any, bool]]) -> list[Any] | None:
    """Return the sort values of a cursor, converted back to the columns' types; None if it is malformed."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    converted: list[Any] = []
    for (column, _), value in zip(keys, values):
        if value is None:
            converted.append(None)
            continue
        try:
            converted.append(column.type.python_type(value) if not isinstance(value, str) else _parse(column, value))
        except (TypeError, ValueError, NotImplementedError):
            return None
    return converted


def _parse(column: Any, text: str) -> Any:
    python_type = column.type.python_type
    if python_type is datetime.datetime:
        return datetime.datetime.fromisoformat(text)
    if python_type is datetime.date:
        return datetime.date.fromisoformat(text)
    if python_type is Decimal:
        return Decimal(text)
    return python_type(text)
