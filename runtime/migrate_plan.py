"""Plan a migration: compare the generated tables with the live database.

The plan is built from Alembic's autogenerate comparison, limited to the tables the
application owns: those of its schema and those it created before (listed in the
`md_schema_table` registry). Tables of other software in the same database (Casbin's,
Huey's) are never compared, so they are never touched.

Each step describes in plain words what it does. A step is destructive when it drops a
table or column or narrows a type. A change that the stored values would not fit (a type,
a unique index, a removed choice) is a blocker, with the offending rows counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    true,
)
from sqlalchemy.types import TypeEngine

from metamodel import model as m
from metamodel.values import check_value
from runtime.schema import HASH_SUFFIX, ExactDecimal, Schema

#: Values read at a time when checking stored data against a new type.
CHECK_BATCH = 5_000


@dataclass(frozen=True)
class Step:
    """One change to the database, in the order it is applied."""

    kind: str
    table: str
    column: str | None = None
    #: The new name of a renamed column, the new type of a changed column, or an index name.
    detail: str | None = None
    destructive: bool = False
    #: The Alembic diff entry, or the Table to create.
    payload: Any = field(default=None, compare=False, repr=False)

    def describe(self, lang: str = "en") -> str:
        target = f"{self.table}.{self.column}" if self.column else self.table
        words = _STEP_WORDS[self.kind]
        text = words[0] if lang == "en" else words[1]
        return text.format(target=target, detail=self.detail or "")


@dataclass(frozen=True)
class Blocker:
    """A step that cannot be applied to the data already stored."""

    table: str
    column: str
    rows: int
    detail: str
    detail_zh: str | None = None

    def describe(self, lang: str = "en") -> str:
        if lang == "en":
            return f"{self.table}.{self.column}: {self.rows} stored row(s) do not fit {self.detail}; correct or clear them first"
        return f"{self.table}.{self.column}：已有 {self.rows} 行数据不符合 {self.detail_zh or self.detail}；请先修正或清空这些数据"


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    blockers: tuple[Blocker, ...]

    @property
    def destructive(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.destructive)

    @property
    def empty(self) -> bool:
        return not self.steps and not self.blockers


_STEP_WORDS: dict[str, tuple[str, str]] = {
    "add_table": ("create table {target}", "新建表 {target}"),
    "drop_table": ("drop table {target} and all its rows", "删除表 {target} 及其全部数据"),
    "add_column": ("add column {target} ({detail})", "新增列 {target}（{detail}）"),
    "drop_column": ("drop column {target} and its values", "删除列 {target} 及其数据"),
    "rename_column": ("rename column {target} to {detail}", "把列 {target} 重命名为 {detail}"),
    "change_type": ("change the type of {target} to {detail}", "把列 {target} 的类型改为 {detail}"),
    "narrow_type": ("narrow the type of {target} to {detail}", "把列 {target} 的类型收窄为 {detail}"),
    "add_index": ("add index {detail} on {target}", "在 {target} 上新建索引 {detail}"),
    "drop_index": ("drop index {detail} on {target}", "删除 {target} 上的索引 {detail}"),
    "add_foreign_key": ("add foreign key {detail} on {target}", "在 {target} 上新增外键 {detail}"),
    "drop_foreign_key": ("drop foreign key {detail} on {target}", "删除 {target} 上的外键 {detail}"),
}


def owned_tables(connection: Connection, schema: Schema) -> set[str]:
    """List the tables this application owns: its current ones and those it created earlier."""
    names = set(schema.owned_tables)
    if inspect(connection).has_table(schema.registry.name):
        names.update(connection.scalars(select(schema.registry.c.name)))
    return names


def plan_migration(connection: Connection, schema: Schema, model: m.AppModel) -> Plan:
    """Compare the schema with the database and return the steps and blockers, changing nothing."""
    owned = owned_tables(connection, schema)

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "table" or name in owned

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
    diffs = _flatten(compare_metadata(context, schema.metadata))
    renames = _renames(connection, schema, model)

    steps: list[Step] = []
    blockers: list[Blocker] = []
    new_tables: set[str] = set()
    renamed_away = {(table, old) for table, old, _ in renames}
    renamed_to = {(table, new) for table, _, new in renames}
    for table, old, new in renames:
        steps.append(Step("rename_column", table, old, new))

    for diff in diffs:
        kind = diff[0]
        if kind == "add_table":
            table = diff[1]
            new_tables.add(table.name)
            steps.append(Step("add_table", table.name, payload=table))
        elif kind == "remove_table":
            steps.append(Step("drop_table", diff[1].name, destructive=True, payload=diff))
        elif kind == "add_column":
            _, _, table_name, column = diff
            if (table_name, column.name) not in renamed_to:
                steps.append(Step("add_column", table_name, column.name, _type_text(column.type), payload=diff))
        elif kind == "remove_column":
            _, _, table_name, column = diff
            if (table_name, column.name) not in renamed_away:
                steps.append(Step("drop_column", table_name, column.name, destructive=True, payload=diff))
        elif kind == "modify_type":
            _, _, table_name, column_name, _, old_type, new_type = diff
            narrowing = _narrows(old_type, new_type)
            steps.append(
                Step(
                    "narrow_type" if narrowing else "change_type",
                    table_name,
                    column_name,
                    _type_text(new_type),
                    destructive=narrowing,
                    payload=diff,
                )
            )
            old_floats = isinstance(old_type, (Numeric, Float)) and not isinstance(old_type, ExactDecimal)
            if connection.dialect.name == "sqlite" and isinstance(new_type, ExactDecimal) and old_floats:
                # The old column stored binary floats; a cast to the scaled integers would lose the scale.
                stored = _count_values(connection, table_name, column_name)
                if stored:
                    blockers.append(Blocker(table_name, column_name, stored,
                                            "exact decimals (scaled integers): export the rows and import them again",
                                            "精确小数（按比例存储的整数）：请导出这些数据后重新导入"))
                    continue
            blocker = _check_stored_values(connection, schema, model, table_name, column_name, new_type)
            if blocker is not None:
                blockers.append(blocker)
        elif kind == "add_index":
            index: Index = diff[1]
            if index.table is not None and index.table.name not in new_tables:
                steps.append(Step("add_index", index.table.name, _columns_of(index), index.name, payload=diff))
                if index.unique:
                    repeated = _count_repeated(connection, index)
                    if repeated:
                        blockers.append(Blocker(index.table.name, _columns_of(index), repeated,
                                                "a unique value per live record", "每条有效记录的值唯一"))
        elif kind == "remove_index":
            index = diff[1]
            if index.table is not None:
                steps.append(Step("drop_index", index.table.name, _columns_of(index), index.name, payload=diff))
        elif kind == "add_fk":
            constraint = diff[1]
            if constraint.table.name not in new_tables:
                steps.append(Step("add_foreign_key", constraint.table.name, detail=constraint.name, payload=diff))
        elif kind == "remove_fk":
            constraint = diff[1]
            steps.append(Step("drop_foreign_key", constraint.table.name, detail=constraint.name, payload=diff))
        # Nullability, defaults and comments are left as the database has them.
    blockers.extend(_unknown_choices(connection, model, owned, new_tables))
    return Plan(tuple(steps), tuple(blockers))


def _unknown_choices(connection: Connection, model: m.AppModel, owned: set[str], new_tables: set[str]) -> list[Blocker]:
    """Block removing an enum choice that stored records still use: they could no longer be saved."""
    inspector = inspect(connection)
    blockers: list[Blocker] = []
    for entity in model.entities.values():
        if entity.name in new_tables or entity.name not in owned or not inspector.has_table(entity.name):
            continue
        existing = {column["name"] for column in inspector.get_columns(entity.name)}
        choice_fields = [field for field in entity.fields.values() if field.type == "enum" and field.name in existing]
        if not choice_fields:
            continue
        table = Table(entity.name, MetaData(), autoload_with=connection)
        for choice_field in choice_fields:
            column = table.c[choice_field.name]
            stray = connection.scalar(
                select(func.count()).select_from(table).where(column.is_not(None), column.not_in(choice_field.choice_values))
            )
            if stray:
                allowed = ", ".join(choice_field.choice_values)
                blockers.append(Blocker(entity.name, choice_field.name, int(stray), f"the choices {allowed}", f"可选值 {allowed}"))
    return blockers


def _flatten(diffs: Iterable[Any]) -> list[Any]:
    """Alembic nests column modifications in lists; return one flat list of diff tuples."""
    flat: list[Any] = []
    for diff in diffs:
        if isinstance(diff, list):
            flat.extend(item for item in diff if item[0] == "modify_type")
        else:
            flat.append(diff)
    return flat


def _renames(connection: Connection, schema: Schema, model: m.AppModel) -> list[tuple[str, str, str]]:
    """Find the columns to rename: the field's old name exists in the database and its new name does not."""
    inspector = inspect(connection)
    renames: list[tuple[str, str, str]] = []
    for entity in model.entities.values():
        if not inspector.has_table(entity.name):
            continue
        existing = {column["name"] for column in inspector.get_columns(entity.name)}
        for renamed in entity.fields.values():
            old = renamed.renamed_from
            if old is None or old not in existing or renamed.name in existing:
                continue
            renames.append((entity.name, old, renamed.name))
            if renamed.encrypted and old + HASH_SUFFIX in existing:
                renames.append((entity.name, old + HASH_SUFFIX, renamed.name + HASH_SUFFIX))
    return renames


def _columns_of(index: Index) -> str:
    return ", ".join(str(getattr(expression, "name", expression)) for expression in index.expressions)


def _type_text(column_type: TypeEngine[Any]) -> str:
    try:
        return str(column_type.compile())
    except Exception:  # noqa: BLE001 - some generic types only compile for a dialect
        return type(column_type).__name__


def _narrows(old: TypeEngine[Any], new: TypeEngine[Any]) -> bool:
    """Tell whether `new` can hold fewer values than `old`; changes between type families are not narrowing."""
    if isinstance(old, String) and isinstance(new, String):
        old_length = None if isinstance(old, Text) else old.length
        new_length = None if isinstance(new, Text) else new.length
        return new_length is not None and (old_length is None or new_length < old_length)
    if isinstance(old, Integer) and isinstance(new, Integer):
        return isinstance(old, BigInteger) and not isinstance(new, BigInteger)
    if isinstance(old, Numeric) and isinstance(new, Numeric):
        old_scale, new_scale = old.scale or 0, new.scale or 0
        old_digits = (old.precision or 0) - old_scale
        new_digits = (new.precision or 0) - new_scale
        return new_scale < old_scale or (bool(old.precision) and new_digits < old_digits)
    return False


def _check_stored_values(
    connection: Connection, schema: Schema, model: m.AppModel, table_name: str, column_name: str, new_type: TypeEngine[Any]
) -> Blocker | None:
    """Count stored values that the field's new declaration rejects."""
    field = field_for(model, table_name, column_name)
    if field is None:
        return None
    table = Table(table_name, MetaData(), autoload_with=connection)
    column = table.c[column_name]
    failures = 0
    query = select(column).where(column.is_not(None)).execution_options(yield_per=CHECK_BATCH)
    result = connection.execute(query)
    for (value,) in result:
        text_value = value if isinstance(value, (str, int)) or value is None else str(value)
        _, problems = check_value(field, text_value)
        if problems:
            failures += 1
    if failures == 0:
        return None
    return Blocker(table_name, column_name, failures, _type_text(new_type))


def _count_repeated(connection: Connection, index: Index) -> int:
    """Count the live rows whose values in the index's columns repeat, which a unique index would reject."""
    table = Table(index.table.name, MetaData(), autoload_with=connection)  # type: ignore[union-attr]
    columns = [table.c[str(getattr(expression, "name", expression))] for expression in index.expressions]
    live = table.c.deleted_at.is_(None) if "deleted_at" in table.c else true()
    grouped = select(func.count().label("rows")).where(live, *(column.is_not(None) for column in columns))
    repeats = grouped.group_by(*columns).having(func.count() > 1).subquery()
    return int(connection.scalar(select(func.coalesce(func.sum(repeats.c.rows), 0))) or 0)


def _count_values(connection: Connection, table_name: str, column_name: str) -> int:
    table = Table(table_name, MetaData(), autoload_with=connection)
    return int(connection.scalar(select(func.count()).select_from(table).where(table.c[column_name].is_not(None))) or 0)


def field_for(model: m.AppModel, table_name: str, column_name: str) -> m.Field | None:
    entity_name, _, child_name = table_name.partition("__")
    entity = model.entities.get(entity_name)
    if entity is None:
        return None
    if not child_name:
        return entity.fields.get(column_name)
    parent = entity.fields.get(child_name)
    if parent is None:
        return None
    return next((item for item in parent.fields if item.name == column_name), None)
