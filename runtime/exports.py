"""Exports: every record of a list query, read page by page for a file, with one audit entry each.

An export takes records out of the system, so it needs the `export` action besides `read`,
and its rows lie inside the data scopes of both actions. Before the first row is read it
appends one entry to the audit log, in the same hash chain as record changes. The entry has
the acting user and address, the entity and the action "export". Its changes are the filter,
search and sort used, the fields exported, the number of records that matched, and what the
caller adds, such as the file format. Filter and search values on masked or encrypted fields
are masked there, as the log keeps record values.

Writing the entry first means no row leaves without one. The count is taken in the same
transaction; records changed while a long file is read may make the file differ from it.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from sqlalchemy import ColumnElement, Engine, func, select

from metamodel import model as m
from metamodel.values import check_value
from runtime.access import Actor, FieldAccess
from runtime.errors import PermissionDenied
from runtime.record_codec import RecordCodec, mask_value
from runtime.record_query import MAX_LIMIT, Condition, Group, ListQuery, order_by
from runtime.record_reads import SYSTEM_FIELDS, RecordReads

logger = logging.getLogger(__name__)

EXPORT_ACTION = "export"


@dataclass
class Export:
    """A started export: its audit entry is written, and `pages` reads the records."""

    entity: str
    #: Number of records that matched when the export started, as recorded in the audit entry.
    total: int
    audit_id: int
    access: FieldAccess
    codec: RecordCodec
    selected: list[Any]
    conditions: list[ColumnElement[bool]]
    keys: list[tuple[Any, bool]]
    page_size: int
    engine: Engine

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Yield the matching records a page at a time, in the query's sort, each as the actor may see it.

        One query streams the rows (a server-side cursor on PostgreSQL), so the database sorts
        once however many pages there are; memory contains one page at a time. The read lasts as long as
        the caller takes to consume the pages.
        """
        statement = select(*self.selected).where(*self.conditions).order_by(*order_by(self.keys))
        with self.engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=self.page_size).execute(statement)
            for partition in result.mappings().partitions():
                yield [self.codec.decode(dict(row), self.access) for row in partition]


class RecordExports:
    """Starts exports through the record service, as the acting user.

    It compiles the query with the record service's own checks, so the read action, the
    read scope, hidden fields and masks apply as they do to a list, then adds the export scope.
    """

    def __init__(self, records: RecordReads) -> None:
        self.records = records

    def start(
        self,
        actor: Actor,
        entity_name: str,
        query: ListQuery,
        *,
        page_size: int = MAX_LIMIT,
        details: Mapping[str, Any] | None = None,
    ) -> Export:
        """Check the export, write its audit entry and return it ready to read.

        `details` are further members of the entry's changes, such as the file format; they
        cannot replace the filter, the fields or the count. Raises PermissionDenied without the
        `export` action and ValidationFailed for a bad query, in both cases before anything is
        written. The query's page size, cursor and total are ignored.
        """
        records = self.records
        entity = records._entity(entity_name)
        if not records.access.allows(actor, EXPORT_ACTION, entity_name):
            raise PermissionDenied(entity_name, EXPORT_ACTION)
        query = dataclasses.replace(query, after=None, with_total=False, count_limit=None)
        access, codec, conditions, keys = records._compile(actor, entity_name, query)
        conditions.append(records._scoped(actor, entity_name, EXPORT_ACTION))

        selected = codec.columns_for(access)
        if query.fields is not None:
            requested = frozenset(query.fields)
            selected = [column for column in selected if column.name in SYSTEM_FIELDS or column.name in requested]
        table = records.schema.entities[entity_name].table
        exported = [column.name for column in selected if column.name not in SYSTEM_FIELDS]
        with records._write() as connection:
            total = int(connection.scalar(select(func.count()).select_from(table).where(*conditions)) or 0)
            changes = {
                **(details or {}),
                "filter": _described(entity, query.where),
                "search": _masked_search(entity, access, query.search),
                "sort": list(query.sort),
                "deleted": query.deleted,
                "fields": exported,
                "rows": total,
            }
            audit_id = records.audit.append(connection, at=records.clock(), actor=actor.id, address=actor.address,
                                            action=EXPORT_ACTION, entity=entity_name, record_id=None, changes=changes)
        logger.info("export of %s by %s started: %s records, audit entry %s", entity_name, actor.id, total, audit_id)
        return Export(entity_name, total, audit_id, access, codec, selected, conditions, keys, max(1, page_size), records.engine)


def _described(entity: m.Entity, node: Condition | Group | None) -> Any:
    """Return a filter as plain data for the audit log, with the values of sensitive fields masked."""
    if node is None:
        return None
    if isinstance(node, Group):
        return {"mode": node.mode, "items": [_described(entity, item) for item in node.items]}
    spec = entity.fields.get(node.field)
    value = node.value
    if spec is not None and (spec.masked or spec.encrypted) and value is not None:
        value = [mask_value(spec, item) for item in value] if isinstance(value, (list, tuple)) else mask_value(spec, value)
    return {"field": node.field, "op": node.op, "value": value}


def _masked_search(entity: m.Entity, access: FieldAccess, text: str | None) -> str | None:
    """Return the search text with each word masked that could be the value of a sensitive searchable field."""
    if not text:
        return None
    sensitive = [spec for spec in entity.fields.values()
                 if spec.searchable and (spec.masked or spec.encrypted) and spec.name not in access.hidden]
    words = []
    for word in text.split():
        matching = next((spec for spec in sensitive if not check_value(spec, word)[1]), None)
        words.append(mask_value(matching, word) if matching is not None else word)
    return " ".join(words)
