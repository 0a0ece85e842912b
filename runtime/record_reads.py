"""Reading records: the record service's constructor, shared plumbing, get and list.

`RecordService` in records.py adds the writing operations; callers use that class.
"""

from __future__ import annotations

import builtins
import datetime
import logging
import zoneinfo
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from sqlalchemy import Connection, Engine, bindparam, func, select, true

from metamodel import model as m
from runtime.access import Access, Actor, FieldAccess, SystemAccess
from runtime.audit import AuditLog
from runtime.crypto import KeyRing
from runtime.database import WRITE_OPTION
from runtime.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from runtime.record_codec import FLOW_SYSTEM_FIELDS, RECORD_SYSTEM_FIELDS, RecordCodec, mask_value
from runtime.record_query import (
    MAX_LIMIT,
    ListQuery,
    Page,
    QueryCompiler,
    after_cursor,
    decode_cursor,
    encode_cursor,
    order_by,
)
from runtime.files import FileStore
from runtime.providers import Providers
from runtime.record_validation import RecordValidator
from runtime.schema import Schema

if TYPE_CHECKING:
    from runtime.permissions import PermissionStore

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime.datetime]

#: Columns every list reads, whatever `ListQuery.fields` names.
SYSTEM_FIELDS = frozenset(RECORD_SYSTEM_FIELDS + FLOW_SYSTEM_FIELDS)

#: The connection that `RecordReads.reading` opened for the reads of the current context, if any.
_shared_connection: ContextVar[Connection | None] = ContextVar("metadesk_shared_read_connection", default=None)
#: The connection of the operation whose hook is running, if any: the hook's reads and writes join its transaction.
_hook_connection: ContextVar[Connection | None] = ContextVar("metadesk_hook_connection", default=None)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _zone(model: m.AppModel) -> datetime.tzinfo:
    """Return the application's time zone (the `timezone` setting), in which list filters read days and times."""
    name = model.app.settings.get("timezone")
    if not name:
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r in the application settings; list filters read times in UTC", name)
        return datetime.timezone.utc


class RecordReads:
    def __init__(
        self,
        model: m.AppModel,
        schema: Schema,
        engine: Engine,
        *,
        access: Access,
        keys: KeyRing | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.model = model
        self.schema = schema
        self.engine = engine
        self.access = access
        self.keys = keys
        self.clock = clock
        self.timezone = _zone(model)
        self.audit = AuditLog(schema)
        self.codecs = {
            name: RecordCodec(entity, schema.entities[name].table, keys) for name, entity in model.entities.items()
        }
        self._statements: dict[tuple[str, frozenset[str], bool], Any] = {}
        #: The application's third-party providers, which hooks reach as `context.providers`; set by Runtime.open.
        self.providers: Providers | None = None
        #: The store of attached files, which hooks reach through `HookRecords.attach`; set by Runtime.open.
        self.files: FileStore | None = None
        #: Returns the application's permission store, which hooks change org units and accounts through
        #: (`context.organization`); set by Runtime.
        self.permission_store: Callable[[], PermissionStore] | None = None
        self._system_view: RecordReads | None = None

    def system_view(self) -> Any:
        """Return a service of the same class over the same database that grants every action, row and field.

        It is built once, shares the providers, and joins the connection of an enclosing
        `within` block as this service does. Hooks reach it through `HookRecords.as_system`.
        """
        if type(self.access) is SystemAccess:
            return self
        if self._system_view is None:
            view = type(self)(self.model, self.schema, self.engine, access=SystemAccess(), keys=self.keys, clock=self.clock)
            view.providers = self.providers
            view.files = self.files
            view.permission_store = self.permission_store
            self._system_view = view
        return self._system_view

    # Plumbing ---------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the get, list and count calls made inside the block on one connection and transaction.

        A screen that reads a page and then the records it references checks out one pooled
        connection instead of one per call, and reads them all from the same snapshot on
        SQLite. Writes still take their own connection. Nested blocks reuse the outer one.
        """
        if _shared_connection.get() is not None:
            yield
            return
        with self.engine.connect() as connection:
            token = _shared_connection.set(connection)
            try:
                yield
            finally:
                _shared_connection.reset(token)

    @contextmanager
    def within(self, connection: Connection) -> Iterator[None]:
        """Run the calls made inside the block in `connection`'s transaction, as a hook's calls run in its operation's.

        Each write inside gets a savepoint, so a write that fails leaves the operation's own work intact.
        """
        token = _hook_connection.set(connection)
        try:
            yield
        finally:
            _hook_connection.reset(token)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """Yield the connection of the enclosing `within` or `reading` block, or a new one for this call alone."""
        for shared in (_hook_connection.get(), _shared_connection.get()):
            if shared is not None and shared.engine is self.engine:
                yield shared
                return
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        joined = _hook_connection.get()
        if joined is not None and joined.engine is self.engine:
            with joined.begin_nested():
                yield joined
            return
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
            with connection.begin():
                yield connection

    def _entity(self, name: str) -> m.Entity:
        entity = self.model.entities.get(name)
        if entity is None:
            raise NotFound(name, "")
        return entity

    def _require(self, actor: Actor, action: str, entity: str) -> FieldAccess:
        if not self.access.allows(actor, action, entity):
            raise PermissionDenied(entity, action)
        return self.access.fields(actor, entity)

    def _scoped(self, actor: Actor, entity: str, action: str = "read") -> Any:
        table = self.schema.entities[entity].table
        predicate = self.access.scope(actor, entity, table, action)
        return predicate if predicate is not None else true()

    def _validator(self, connection: Connection, entity: m.Entity) -> RecordValidator:
        def load(target: str, record_id: int) -> Mapping[str, Any] | None:
            table = self.schema.entities[target].table
            row = connection.execute(select(table).where(table.c.id == record_id)).mappings().first()
            if row is None:
                return None
            return self.codecs[target].decode(row, FieldAccess(reveal_masked=True))

        return RecordValidator(self.model, entity, self.schema.entities[entity.name], self.codecs[entity.name],
                               self.schema.entities, load)

    def _audit_values(self, entity: m.Entity, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return values as the audit log keeps them: sensitive ones masked."""
        audited: dict[str, Any] = {}
        for name, value in values.items():
            field = entity.fields.get(name)
            sensitive = field is not None and (field.masked or field.encrypted)
            audited[name] = mask_value(field, value) if sensitive and value is not None and field is not None else value
        return audited

    # Reading ----------------------------------------------------------------

    def get(self, actor: Actor, entity_name: str, record_id: int) -> dict[str, Any]:
        """Return one live record as the actor may see it; NotFound if it is missing, deleted or out of scope."""
        entity = self._entity(entity_name)
        access = self._require(actor, "read", entity_name)
        with self._connection() as connection:
            record = self._read(connection, actor, entity, access, record_id)
        if record is None:
            raise NotFound(entity_name, record_id)
        return record

    def _read_statement(self, entity_name: str, hidden: frozenset[str], deleted: bool) -> Any:
        """Return the SELECT of one record for a set of hidden fields, built once and reused."""
        key = (entity_name, hidden, deleted)
        statement = self._statements.get(key)
        if statement is None:
            table = self.schema.entities[entity_name].table
            live = table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)
            columns = self.codecs[entity_name].columns_for(FieldAccess(hidden=hidden))
            statement = select(*columns).where(table.c.id == bindparam("record_id"), live)
            self._statements[key] = statement
        return statement

    def _read(
        self, connection: Connection, actor: Actor, entity: m.Entity, access: FieldAccess, record_id: int, deleted: bool = False
    ) -> dict[str, Any] | None:
        tables = self.schema.entities[entity.name]
        codec = self.codecs[entity.name]
        table = tables.table
        query = self._read_statement(entity.name, access.hidden, deleted)
        predicate = self.access.scope(actor, entity.name, table)
        if predicate is not None:
            query = query.where(predicate)
        row = connection.execute(query, {"record_id": record_id}).mappings().first()
        if row is None:
            return None
        record = codec.decode(row, access)
        for name, child in tables.children.items():
            if name in access.hidden:
                continue
            rows = connection.execute(select(child).where(child.c.parent_id == record_id).order_by(child.c.position))
            field = entity.fields[name]
            child_entity = m.Entity(name, field.label, field.source, m.frozen_mapping({item.name: item for item in field.fields}))
            child_codec = RecordCodec(child_entity, child, self.keys)
            record[name] = [
                {key: value for key, value in child_codec.decode(item, access).items() if key not in ("version", "created_at")}
                for item in rows.mappings()
            ]
        for name, link in tables.links.items():
            if name not in access.hidden:
                record[name] = list(
                    connection.scalars(select(link.c.target_id).where(link.c.parent_id == record_id).order_by(link.c.position))
                )
        return record

    def list(self, actor: Actor, entity_name: str, query: ListQuery | None = None) -> Page:
        """Return one page of records with the actor's scope, filters, search and sort applied in SQL.

        With `with_total` the page carries the number of matching records. With a `count_limit`
        as well, counting stops there, and `total_exact` is False when more records match.
        """
        query = query or ListQuery()
        access, codec, conditions, keys = self._compile(actor, entity_name, query)
        table = self.schema.entities[entity_name].table

        limit = max(1, min(query.limit, MAX_LIMIT))
        sort_columns = [column for column, _ in keys]
        selected = codec.columns_for(access)
        if query.fields is not None:
            # Fewer columns also mean fewer values to decrypt, mask and convert, which costs more than reading them.
            requested = frozenset(query.fields)
            selected = [column for column in selected if column.name in SYSTEM_FIELDS or column.name in requested]
        extra = [column for column in sort_columns if column not in selected]
        statement = select(*selected, *extra).where(*conditions).order_by(*order_by(keys)).limit(limit + 1)

        with self._connection() as connection:
            rows = connection.execute(statement).mappings().all()
            total, exact = None, True
            if query.with_total:
                # The cursor condition is left out: the total is of the whole result, not of what follows.
                total, exact = self._count(connection, table, conditions[:4], query.count_limit, order_by(keys))

        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor([last[column.name] for column in sort_columns])
        # decode tests every field for membership, which a plain dict does far faster than a SQLAlchemy row mapping.
        return Page([codec.decode(dict(row), access) for row in rows], next_cursor, total, exact)

    def count(self, actor: Actor, entity_name: str, query: ListQuery | None = None) -> int:
        """Return the exact number of records a list query matches, whatever its page, cursor and count limit."""
        query = query or ListQuery()
        conditions = self._compile(actor, entity_name, ListQuery(where=query.where, search=query.search, deleted=query.deleted))[2]
        table = self.schema.entities[entity_name].table
        with self._connection() as connection:
            return self._count(connection, table, conditions, None)[0]

    def query_problems(self, actor: Actor, entity_name: str, query: ListQuery) -> dict[str, builtins.list[FieldError]]:
        """Return what is wrong with a list query's filters, sort and cursor, keyed by path, without running it."""
        try:
            self._compile(actor, entity_name, query)
        except ValidationFailed as failed:
            return failed.errors
        return {}

    def _compile(
        self, actor: Actor, entity_name: str, query: ListQuery
    ) -> tuple[FieldAccess, RecordCodec, builtins.list[Any], builtins.list[tuple[Any, bool]]]:
        """Check a list query for the actor and return its field access, codec, WHERE conditions and sort keys.

        The conditions are, in order: live or deleted, the actor's scope, the filters, the
        search and, when the query has one, the cursor. Raises ValidationFailed with every problem.
        """
        entity = self._entity(entity_name)
        access = self._require(actor, "read", entity_name)
        table = self.schema.entities[entity_name].table
        codec = self.codecs[entity_name]
        compiler = QueryCompiler(entity, table, codec, access.hidden, self.timezone)

        live = table.c.deleted_at.is_not(None) if query.deleted else table.c.deleted_at.is_(None)
        conditions = [live, self._scoped(actor, entity_name), compiler.where(query.where), compiler.search(query.search)]
        keys = compiler.order(query.sort)
        for name in query.fields or ():
            field = entity.fields.get(name)
            if name not in SYSTEM_FIELDS and (field is None or field.type in ("child", "multi_reference")):
                compiler.error(f"fields.{name}", "unknown_field",
                               f"{name} is not a field stored in the {entity_name} table; name one of its own fields",
                               f"{name} 不是 {entity_name} 主表中的字段；请填写该实体自身的字段")
        if query.after:
            values = decode_cursor(query.after, keys)
            if values is None:
                compiler.error("after", "cursor", "the page cursor is invalid; start from the first page", "分页游标无效；请从第一页开始")
            else:
                conditions.append(after_cursor(keys, values))
        if compiler.errors:
            raise ValidationFailed(entity_name, compiler.errors)
        return access, codec, conditions, keys

    def _count(self, connection: Connection, table: Any, conditions: builtins.list[Any], limit: int | None,
               order: builtins.list[Any] | None = None) -> tuple[int, bool]:
        """Count matching rows, stopping after `limit` + 1; return the count and whether it is exact.

        With `order`, the list's ORDER BY, the rows counted are the first ones in that order.
        """
        if limit is None:
            return int(connection.scalar(select(func.count()).select_from(table).where(*conditions)) or 0), True
        # Only the ids of the first rows are read, so the database stops early instead of counting them all.
        # In the list's order, the database reads them from the index that serves the page, whose
        # condition on deleted_at matches the list's. Left to choose, SQLite 3.40 took the plain
        # index on the filtered field and read each row from the table to test deleted_at, which
        # made the count of 10,001 rows about four times slower.
        first_rows = select(table.c.id).where(*conditions).order_by(*(order or ())).limit(limit + 1).subquery()
        counted = int(connection.scalar(select(func.count()).select_from(first_rows)) or 0)
        if counted > limit:
            return limit, False
        return counted, True
