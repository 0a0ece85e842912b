"""Apply a migration plan: safe steps always, destructive ones only when asked and after a backup.

Everything happens in one transaction, so a failure leaves the database as it was.
On SQLite, altering a table means copying it (Alembic's batch mode), which would fire
foreign-key actions, so foreign keys are switched off for the migration and checked
with `PRAGMA foreign_key_check` before the commit.
"""

from __future__ import annotations

import datetime
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Connection, Engine, MetaData, Table, cast, column, delete, insert, select, update
from sqlalchemy.dialects import postgresql

from metamodel import model as m
from metamodel.values import check_value
from runtime.migrate_plan import Plan, Step, field_for, plan_migration
from runtime.schema import Schema

logger = logging.getLogger(__name__)

_ALTER_KINDS = ("rename_column", "add_column", "drop_foreign_key", "change_type", "narrow_type", "drop_column", "add_foreign_key")


class MigrationRefused(Exception):
    """Raised when a plan has blockers, or destructive steps that were not allowed; nothing was changed."""

    def __init__(self, plan: Plan, reason: str) -> None:
        super().__init__(reason)
        self.plan = plan
        self.reason = reason


@dataclass(frozen=True)
class MigrationResult:
    plan: Plan
    applied: bool
    #: Folder holding the backup taken before destructive steps.
    backup: Path | None = None


def plan(engine: Engine, schema: Schema, model: m.AppModel) -> Plan:
    """Return the plan without changing anything."""
    with engine.connect() as connection:
        return plan_migration(connection, schema, model)


def migrate(
    engine: Engine,
    schema: Schema,
    model: m.AppModel,
    *,
    backup_root: Path,
    allow_destructive: bool = False,
) -> MigrationResult:
    """Bring the database in line with the schema; raise MigrationRefused without changing anything when unsafe."""
    with _migration_connection(engine) as connection:
        with connection.begin():
            current = plan_migration(connection, schema, model)
            if current.blockers:
                raise MigrationRefused(current, "stored data does not fit the new types")
            if current.destructive and not allow_destructive:
                raise MigrationRefused(current, "the plan drops or narrows data; pass --allow-destructive to apply it")
            if current.empty:
                _register(connection, schema, set())
                return MigrationResult(current, applied=False)

            backup = None
            if current.destructive:
                backup = _back_up(connection, engine, current, backup_root)
            _apply(connection, schema, current)
            _fill_defaults(connection, schema, model, current)
            dropped = {step.table for step in current.steps if step.kind == "drop_table"}
            _register(connection, schema, dropped)
            if connection.dialect.name == "sqlite":
                violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if violations:
                    raise RuntimeError(f"the migration would leave {len(violations)} broken foreign key(s); nothing was changed")
    for step in current.steps:
        logger.info("migration step applied: %s", step.describe())
    return MigrationResult(current, applied=True, backup=backup)


class _migration_connection:
    """A connection with SQLite's foreign-key enforcement off, restored on exit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def __enter__(self) -> Connection:
        self.connection = self.engine.connect()
        if self.connection.dialect.name == "sqlite":
            # PRAGMA foreign_keys is ignored inside a transaction, so it goes straight to the driver.
            self.connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        return self.connection

    def __exit__(self, *exc: object) -> None:
        assert self.connection is not None
        if self.connection.dialect.name == "sqlite":
            self.connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
        self.connection.close()


def _apply(connection: Connection, schema: Schema, plan: Plan) -> None:
    operations = Operations(MigrationContext.configure(connection))

    # Alembic's diff contains a copy of each new table without its indexes, so create the schema's own.
    for step in plan.steps:
        if step.kind == "add_table":
            schema.metadata.tables[step.table].create(connection)

    by_table: dict[str, list[Step]] = {}
    for step in plan.steps:
        if step.kind in _ALTER_KINDS:
            by_table.setdefault(step.table, []).append(step)
    for table_name, steps in by_table.items():
        steps.sort(key=lambda item: _ALTER_KINDS.index(item.kind))
        with operations.batch_alter_table(table_name, recreate="auto") as batch:
            for step in steps:
                _alter(batch, connection, step)

    for step in plan.steps:
        if step.kind == "add_index":
            step.payload[1].create(connection)
        elif step.kind == "drop_index":
            operations.drop_index(step.detail or "", table_name=step.table)
    for step in plan.steps:
        if step.kind == "drop_table":
            operations.drop_table(step.table)


def _fill_defaults(connection: Connection, schema: Schema, model: m.AppModel, plan: Plan) -> None:
    """Give the rows that existed before a new column its field's default, as new records get it."""
    for step in plan.steps:
        if step.kind != "add_column" or step.column is None:
            continue
        field = field_for(model, step.table, step.column)
        if field is None or field.default is None or field.encrypted or field.computed is not None:
            continue
        value, problems = check_value(field, field.default)
        if problems or step.table not in schema.metadata.tables:
            continue
        table = schema.metadata.tables[step.table]
        column = table.c[step.column]
        filled = connection.execute(update(table).where(column.is_(None)).values({column: value})).rowcount
        logger.info("filled %s existing row(s) of %s.%s with the default", filled, step.table, step.column)


def _alter(batch: Any, connection: Connection, step: Step) -> None:
    if step.kind == "rename_column":
        batch.alter_column(step.column, new_column_name=step.detail)
    elif step.kind == "add_column":
        source: Column[Any] = step.payload[3]
        # A server default (system tables declare some) also fills the rows that exist already.
        default = getattr(source.server_default, "arg", None)
        batch.add_column(Column(source.name, source.type, nullable=True, server_default=default))
    elif step.kind == "drop_column":
        batch.drop_column(step.column)
    elif step.kind in ("change_type", "narrow_type"):
        _, _, _, column_name, _, old_type, new_type = step.payload
        using = str(cast(column(column_name), new_type).compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
        batch.alter_column(column_name, type_=new_type, existing_type=old_type, postgresql_using=using)
    elif step.kind == "add_foreign_key":
        constraint = step.payload[1]
        element = next(iter(constraint.elements))
        batch.create_foreign_key(
            constraint.name,
            element.column.table.name,
            [item.parent.name for item in constraint.elements],
            [item.column.name for item in constraint.elements],
            ondelete=constraint.ondelete,
        )
    elif step.kind == "drop_foreign_key":
        batch.drop_constraint(step.detail, type_="foreignkey")


def _register(connection: Connection, schema: Schema, dropped: set[str]) -> None:
    """Record every table the schema owns, and forget the ones just dropped."""
    registry = schema.registry
    known = set(connection.scalars(select(registry.c.name)))
    missing = sorted(schema.owned_tables - known)
    if missing:
        connection.execute(insert(registry), [{"name": name} for name in missing])
    if dropped:
        connection.execute(delete(registry).where(registry.c.name.in_(sorted(dropped))))


def _back_up(connection: Connection, engine: Engine, plan: Plan, backup_root: Path) -> Path:
    """Write every table a destructive step touches to JSON Lines; on SQLite also copy the whole file."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = backup_root / f"migration-{stamp}"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    if connection.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        target = sqlite3.connect(folder / "database.sqlite")
        with target:
            connection.connection.dbapi_connection.backup(target)  # type: ignore[union-attr]
        target.close()

    for name in sorted({step.table for step in plan.destructive}):
        table = Table(name, MetaData(), autoload_with=connection)
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as stream:
            for row in connection.execute(select(table)).mappings():
                stream.write(json.dumps(dict(row), ensure_ascii=False, default=str) + "\n")
    # Backups hold the same personal data as the database: readable by their owner only.
    for path in folder.iterdir():
        path.chmod(0o600)
    logger.info("backup before destructive migration written to %s", folder)
    return folder

