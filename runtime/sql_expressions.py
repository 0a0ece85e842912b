"""Compile a data-scope filter expression into one SQL predicate over an entity's table.

Variables (`user`, `today`, `now`) are bound as parameters, and a field reached through a
reference becomes `reference IN (SELECT id FROM target WHERE ...)`. Empty values follow
Python: `status != 'closed'` keeps rows whose status is NULL, as `None != 'closed'` is true.

NOTE: a comparison Python cannot make (ordering or arithmetic with an empty value, a field
reached through an empty reference) is false here, also under `not`, and the rest of the
expression still decides. Python raises an error for the whole row instead.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

from sqlalchemy import JSON, Boolean, ColumnElement, FromClause, Integer, Numeric, String, Table
from sqlalchemy import and_, false, not_, or_, select, true

from metamodel.expressions import FUNCTIONS, USER_ATTRIBUTES, Expression
from metamodel.model import SYSTEM_FIELDS, Entity
from runtime.schema import HASH_SUFFIX, SEARCH_COLUMN, ExactDecimal

LIMITS = "A scope expression can only use comparisons, and/or/not, in, fields, reference fields and user variables"

_SYSTEM_COLUMNS = frozenset((*SYSTEM_FIELDS, "flow"))
_HIDDEN_COLUMNS = frozenset((SEARCH_COLUMN, "flow_version"))
_LITERALS = (str, int, Decimal, bool, type(None))
_MISSING = object()
_MIRRORED: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
_PYTHON_OPERATIONS: dict[type[ast.cmpop] | str, Callable[..., Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda item, items: item in items, ast.NotIn: lambda item, items: item not in items,
    "truth": bool, "empty": FUNCTIONS["is_empty"],
}
_Binary = Callable[[Any, Any], Any]
_ARITHMETIC: dict[type[ast.operator], _Binary] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


class UnsupportedScope(ValueError):
    """A scope expression uses a construct that has no SQL form."""


@dataclass(frozen=True)
class _Value:
    """A value known while compiling: a literal or a variable."""

    value: Any


@dataclass(frozen=True)
class _SqlTerm:
    """A column or arithmetic over columns.

    `strict` marks arithmetic: its NULL means that Python would raise an error, not that a value is None.
    """

    element: ColumnElement[Any]
    strict: bool = False


@dataclass(frozen=True)
class _Chain:
    """`reference.path...`: a field of the target table, reached through a reference column."""

    reference: ColumnElement[Any]
    table: Table
    path: tuple[str, ...]


_Known = _Value | _SqlTerm
_Operand = _Known | _Chain


def compile_predicate(
    expression: Expression, entity: Entity, tables: Mapping[str, Table], variables: Mapping[str, Any]
) -> ColumnElement[bool]:
    """Return the SQL predicate selecting the rows of the entity's table that the expression admits."""
    return _Compiler(entity, tables, variables).predicate(expression.tree.body, negated=False)


def _unsupported(node: ast.AST, reason: str) -> UnsupportedScope:
    return UnsupportedScope(f"'{ast.unparse(node)}' {reason} in a data scope. {LIMITS}.")


@dataclass(frozen=True)
class _Compiler:
    entity: Entity
    tables: Mapping[str, Table]
    variables: Mapping[str, Any]

    def predicate(self, node: ast.expr, negated: bool) -> ColumnElement[bool]:
        """Compile a condition, with `not` pushed down to the comparisons."""
        if isinstance(node, ast.BoolOp):
            parts = [self.predicate(value, negated) for value in node.values]
            return and_(*parts) if isinstance(node.op, ast.And) != negated else or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.predicate(node.operand, not negated)
        if isinstance(node, ast.Compare):
            operands = [self.operand(item) for item in (node.left, *node.comparators)]
            pairs = zip(node.ops, operands, operands[1:])
            parts = [self.leaf(type(operation), [left, right], negated, node) for operation, left, right in pairs]
            return or_(*parts) if negated else and_(*parts)
        if isinstance(node, ast.Call):
            named = isinstance(node.func, ast.Name) and node.func.id == "is_empty"
            if not named or len(node.args) != 1 or node.keywords:
                raise _unsupported(node, "calls a function other than is_empty(field)")
            return self.leaf("empty", [self.operand(node.args[0])], negated, node)
        return self.leaf("truth", [self.operand(node)], negated, node)

    def operand(self, node: ast.expr) -> _Operand:
        if isinstance(node, ast.Constant) and isinstance(node.value, _LITERALS):
            return _Value(node.value)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.operand(item) for item in node.elts]
            if not all(isinstance(item, _Value) for item in items):
                raise _unsupported(node, "lists a field, but a list may contain only literals and variables")
            return _Value(tuple(item.value for item in items if isinstance(item, _Value)))
        if isinstance(node, (ast.Name, ast.Attribute)):
            path: list[str] = []
            root: ast.expr = node
            while isinstance(root, ast.Attribute):
                path.insert(0, root.attr)
                root = root.value
            if isinstance(root, ast.Name):
                return self.name(node, root.id, tuple(path))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            sign: _Binary = (lambda _, value: -value) if isinstance(node.op, ast.USub) else operator.add
            return self.arithmetic(node, sign, _Value(0), self.operand(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return self.arithmetic(node, _ARITHMETIC[type(node.op)], self.operand(node.left), self.operand(node.right))
        if not isinstance(node, ast.Call):
            raise _unsupported(node, "is not supported")
        if isinstance(node.func, ast.Name) and node.func.id == "is_empty":
            raise _unsupported(node, "uses is_empty(field) as a value rather than as a condition")
        raise _unsupported(node, "calls a function other than is_empty(field)")

    def arithmetic(self, node: ast.expr, apply: _Binary, left: _Operand, right: _Operand) -> _Operand:
        if isinstance(left, _Value) and isinstance(right, _Value):
            try:
                return _Value(apply(left.value, right.value))
            except TypeError:
                raise _unsupported(node, "computes with values of the wrong type") from None
        known = [side for side in (left, right) if not isinstance(side, _Chain)]
        sides = [side.element if isinstance(side, _SqlTerm) else side.value for side in known]
        kinds = [side.type if isinstance(side, ColumnElement) else type(side) for side in sides]
        if len(sides) < 2 or not all(isinstance(kind, (Integer, Numeric, ExactDecimal)) or kind in (int, Decimal) for kind in kinds):
            raise _unsupported(node, "computes with something other than numbers of this record")
        # Exact decimals are scaled integers on SQLite: sums and differences keep the scale only
        # between columns of the same places, and a product would not.
        decimal_columns = [kind for kind in kinds if isinstance(kind, ExactDecimal)]
        if decimal_columns and (apply is operator.mul or len({kind.places for kind in decimal_columns}) > 1):
            raise _unsupported(node, "multiplies a decimal field, or adds decimal fields of different places")
        return _SqlTerm(apply(sides[0], sides[1]), strict=True)

    def name(self, node: ast.expr, root: str, path: tuple[str, ...]) -> _Operand:
        # Variables take precedence over fields, as when expressions are evaluated in Python. The
        # `state` variable is the record's own state, so here it is the column.
        if root != "state" and root in self.variables:
            value = self.variables[root]
            if root == "user" and path[:1] and path[0] not in USER_ATTRIBUTES:
                raise _unsupported(node, f"is not a user variable ({', '.join(USER_ATTRIBUTES)})")
            for attribute in path:
                value = value.get(attribute, _MISSING) if isinstance(value, Mapping) else getattr(value, attribute, _MISSING)
                if value is _MISSING or callable(value):
                    raise _unsupported(node, "is not a plain value of the variable")
            return _Value(value)
        table = self.tables[self.entity.name]
        field = self.entity.fields.get(root)
        if field is not None and field.type in ("child", "multi_reference"):
            raise _unsupported(node, f"uses a {field.type.replace('_', '-')} field, which has no column")
        if field is None and root not in _SYSTEM_COLUMNS:
            raise _unsupported(node, f"is neither a field of {self.entity.name} nor a variable")
        return self.field(node, table, table, root, path)

    def field(self, node: ast.expr, table: Table, source: FromClause, name: str, path: tuple[str, ...]) -> _Operand:
        """Resolve `name.path...` on a table, taking the columns from `source` (the table or an alias of it)."""
        if name + HASH_SUFFIX in table.c:
            raise _unsupported(node, f"uses the encrypted field {name}, which SQL cannot compare")
        if name not in table.c or name.endswith(HASH_SUFFIX) or name in _HIDDEN_COLUMNS:
            raise _unsupported(node, f"is not a field of {table.name}")
        if isinstance(table.c[name].type, JSON):
            raise _unsupported(node, f"uses {name}, which contains structured data (JSON)")
        if not path:
            return _SqlTerm(source.c[name])
        key = next(iter(table.c[name].foreign_keys), None)
        if key is None or key.column.table.name not in self.tables:
            raise _unsupported(node, f"takes an attribute of {name}, which is not a reference field")
        return _Chain(source.c[name], self.tables[key.column.table.name], path)

    def leaf(
        self, operation: type[ast.cmpop] | str, operands: list[_Operand], negated: bool, node: ast.expr
    ) -> ColumnElement[bool]:
        """Compile one comparison, yes/no test or is_empty call, or its `not` when `negated` is set."""
        for index, operand in enumerate(operands):
            if isinstance(operand, _Chain):
                alias = operand.table.alias()
                inner = self.field(node, operand.table, alias, operand.path[0], operand.path[1:])
                replaced = [*operands[:index], inner, *operands[index + 1:]]
                return operand.reference.in_(select(alias.c.id).where(self.leaf(operation, replaced, negated, node)))
        values = [operand.value for operand in operands if isinstance(operand, _Value)]
        terms = [operand for operand in operands if isinstance(operand, _SqlTerm)]
        if not terms:
            try:
                result = bool(_PYTHON_OPERATIONS[operation](*values))
            except TypeError:
                return false()
            return true() if result != negated else false()
        guards = [term.element.is_not(None) for term in terms if term.strict]
        if isinstance(operation, str):
            return and_(*guards, _test(operation, terms[0].element, negated, node))
        left, right = (operand for operand in operands if not isinstance(operand, _Chain))
        return and_(*guards, self.compare(operation, left, right, negated, node))

    def compare(
        self, operation: type[ast.cmpop], left: _Known, right: _Known, negated: bool, node: ast.expr
    ) -> ColumnElement[bool]:
        if operation in (ast.In, ast.NotIn):
            if not (isinstance(left, _SqlTerm) and isinstance(right, _Value) and isinstance(right.value, (list, tuple))):
                raise _unsupported(node, "uses 'in' without a list of values on its right")
            return _member(left.element, right.value, negated != (operation is ast.NotIn))
        if isinstance(left, _Value):
            left, right, operation = right, left, _MIRRORED.get(operation, operation)
        assert isinstance(left, _SqlTerm)
        if operation in (ast.Is, ast.IsNot) and not (isinstance(right, _Value) and right.value is None):
            raise _unsupported(node, "uses 'is' other than 'is None'")
        if operation in (ast.Eq, ast.NotEq, ast.Is, ast.IsNot):
            return _equal(left.element, right, negated != (operation in (ast.NotEq, ast.IsNot)))
        if isinstance(right, _Value) and right.value is None:
            return false()
        # NOTE: text is ordered by the database collation, which may differ from Python's code-point order.
        other = right.value if isinstance(right, _Value) else right.element
        condition: ColumnElement[bool] = _PYTHON_OPERATIONS[operation](left.element, other)
        return not_(condition) if negated else condition


def _test(operation: str, column: ColumnElement[Any], negated: bool, node: ast.expr) -> ColumnElement[bool]:
    """Compile a yes/no field used as a condition ("truth") or is_empty(field) ("empty")."""
    if operation == "truth":
        if not isinstance(column.type, Boolean):
            raise _unsupported(node, "tests a value that is not a yes/no field")
        return column.is_not(True) if negated else column.is_(True)
    if isinstance(column.type, String):
        return and_(column.is_not(None), column != "") if negated else or_(column.is_(None), column == "")
    return column.is_not(None) if negated else column.is_(None)


def _equal(column: ColumnElement[Any], other: _Known, negated: bool) -> ColumnElement[bool]:
    """Compile `column == other` as Python decides it, None equal to None."""
    if isinstance(other, _SqlTerm):
        return column.is_distinct_from(other.element) if negated else column.is_not_distinct_from(other.element)
    if other.value is None:
        return column.is_not(None) if negated else column.is_(None)
    return or_(column != other.value, column.is_(None)) if negated else column == other.value


def _member(column: ColumnElement[Any], values: tuple[Any, ...] | list[Any], negated: bool) -> ColumnElement[bool]:
    """Compile `column in values`. An empty list admits no row, and None in the list matches NULL."""
    present = [value for value in values if value is not None]
    has_none = len(present) < len(values)
    if negated:
        outside = or_(column.not_in(present), column.is_(None)) if present else true()
        return and_(outside, column.is_not(None)) if has_none else outside
    inside = column.in_(present) if present else false()
    return or_(inside, column.is_(None)) if has_none else inside
