"""Build SQLAlchemy Core tables from an AppModel.

Every entity becomes a table named after it, with the system columns first. A child
table field becomes the table `<entity>__<field>` with a parent key and a position;
a multi-reference field becomes the link table `<entity>__<field>`. An encrypted field
is stored as a ciphertext token with a keyed hash beside it in `<field>__hash`, which
carries the field's unique and index constraints. Tables whose names start with
`md_` belong to the runtime itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Mapping

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from metamodel import model as m
from runtime.flow_tables import FlowTables, flow_tables
from runtime.callback_tables import callback_table
from runtime.imports_tables import import_table
from runtime.export_job_tables import export_job_table
from runtime.job_tables import job_lock_table, job_run_table
from runtime.printing_tables import print_calibration_table

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Prefix of the tables the runtime itself owns (audit log, schema registry).
SYSTEM_PREFIX = "md_"

#: An integer primary key that autoincrements on SQLite (INTEGER) and PostgreSQL (BIGINT).
ID_TYPE: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

#: Column name suffix of the keyed hash beside an encrypted field.
HASH_SUFFIX = "__hash"

#: Text column holding the searchable fields with their pinyin, for the search box.
SEARCH_COLUMN = "search_text"

_IDENTIFIER_LENGTHS = {"resident_id": 18, "uscc": 18, "vin": 17, "plate": 8, "mobile": 11, "bank_card": 19}


@dataclass(frozen=True)
class EntityTables:
    """The tables of one entity: its own, its child tables and its link tables by field name."""

    table: Table
    children: Mapping[str, Table]
    links: Mapping[str, Table]


@dataclass(frozen=True)
class AccessTables:
    users: Table
    user_roles: Table
    org_units: Table
    field_rules: Table
    policy_version: Table
    api_tokens: Table
    saved_filters: Table


@dataclass(frozen=True)
class Schema:
    metadata: MetaData
    entities: Mapping[str, EntityTables]
    audit: Table
    audit_head: Table
    #: Names of the tables the application has created, so that dropped entities are still known as its own.
    registry: Table
    #: The record each catalog row of the YAML became, so that rows removed from the YAML are found.
    catalog_rows: Table
    #: Users, their roles per org unit, the org tree, admins' field rules and the policy version.
    access: AccessTables
    #: Flow steps, approval decisions, added approvers and delegations.
    flows: FlowTables
    #: One row per attempt of a background job (runtime/job_log.py).
    job_runs: Table
    #: Callbacks received from providers, each event once (runtime/callbacks.py).
    callbacks: Table
    #: Locks of jobs that must not overlap (runtime/job_locks.py).
    job_locks: Table

    @property
    def owned_tables(self) -> frozenset[str]:
        return frozenset(self.metadata.tables)


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored exactly: NUMERIC on PostgreSQL, an integer count of 10**-places on SQLite.

    SQLite keeps NUMERIC columns as binary floats, which lose cents on large amounts and
    in sums. An integer keeps every digit, so comparisons, sorting and SUM stay exact.
    Values compared with such a column are scaled the same way.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, places: int) -> None:
        super().__init__(precision, places)
        self.precision = precision
        self.places = places

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal

    def load_dialect_impl(self, dialect: Any) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())  # type: ignore[no-any-return]
        return dialect.type_descriptor(Numeric(self.precision, self.places))  # type: ignore[no-any-return]

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        # NOTE: values added, subtracted or compared are scaled alike. A product or quotient of
        # such a column is not an exact decimal on SQLite, so expressions over them avoid * and /.
        return self

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return int(Decimal(str(value)).scaleb(self.places).to_integral_value())

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.places)
        return Decimal(value).quantize(Decimal(1).scaleb(-self.places))


def column_type(field: m.Field) -> TypeEngine[Any]:
    """Return the column type that stores one field's value."""
    kind = field.type
    if field.encrypted:
        return Text()
    if kind == "string":
        return String(field.max_length or 255)
    if kind == "text":
        return Text()
    if kind == "integer":
        return BigInteger()
    if kind in m.DECIMAL_STORAGE:
        precision, _ = m.DECIMAL_STORAGE[kind]
        places = m.decimal_places(field)
        return ExactDecimal(precision, places)
    if kind == "boolean":
        return Boolean(create_constraint=False)
    if kind == "date":
        return Date()
    if kind == "datetime":
        return DateTime(timezone=True)
    if kind == "enum":
        return String(63)
    if kind == "reference":
        return ID_TYPE
    if kind in ("json", "geo_point", "attachment", "attachments"):
        return JSON()
    if kind in _IDENTIFIER_LENGTHS:
        return String(_IDENTIFIER_LENGTHS[kind])
    raise ValueError(f"field {field.name!r} of type {kind!r} has no single column")


def _field_columns(field: m.Field) -> list[Column[Any]]:
    """Return the columns of a field stored in its entity's own table."""
    if field.type in ("child", "multi_reference"):
        return []
    if field.type == "reference" and field.entity is not None:
        return [Column(field.name, ID_TYPE, ForeignKey(f"{field.entity}.id", ondelete="RESTRICT"), nullable=True)]
    columns: list[Column[Any]] = [Column(field.name, column_type(field), nullable=True)]
    if field.encrypted:
        columns.append(Column(field.name + HASH_SUFFIX, String(64), nullable=True))
    return columns


def _system_columns(entity: m.Entity, has_flow: bool) -> list[Column[Any]]:
    columns: list[Column[Any]] = [
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("created_by", String(64), nullable=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("updated_by", String(64), nullable=True),
        Column("org_unit", String(63), nullable=True),
        Column("version", Integer, nullable=False, default=1),
        Column("deleted_at", DateTime(timezone=True), nullable=True),
    ]
    if has_flow:
        columns.append(Column("state", String(63), nullable=True))
        columns.append(Column("flow", String(63), nullable=True))
        columns.append(Column("flow_version", String(64), nullable=True))
    if any(field.searchable for field in entity.fields.values()):
        columns.append(Column(SEARCH_COLUMN, Text, nullable=True))
    return columns


def _short_name(name: str, limit: int = 60) -> str:
    """Keep an index name within PostgreSQL's 63 characters, with a hash to stay unique."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: limit - 9]}_{digest}"


def _storage_name(entity: m.Entity, name: str) -> str:
    """Return the column that carries a field's constraints: its hash when encrypted."""
    field = entity.fields.get(name)
    if field is not None and field.encrypted:
        return name + HASH_SUFFIX
    return name


def _entity_tables(model: m.AppModel, entity: m.Entity, metadata: MetaData) -> EntityTables:
    has_flow = bool(model.flows_for(entity.name))
    columns = _system_columns(entity, has_flow)
    for field in entity.fields.values():
        columns.extend(_field_columns(field))
    table = Table(entity.name, metadata, *columns)

    # Indexes: references, unique fields (among live records), list filters and sorts, declared ones.
    indexed: set[tuple[tuple[str, ...], bool]] = set()

    def add_index(names: tuple[str, ...], unique: bool = False, live_only: bool = False) -> None:
        if (names, live_only) in indexed or not all(name in table.c for name in names):
            return
        indexed.add((names, live_only))
        options: dict[str, Any] = {}
        if unique or live_only:
            live = table.c.deleted_at.is_(None)
            options = {"sqlite_where": live, "postgresql_where": live}
        name = None
        if live_only:
            # The naming convention would give the same name as the plain index on these columns.
            name = _short_name(f"ix_{table.name}_live_" + "_".join(names))
        Index(name, *(table.c[column] for column in names), unique=unique, **options)

    def add_live_index(names: tuple[str, ...]) -> None:
        add_index(names, live_only=True)

    for field in entity.fields.values():
        storage = _storage_name(entity, field.name)
        if field.unique:
            add_index((storage,), unique=True)
        elif field.type == "reference" or field.indexed or (field.encrypted and field.searchable):
            add_index((storage,))
    for declared in entity.indexes:
        add_index(tuple(_storage_name(entity, name) for name in declared.fields), unique=declared.unique)
    for name in (*entity.list.filters, *(item.lstrip("-") for item in entity.list.sort)):
        add_index((_storage_name(entity, name),))

    # A list page filters live records by one field and takes the default sort (newest first
    # unless the YAML sets one). These indexes serve it without sorting the table.
    sort = tuple(item.lstrip("-") for item in entity.list.sort) or ("created_at",)
    if all(name in table.c and not table.c[name].nullable for name in sort):
        add_live_index((*sort, "id"))
        # Data scopes filter by the owning unit or the creator, so those get the same index.
        for name in (*entity.list.filters, "org_unit", "created_by"):
            add_live_index((_storage_name(entity, name), *sort, "id"))
    for name in ("org_unit", "created_at", "created_by"):
        add_index((name,))
    if has_flow:
        add_index(("state",))

    children: dict[str, Table] = {}
    links: dict[str, Table] = {}
    for field in entity.fields.values():
        if field.type == "child":
            children[field.name] = _child_table(entity, field, metadata)
        elif field.type == "multi_reference" and field.entity is not None:
            links[field.name] = _link_table(entity, field, metadata)
    return EntityTables(table, MappingProxyType(children), MappingProxyType(links))


def _child_table(entity: m.Entity, field: m.Field, metadata: MetaData) -> Table:
    columns: list[Column[Any]] = [
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("parent_id", ID_TYPE, ForeignKey(f"{entity.name}.id", ondelete="CASCADE"), nullable=False, index=True),
        Column("position", Integer, nullable=False),
    ]
    for row_field in field.fields:
        columns.extend(_field_columns(row_field))
    return Table(f"{entity.name}__{field.name}", metadata, *columns)


def _link_table(entity: m.Entity, field: m.Field, metadata: MetaData) -> Table:
    return Table(
        f"{entity.name}__{field.name}",
        metadata,
        Column("parent_id", ID_TYPE, ForeignKey(f"{entity.name}.id", ondelete="CASCADE"), primary_key=True),
        Column("target_id", ID_TYPE, ForeignKey(f"{field.entity}.id", ondelete="RESTRICT"), primary_key=True, index=True),
        Column("position", Integer, nullable=False),
    )


def _audit_tables(metadata: MetaData) -> tuple[Table, Table]:
    audit = Table(
        SYSTEM_PREFIX + "audit",
        metadata,
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("actor", String(64), nullable=True),
        Column("address", String(64), nullable=True),
        Column("action", String(63), nullable=False),
        Column("entity", String(63), nullable=True),
        Column("record_id", BigInteger, nullable=True),
        Column("reason", Text, nullable=True),
        Column("changes", JSON, nullable=True),
        Column("previous_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False),
        Index(None, "entity", "record_id"),
    )
    # One row that every append locks first, so that entries are chained one at a time.
    head = Table(
        SYSTEM_PREFIX + "audit_head",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("last_id", BigInteger, nullable=True),
        Column("last_hash", String(64), nullable=False),
    )
    return audit, head


def build_schema(model: m.AppModel) -> Schema:
    """Build every table of an application, its own and the runtime's."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    entities = {name: _entity_tables(model, entity, metadata) for name, entity in model.entities.items()}
    audit, head = _audit_tables(metadata)
    registry = Table(SYSTEM_PREFIX + "schema_table", metadata, Column("name", String(127), primary_key=True))
    catalog_rows = Table(
        SYSTEM_PREFIX + "catalog_row",
        metadata,
        Column("catalog", String(63), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("entity", String(63), nullable=False),
        Column("record_id", BigInteger, nullable=False),
    )
    access = _access_tables(metadata)
    flows = flow_tables(metadata, SYSTEM_PREFIX, access.users)
    job_runs = job_run_table(metadata, SYSTEM_PREFIX)
    callbacks = callback_table(metadata, SYSTEM_PREFIX)
    job_locks = job_lock_table(metadata, SYSTEM_PREFIX)
    # Export jobs (runtime/export_jobs.py) find their table by name in the metadata.
    export_job_table(metadata, SYSTEM_PREFIX)
    # Reached as `schema.metadata.tables[SYSTEM_PREFIX + "import"]` (runtime/imports_runs.py).
    import_table(metadata, SYSTEM_PREFIX)
    # Reached as `schema.metadata.tables[SYSTEM_PREFIX + "print_calibration"]` (runtime/printing_calibration.py).
    print_calibration_table(metadata, SYSTEM_PREFIX, access.users)
    return Schema(metadata, MappingProxyType(entities), audit, head, registry, catalog_rows, access, flows, job_runs, callbacks,
                  job_locks)


def _access_tables(metadata: MetaData) -> AccessTables:
    users = Table(
        SYSTEM_PREFIX + "user",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("username", String(64), nullable=False, unique=True),
        Column("display_name", String(100), nullable=False),
        Column("org_unit", String(63), nullable=True),
        Column("active", Boolean(create_constraint=False), nullable=False, default=True),
        Column("password_hash", String(255), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        #: Failed sign-ins since the last successful one; reaching the app's limit locks the account.
        Column("failed_sign_ins", Integer, nullable=False, default=0, server_default="0"),
        Column("locked_until", DateTime(timezone=True), nullable=True),
        #: The user's chosen screen language, or None for the app's default.
        Column("lang", String(16), nullable=True),
        #: Raised on a password change, so that sessions signed in before it end.
        Column("session_epoch", Integer, nullable=False, default=0, server_default="0"),
    )
    user_roles = Table(
        SYSTEM_PREFIX + "user_role",
        metadata,
        Column("user_id", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), primary_key=True),
        Column("role", String(63), primary_key=True),
        Column("org_unit", String(63), primary_key=True),
    )
    org_units = Table(
        SYSTEM_PREFIX + "org_unit",
        metadata,
        Column("name", String(63), primary_key=True),
        Column("parent", String(63), nullable=True, index=True),
        Column("kind", String(63), nullable=False),
        Column("label_zh", String(100), nullable=False),
        Column("label_en", String(100), nullable=False),
        #: "yaml" for units declared in the application, "runtime" for units added while it runs.
        Column("origin", String(16), nullable=False),
    )
    field_rules = Table(
        SYSTEM_PREFIX + "field_rule",
        metadata,
        Column("role", String(63), primary_key=True),
        Column("entity", String(63), primary_key=True),
        Column("field", String(63), primary_key=True),
        #: hidden, masked, unmasked or read_only.
        Column("rule", String(16), primary_key=True),
    )
    version = Table(
        SYSTEM_PREFIX + "policy_version",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("version", BigInteger, nullable=False),
    )
    api_tokens = Table(
        SYSTEM_PREFIX + "api_token",
        metadata,
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("user_id", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
        Column("name", String(100), nullable=False),
        #: SHA-256 of the token; the token itself is shown once when it is made.
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("last_used_at", DateTime(timezone=True), nullable=True),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
    )
    saved_filters = Table(
        SYSTEM_PREFIX + "saved_filter",
        metadata,
        Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        Column("user_id", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False),
        Column("entity", String(63), nullable=False),
        Column("name", String(100), nullable=False),
        #: The list page's query string, as shown in the address bar.
        Column("query", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index(None, "user_id", "entity", "name", unique=True),
    )
    return AccessTables(users, user_roles, org_units, field_rules, version, api_tokens, saved_filters)
