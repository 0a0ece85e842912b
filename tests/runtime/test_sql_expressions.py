"""Scope expressions compiled to SQL select the rows that the same expression admits in Python."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, Table, func, insert, select, update

from metamodel import load_app
from metamodel.expressions import Expression, parse_expression
from metamodel.model import AppModel
from runtime.access import Actor
from runtime.database import make_engine
from runtime.schema import build_schema
from runtime.sql_expressions import LIMITS, UnsupportedScope, compile_predicate
from tests.runtime.conftest import write_app

APP: dict[str, str | None] = {
    "app.yaml": """
        name: scopes
        label: {zh-CN: 范围, en: Scopes}
    """,
    "entities/region.yaml": """
        name: region
        label: {zh-CN: 区域, en: Region}
        fields:
          - {name: code, type: string, label: {zh-CN: 编码, en: Code}, required: true}
          - {name: unit, type: string, label: {zh-CN: 单位, en: Unit}}
    """,
    "entities/dealer.yaml": """
        name: dealer
        label: {zh-CN: 经销商, en: Dealer}
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true}
          - {name: region, type: reference, entity: region, label: {zh-CN: 区域, en: Region}}
          - {name: active, type: boolean, label: {zh-CN: 有效, en: Active}}
          - {name: licence, type: resident_id, label: {zh-CN: 证件, en: Licence}, encrypted: true}
    """,
    "entities/claim.yaml": """
        name: claim
        label: {zh-CN: 索赔, en: Claim}
        fields:
          - {name: title, type: string, label: {zh-CN: 标题, en: Title}, required: true}
          - {name: status, type: enum, label: {zh-CN: 状态, en: Status},
             choices: [{value: open, label: {zh-CN: 开, en: Open}}, {value: submitted, label: {zh-CN: 已交, en: Submitted}},
                       {value: closed, label: {zh-CN: 关, en: Closed}}]}
          - {name: amount, type: money, label: {zh-CN: 金额, en: Amount}}
          - {name: cost, type: money, label: {zh-CN: 成本, en: Cost}}
          - {name: quantity, type: integer, label: {zh-CN: 数量, en: Quantity}}
          - {name: dealer, type: reference, entity: dealer, label: {zh-CN: 经销商, en: Dealer}}
          - {name: parent, type: reference, entity: claim, label: {zh-CN: 上级, en: Parent}}
          - {name: urgent, type: boolean, label: {zh-CN: 紧急, en: Urgent}}
          - {name: note, type: text, label: {zh-CN: 备注, en: Note}}
          - {name: remark, type: text, label: {zh-CN: 说明, en: Remark}}
          - {name: due_on, type: date, label: {zh-CN: 到期, en: Due on}}
          - {name: photo, type: attachment, label: {zh-CN: 照片, en: Photo}}
          - {name: id_number, type: resident_id, label: {zh-CN: 身份证, en: ID number}, encrypted: true}
          - {name: regions, type: multi_reference, entity: region, label: {zh-CN: 区域, en: Regions}}
          - name: lines
            type: child
            label: {zh-CN: 明细, en: Lines}
            fields:
              - {name: item, type: string, label: {zh-CN: 项目, en: Item}}
    """,
    "flows/claim_flow.yaml": """
        name: claim_flow
        entity: claim
        label: {zh-CN: 索赔流程, en: Claim flow}
        states:
          - {name: draft, label: {zh-CN: 草稿, en: Draft}, initial: true}
          - {name: submitted, label: {zh-CN: 已提交, en: Submitted}}
          - {name: closed, label: {zh-CN: 已关闭, en: Closed}, final: true}
        transitions:
          - {name: submit, label: {zh-CN: 提交, en: Submit}, from: draft, to: submitted}
          - {name: close, label: {zh-CN: 关闭, en: Close}, from: submitted, to: closed}
    """,
}

EARLY = datetime.datetime(2024, 1, 1, 9, 0, tzinfo=datetime.timezone.utc)
LATE = datetime.datetime(2024, 3, 1, 9, 0, tzinfo=datetime.timezone.utc)
USER = Actor(id="u1", name="张三", roles=("clerk", "auditor"), org_unit="sales", org_units=("hr", "it"))
LONER = Actor(id="u9", name="李四", roles=(), org_unit=None, org_units=())
TODAY = datetime.date(2024, 2, 1)
NOW = datetime.datetime(2024, 2, 1, 12, 0, tzinfo=datetime.timezone.utc)

REGIONS = [{"id": 1, "code": "north", "unit": "north_unit"}, {"id": 2, "code": "south", "unit": None}]
DEALERS = [
    {"id": 1, "name": "Alpha", "region": 1, "active": True, "org_unit": "sales"},
    {"id": 2, "name": "Beta", "region": 2, "active": False, "org_unit": "it"},
    {"id": 3, "name": "Gamma", "region": None, "active": None, "org_unit": None},
]
_CLAIM_COLUMNS = (
    "id", "title", "status", "amount", "cost", "quantity", "dealer", "parent", "urgent", "note", "remark",
    "due_on", "org_unit", "created_by", "state", "created_at",
)
CLAIMS: list[dict[str, Any]] = [
    dict(zip(_CLAIM_COLUMNS, row))
    for row in [
        (1, "A", "open", Decimal(100), Decimal(40), 1, 1, None,
         True, "x", "x", datetime.date(2024, 1, 10), "sales", "u1", "draft", EARLY),
        (2, "B", "submitted", Decimal(250000), Decimal(10), 5, 2, 1,
         False, "", None, datetime.date(2024, 2, 1), "it", "u2", "submitted", EARLY),
        (3, "C", "closed", Decimal(200000), None, 2, 3, 2,
         None, None, None, None, "sales", "u1", "closed", EARLY),
        (4, "D", None, None, Decimal(5), None, None, 1,
         True, "y", "q", datetime.date(2024, 3, 1), None, None, None, EARLY),
        (5, "E", "open", Decimal(0), Decimal(0), 3, 1, None,
         False, "z", "z", datetime.date(2024, 1, 10), "hr", "u3", "draft", LATE),
    ]
]
ALL = {1, 2, 3, 4, 5}


@dataclass
class Claims:
    model: AppModel
    tables: dict[str, Table]
    engine: Engine

    @property
    def table(self) -> Table:
        return self.tables["claim"]

    def selected(self, source: str, actor: Actor = USER) -> set[int]:
        predicate = compile_predicate(parse(source), self.model.entities["claim"], self.tables, variables(actor))
        with self.engine.connect() as connection:
            return set(connection.scalars(select(self.table.c.id).where(predicate)))


def parse(source: str) -> Expression:
    expression, problems = parse_expression(source)
    assert expression is not None, problems
    return expression


def variables(actor: Actor) -> dict[str, Any]:
    return {"user": actor, "today": TODAY, "now": NOW}


def _row(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    system = {"created_at": EARLY, "updated_at": EARLY, "version": 1}
    return {**system, **{name: value for name, value in values.items() if name in table.c}}


@pytest.fixture
def claims(tmp_path: Path, database_url: str) -> Iterator[Claims]:
    model = load_app(write_app(tmp_path / "app", APP))
    schema = build_schema(model)
    tables = {name: entity.table for name, entity in schema.entities.items()}
    engine = make_engine(database_url)
    try:
        schema.metadata.create_all(engine)
        with engine.begin() as connection:
            for name, rows in (("region", REGIONS), ("dealer", DEALERS), ("claim", CLAIMS)):
                connection.execute(insert(tables[name]), [_row(tables[name], values) for values in rows])
        yield Claims(model, tables, engine)
    finally:
        engine.dispose()


def python_selected(source: str, actor: Actor = USER) -> set[int]:
    """Evaluate the expression row by row in Python; a row whose evaluation fails is out of scope."""
    regions = {row["id"]: SimpleNamespace(**row) for row in REGIONS}
    dealers = {row["id"]: SimpleNamespace(**{**row, "region": regions.get(row["region"])}) for row in DEALERS}
    claims = {row["id"]: SimpleNamespace(**{**row, "dealer": dealers.get(row["dealer"])}) for row in CLAIMS}
    expression = parse(source)
    selected: set[int] = set()
    for row in CLAIMS:
        names = {**row, "dealer": dealers.get(row["dealer"]), "parent": claims.get(row["parent"]), **variables(actor)}
        try:
            if expression.evaluate(names):
                selected.add(row["id"])
        except Exception:  # noqa: BLE001 - a comparison Python cannot make leaves the row out
            continue
    return selected


CASES: list[tuple[str, set[int]]] = [
    # variables of the user
    ("org_unit in user.org_units", {2, 5}),
    ("org_unit == user.org_unit", {1, 3}),
    ("user.org_unit == org_unit", {1, 3}),
    ("created_by == user.id or state == 'submitted'", {1, 2, 3}),
    ("state == 'submitted' and org_unit in user.org_units", {2}),
    ("'auditor' in user.roles", ALL),
    ("'manager' in user.roles or org_unit == 'it'", {2}),
    ("title == user.name", set()),
    # comparisons, chained and mirrored
    ("amount <= 200000 and status != 'closed'", {1, 5}),
    ("0 < amount <= 200000", {1, 3}),
    ("100 <= amount", {1, 2, 3}),
    ("200000 >= amount", {1, 3, 5}),
    ("amount == 200000.0", {3}),
    ("amount > 99.5 and amount < 100.5", {1}),
    ("not (0 < amount <= 200000)", {2, 5}),
    ("quantity >= 2 and quantity != 3", {2, 3}),
    ("id in [1, 3]", {1, 3}),
    ("due_on < today", {1, 5}),
    ("due_on >= today", {2, 4}),
    # empty values follow Python
    ("status != 'closed'", {1, 2, 4, 5}),
    ("not (status == 'closed')", {1, 2, 4, 5}),
    ("status == 'closed'", {3}),
    ("not (amount > 100)", {1, 5}),
    ("status == 'open' or not (quantity >= 2)", {1, 5}),
    ("note is None", {3}),
    ("note is not None", {1, 2, 4, 5}),
    ("note == None", {3}),
    ("None != note", {1, 2, 4, 5}),
    ("not (note is None)", {1, 2, 4, 5}),
    ("is_empty(note)", {2, 3}),
    ("not is_empty(note)", {1, 4, 5}),
    ("is_empty(amount)", {4}),
    ("is_empty(dealer) or is_empty(cost)", {3, 4}),
    ("note == remark", {1, 3, 5}),
    ("note != remark", {2, 4}),
    ("not (note == remark)", {2, 4}),
    # in and not in
    ("status not in ['closed', 'submitted']", {1, 4, 5}),
    ("status in ('open', None)", {1, 4, 5}),
    ("status not in ('open', None)", {2, 3}),
    ("not (status in ['open'])", {2, 3, 4}),
    ("status in []", set()),
    ("status not in []", ALL),
    ("dealer.id in [1, 2]", {1, 2, 5}),
    # yes/no fields
    ("urgent", {1, 4}),
    ("not urgent", {2, 3, 5}),
    ("urgent == True", {1, 4}),
    ("urgent != True", {2, 3, 5}),
    ("urgent and dealer.active", {1}),
    # reference chains
    ("dealer.org_unit == user.org_unit", {1, 5}),
    ("dealer.org_unit in user.org_units", {2}),
    ("dealer.name != 'Alpha'", {2, 3}),
    ("not (dealer.name == 'Alpha')", {2, 3}),
    ("dealer.active", {1, 5}),
    ("not dealer.active", {2, 3}),
    ("dealer.region.code == 'north'", {1, 5}),
    ("dealer.region.code in ['north', 'east']", {1, 5}),
    ("dealer.region.unit is None", {2}),
    ("not (dealer.region.unit is None)", {1, 5}),
    ("is_empty(dealer.region.unit)", {2}),
    ("dealer.id == 2 or dealer.region.id == 1", {1, 2, 5}),
    ("parent.state == 'draft'", {2, 4}),
    ("parent.amount < amount", {2}),
    ("parent.org_unit != org_unit", {2, 3, 4}),
    ("parent.dealer.name == 'Alpha' and dealer.name != 'Alpha'", {2}),
    ("dealer.org_unit != parent.dealer.org_unit", {2, 3}),
    ("dealer.name == dealer.name and dealer.active != parent.dealer.active", {2, 3}),
    # arithmetic between numbers of the record
    ("amount - cost > 50", {1, 2}),
    ("not (amount - cost > 50)", {5}),
    ("amount - cost == 0", {5}),
    ("amount - cost != 0", {1, 2}),
    ("quantity * 2 >= 6", {2, 5}),
    ("-amount < -150", {2, 3}),
    ("+quantity == +3", {5}),
    ("amount > 100 + 50", {2, 3}),
    # values known before the query
    ("True", ALL),
    ("False", set()),
    ("1 == 1", ALL),
    ("user.org_unit == 'sales'", ALL),
    ("not user.org_unit", set()),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_scope_selects_what_python_admits(claims: Claims, source: str, expected: set[int]) -> None:
    assert claims.selected(source) == expected
    assert python_selected(source) == expected


def test_empty_list_variable_admits_no_row(claims: Claims) -> None:
    assert claims.selected("org_unit in user.org_units", LONER) == set()
    assert claims.selected("org_unit not in user.org_units", LONER) == ALL
    assert python_selected("org_unit not in user.org_units", LONER) == ALL


def test_user_without_unit_matches_empty_units(claims: Claims) -> None:
    assert claims.selected("org_unit == user.org_unit", LONER) == {4}
    assert python_selected("org_unit == user.org_unit", LONER) == {4}


def test_failed_comparison_leaves_other_branch(claims: Claims) -> None:
    # Python stops at `amount > 5` for claim 4 (no amount); SQL still reads the urgent flag.
    assert claims.selected("amount > 5 or urgent") == {1, 2, 3, 4}
    assert python_selected("amount > 5 or urgent") == {1, 2, 3}
    # A comparison of two values Python cannot order is false, and the other branch decides.
    assert claims.selected("user.org_unit < 5 or urgent") == {1, 4}
    assert python_selected("user.org_unit < 5 or urgent") == set()


def test_reference_column_compares_by_id(claims: Claims) -> None:
    assert claims.selected("dealer in [1, 2]") == {1, 2, 5}
    assert claims.selected("dealer == None or parent == 2") == {3, 4}
    assert claims.selected("dealer.region == 1") == {1, 5}
    assert claims.selected("dealer.region != 1") == {2, 3}


def test_datetime_variable(claims: Claims) -> None:
    assert claims.selected("created_at <= now") == {1, 2, 3, 4}
    assert claims.selected("created_at > now and deleted_at is None") == {5}


def test_values_are_bound_as_parameters(claims: Claims) -> None:
    entity = claims.model.entities["claim"]
    predicate = compile_predicate(
        parse("org_unit == user.org_unit or dealer.name in ['Alpha'] or title == user.name"), entity, claims.tables, variables(USER)
    )
    text = str(select(claims.table.c.id).where(predicate).compile(claims.engine))
    assert "sales" not in text
    assert "Alpha" not in text
    assert "张三" not in text
    assert text.count("FROM dealer") == 1


def test_scope_works_inside_count_and_update(claims: Claims) -> None:
    entity = claims.model.entities["claim"]
    predicate = compile_predicate(parse("parent.amount < amount or dealer.org_unit == 'sales'"), entity, claims.tables, variables(USER))
    with claims.engine.begin() as connection:
        assert connection.scalar(select(func.count()).select_from(claims.table).where(predicate)) == 3
        changed = connection.execute(update(claims.table).where(predicate).values(remark="scoped"))
        assert changed.rowcount == 3
        marked = set(connection.scalars(select(claims.table.c.id).where(claims.table.c.remark == "scoped")))
    assert marked == {1, 2, 5}


UNSUPPORTED: list[tuple[str, str]] = [
    ("len(title) > 3", "calls a function other than is_empty"),
    ("is_empty(note, remark)", "calls a function other than is_empty"),
    ("is_empty(note) == True", "uses is_empty(field) as a value"),
    ("amount / 2 > 1", "'amount / 2' is not supported"),
    ("amount % 2 == 1", "is not supported"),
    ("title + 'x' == 'Ax'", "computes with something other than numbers"),
    ("dealer.region + 1 > 1", "computes with something other than numbers"),
    ("due_on - today > 1", "computes with something other than numbers"),
    ("today - 1 > due_on", "computes with values of the wrong type"),
    ("status == -'x'", "computes with values of the wrong type"),
    ("-note == 'x'", "computes with something other than numbers"),
    ("'a' if urgent else 'b'", "is not supported"),
    ("(amount > 1) == True", "is not supported"),
    ("title.size == 1", "title, which is not a reference field"),
    ("dealer.region.code.size == 1", "code, which is not a reference field"),
    ("id_number == 'x'", "encrypted field id_number"),
    ("dealer.licence == 'x'", "encrypted field licence"),
    ("regions == 1", "multi-reference field"),
    ("lines == 1", "child field"),
    ("photo == 1", "structured data"),
    ("dealer.nothing == 1", "is not a field of dealer"),
    ("unknown == 1", "neither a field of claim nor a variable"),
    ("flow_version == 'x'", "neither a field of claim nor a variable"),
    ("user.password == 'x'", "is not a user variable"),
    ("today.replace == 1", "is not a plain value of the variable"),
    ("title in note", "'in' without a list"),
    ("org_unit in [org_unit, 'x']", "lists a field"),
    ("note is user.id", "'is' other than 'is None'"),
    ("amount", "not a yes/no field"),
    ("dealer.name", "not a yes/no field"),
]


@pytest.mark.parametrize(("source", "reason"), UNSUPPORTED)
def test_unsupported_construct_is_named(claims: Claims, source: str, reason: str) -> None:
    with pytest.raises(UnsupportedScope) as raised:
        claims.selected(source)
    message = str(raised.value)
    assert reason in message
    assert LIMITS in message
    assert isinstance(raised.value, ValueError)
