"""The sandboxed expression language of guards, computed fields, rules and visibility.

Number literals with a decimal point are exact Decimals, like the money and percent
values they are compared with.
An expression is one Python expression restricted to literals, names, attribute
access, arithmetic, comparisons, boolean logic, if-else, lists and tuples, and calls
of the functions in FUNCTIONS. It is parsed once when the application loads and
evaluated with simpleeval, never with `eval`.
"""

from __future__ import annotations

import ast
import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping, cast

from simpleeval import EvalWithCompoundTypes

from metamodel.diagnostics import Text


def _years_between(start: datetime.date, end: datetime.date) -> int:
    """Count whole years from start to end, as an age is counted."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


def _days_between(start: datetime.date, end: datetime.date) -> int:
    return (end - start).days


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


#: Functions an expression may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "len": len,
    "min": min,
    "max": max,
    "round": round,
    "int": int,
    "str": str,
    "decimal": Decimal,
    "years_between": _years_between,
    "days_between": _days_between,
    "is_empty": _is_empty,
}

#: Names every expression may use besides the fields of its entity.
VARIABLES: dict[str, str] = {
    "today": "the business date",
    "now": "the current date and time",
    "user": "the acting user",
    "state": "the record's current flow state",
}

#: Python's syntax error messages that users meet most, in both languages.
_SYNTAX_REASONS: dict[str, Text] = {
    "invalid syntax": Text("invalid syntax", "语法无效"),
    "'(' was never closed": Text("'(' was never closed", "'(' 没有闭合"),
    "unmatched ')'": Text("unmatched ')'", "多余的 ')'"),
    "unterminated string literal (detected at line 1)": Text("a quote is not closed", "引号没有闭合"),
    "invalid syntax. Perhaps you forgot a comma?": Text("invalid syntax; perhaps a comma is missing", "语法无效；可能缺少逗号"),
    "invalid character '，' (U+FF0C)": Text("full-width comma '，'; use ','", "全角逗号 '，'；请改用 ','"),
    "invalid character '（' (U+FF08)": Text("full-width parenthesis '（'; use '('", "全角括号 '（'；请改用 '('"),
    "invalid character '）' (U+FF09)": Text("full-width parenthesis '）'; use ')'", "全角括号 '）'；请改用 ')'"),
}

#: Attributes of the `user` variable.
USER_ATTRIBUTES: tuple[str, ...] = ("id", "name", "roles", "org_unit", "org_units")

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp, ast.And, ast.Or,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp, ast.Call, ast.Name, ast.Load, ast.Attribute, ast.Constant, ast.List, ast.Tuple,
)

_NODE_WORDS: dict[type[ast.AST], Text] = {
    ast.Lambda: Text("lambda", "lambda 函数"),
    ast.ListComp: Text("a comprehension", "推导式"),
    ast.SetComp: Text("a comprehension", "推导式"),
    ast.DictComp: Text("a comprehension", "推导式"),
    ast.GeneratorExp: Text("a generator", "生成器"),
    ast.NamedExpr: Text("':='", "':='"),
    ast.Subscript: Text("subscripts ([...])", "下标 ([...])"),
    ast.Dict: Text("a dict literal", "字典常量"),
    ast.Set: Text("a set literal", "集合常量"),
    ast.JoinedStr: Text("an f-string", "f 字符串"),
    ast.Starred: Text("'*'", "'*'"),
    ast.Await: Text("await", "await"),
    ast.Yield: Text("yield", "yield"),
}


@dataclass(frozen=True)
class ExpressionProblem:
    """A problem inside an expression, at a 1-based line and 0-based column of its text."""

    code: str
    line: int
    offset: int
    params: Mapping[str, Any]


@dataclass(frozen=True)
class NameUse:
    """A name used in an expression, with the attribute chain that follows it."""

    name: str
    attributes: tuple[str, ...]
    line: int
    offset: int


@dataclass(frozen=True)
class Literal:
    """A text constant compared with a name, as in `status == 'open'` or `state in ['a', 'b']`."""

    name: str
    attributes: tuple[str, ...]
    value: str
    line: int
    offset: int


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed expression, ready to evaluate."""

    source: str
    tree: ast.Expression = field(repr=False)
    names: tuple[NameUse, ...] = ()
    #: Characters stripped from the start of the source before parsing.
    indent: int = 0
    literals: tuple[Literal, ...] = ()

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        """Evaluate with the given names bound; raise simpleeval's errors on bad operations."""
        # simpleeval adds its own entries to the functions mapping it is given, so pass a copy.
        evaluator = EvalWithCompoundTypes(functions=dict(FUNCTIONS), names=dict(names))
        return evaluator.eval(self.source, previously_parsed=ast.Expr(self.tree.body))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


def parse_expression(source: str) -> tuple[Expression | None, list[ExpressionProblem]]:
    """Parse and vet an expression; return it, or None with the problems found."""
    stripped = source.strip()
    indent = len(source) - len(source.lstrip())
    # Parentheses let an expression written over several YAML lines parse as one.
    wrapped = "\n" in stripped
    try:
        tree = ast.parse(f"({stripped}\n)" if wrapped else stripped, mode="eval")
    except SyntaxError as exc:
        return None, [_syntax_problem(exc, stripped, indent, wrapped)]
    if wrapped:
        _shift_first_line(tree)


    problems: list[ExpressionProblem] = []
    names: list[NameUse] = []
    called: set[int] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        line = getattr(node, "lineno", 1)
        offset = _character_offset(stripped, line, getattr(node, "col_offset", 0)) + (indent if line == 1 else 0)
        if isinstance(node, ast.Call):
            problems.extend(_check_call(node, line, offset))
            called.add(id(node.func))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            problems.append(ExpressionProblem("expr.E003", line, offset, {"found": "." + node.attr}))
        elif not isinstance(node, _ALLOWED_NODES):
            word = _NODE_WORDS.get(type(node), Text(type(node).__name__, type(node).__name__))
            problems.append(ExpressionProblem("expr.E003", line, offset, {"found": word}))
            continue  # the parts of a rejected construct would only repeat the problem
        pending.extend(ast.iter_child_nodes(node))

    if problems:
        problems.sort(key=lambda problem: (problem.line, problem.offset))
        return None, problems
    # ast.walk visits `a.b` before `a`, so marking the inner nodes keeps only whole chains.
    consumed = called
    for node in ast.walk(tree):
        if id(node) in consumed:
            continue
        use = _name_use(node)
        if use is None:
            continue
        inner: ast.AST = node
        while isinstance(inner, ast.Attribute):
            inner = inner.value
            consumed.add(id(inner))
        line = getattr(node, "lineno", 1)
        offset = _character_offset(stripped, line, getattr(node, "col_offset", 0)) + (indent if line == 1 else 0)
        names.append(NameUse(use[0], use[1], line, offset))
    literals = _compared_literals(tree, stripped, indent)
    _exact_decimals(tree, stripped)
    return Expression(source, tree, tuple(names), indent, literals), []


def _compared_literals(tree: ast.Expression, text: str, indent: int) -> tuple[Literal, ...]:
    """Collect the text constants compared with a name, to check them against choices and states."""
    found: list[Literal] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for left, right in zip(operands, operands[1:]):
            for named, constant in ((left, right), (right, left)):
                use = _name_use(named)
                if use is None:
                    continue
                items = constant.elts if isinstance(constant, (ast.List, ast.Tuple)) else [constant]
                for item in items:
                    if isinstance(item, ast.Constant) and isinstance(item.value, str):
                        line = getattr(item, "lineno", 1)
                        offset = _character_offset(text, line, item.col_offset) + (indent if line == 1 else 0)
                        found.append(Literal(use[0], use[1], item.value, line, offset))
    return tuple(found)


def _exact_decimals(tree: ast.Expression, text: str) -> None:
    """Replace float literals by Decimals of their exact text, in place.

    Money and percent values are Decimals, and a binary float such as 0.7 compares
    unequal to Decimal("0.7"), so `ltv <= 0.7` would be false at exactly 70%.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            segment = ast.get_source_segment(text, node)
            exact = Decimal(segment) if segment else Decimal(repr(node.value))
            node.value = cast(Any, exact)  # ast types Constant.value without Decimal; simpleeval returns it as is


def _syntax_problem(exc: SyntaxError, text: str, indent: int, wrapped: bool) -> ExpressionProblem:
    """Place a syntax error inside the expression's own text, at the end when Python gives no column."""
    lines = text.split("\n")
    line = min(exc.lineno or 1, len(lines))
    if exc.offset and (exc.lineno or 1) <= len(lines):
        offset = exc.offset - 1 - (1 if wrapped and line == 1 else 0)
    else:
        offset = len(lines[line - 1])
    offset = min(max(offset, 0), len(lines[line - 1]))
    reason = _SYNTAX_REASONS.get(exc.msg, Text(exc.msg, exc.msg))
    return ExpressionProblem("expr.E001", line, offset + (indent if line == 1 else 0), {"reason": reason})


def _shift_first_line(tree: ast.Expression) -> None:
    """Undo the opening parenthesis added before parsing: first-line columns move one to the left."""
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) == 1 and hasattr(node, "col_offset"):
            setattr(node, "col_offset", getattr(node, "col_offset") - 1)
            end = getattr(node, "end_col_offset", None)
            if getattr(node, "end_lineno", None) == 1 and end is not None:
                setattr(node, "end_col_offset", end - 1)


def _character_offset(text: str, line: int, byte_offset: int) -> int:
    """Convert the UTF-8 byte offset that ast reports into a character offset on that line."""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return byte_offset
    return len(lines[line - 1].encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _check_call(node: ast.Call, line: int, offset: int) -> list[ExpressionProblem]:
    if not isinstance(node.func, ast.Name):
        return [ExpressionProblem("expr.E003", line, offset, {"found": Text("a call of a method", "方法调用")})]
    if node.func.id not in FUNCTIONS:
        return [
            ExpressionProblem(
                "expr.E004", line, offset, {"found": node.func.id, "expected": sorted(FUNCTIONS)}
            )
        ]
    if node.keywords:
        return [ExpressionProblem("expr.E003", line, offset, {"found": Text("keyword arguments", "关键字参数")})]
    return []


def _name_use(node: ast.AST) -> tuple[str, tuple[str, ...]] | None:
    """Return the root name and attribute chain of `a.b.c`, for the outermost node only."""
    if isinstance(node, ast.Name):
        return node.id, ()
    if not isinstance(node, ast.Attribute):
        return None
    attributes: list[str] = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        attributes.insert(0, current.attr)
        current = current.value
    if isinstance(current, ast.Name):
        return current.id, tuple(attributes)
    return None
