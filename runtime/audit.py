"""The append-only, hash-chained audit log.

Each entry stores the SHA-256 of the previous entry's hash followed by its own
content in canonical JSON, so editing, deleting or reordering any entry breaks the
chain from that entry on. Each append locks the single row of `md_audit_head` first,
so appends are serialized across processes on PostgreSQL and SQLite alike. The head
also keeps the last hash, so that removing the newest entries is detected too.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from runtime.schema import Schema

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


def json_value(value: Any) -> Any:
    """Convert a field value to plain JSON: Decimals and dates become text."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    return value


def _utc_text(moment: datetime.datetime) -> str:
    """Render a time the same way whether the database returned it naive (SQLite) or aware."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def entry_hash(previous_hash: str, content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous_hash + canonical).encode("utf-8")).hexdigest()


def _chained(previous_hash: str, entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """Hash entries one after another from `previous_hash`; return the rows to insert and the last hash."""
    rows = []
    for entry in entries:
        digest = entry_hash(previous_hash, _content(entry))
        rows.append({**entry, "previous_hash": previous_hash, "hash": digest})
        previous_hash = digest
    return rows, previous_hash


def _content(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "at": _utc_text(row["at"]),
        "actor": row["actor"],
        "address": row["address"],
        "action": row["action"],
        "entity": row["entity"],
        "record_id": row["record_id"],
        "reason": row["reason"],
        "changes": row["changes"],
    }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    #: Id of the first entry that does not match the chain, or None.
    first_bad_id: int | None = None
    problem: str | None = None


class AuditLog:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.table = schema.audit
        self.head = schema.audit_head
        # Built once with bound parameters, so SQLAlchemy compiles each statement once.
        self._advance_head = update(self.head).where(self.head.c.id == _HEAD_ID)
        self._advance_if = update(self.head).where(
            self.head.c.id == _HEAD_ID, self.head.c.last_hash == bindparam("expected")
        ).values(last_hash=bindparam("last_hash"))
        self._read_head = select(self.head.c.last_hash).where(self.head.c.id == _HEAD_ID).with_for_update()
        self._insert_one = insert(self.table).returning(self.table.c.id)
        self._insert_many = insert(self.table).returning(self.table.c.id, sort_by_parameter_order=True)
        #: The head hash this process wrote last; a guess that the conditional UPDATE confirms or refutes.
        self._last_hash: str | None = None

    def append(
        self,
        connection: Connection,
        *,
        at: datetime.datetime,
        actor: str | None,
        address: str | None,
        action: str,
        entity: str | None,
        record_id: int | None,
        changes: Mapping[str, Any] | None,
        reason: str | None = None,
    ) -> int:
        """Append one entry inside the caller's transaction and return its id."""
        entry = {
            "at": at,
            "actor": actor,
            "address": address,
            "action": action,
            "entity": entity,
            "record_id": record_id,
            "reason": reason,
            "changes": changes,
        }
        return self.append_many(connection, [entry])[0]

    def append_many(self, connection: Connection, entries: list[dict[str, Any]]) -> list[int]:
        """Append entries in order inside the caller's transaction, chained one after another, and return their ids.

        Each entry has the keys of `append`: at, actor, address, action, entity, record_id, reason, changes.
        """
        prepared = [dict(entry, changes=json_value(entry["changes"]) if entry.get("changes") is not None else None)
                    for entry in entries]

        # Usually no other process has appended since this one did: advancing the head on the
        # condition that it still holds the hash written last both checks that and locks the row.
        rows: list[dict[str, Any]] | None = None
        if self._last_hash is not None:
            rows, last_hash = _chained(self._last_hash, prepared)
            advanced = connection.execute(self._advance_if, {"expected": self._last_hash, "last_hash": last_hash}).rowcount
            if advanced != 1:
                rows = None
        if rows is None:
            rows, last_hash = _chained(self._lock_head(connection), prepared)
            connection.execute(self._advance_head, {"last_hash": last_hash})

        if len(rows) == 1:
            ids = [int(connection.execute(self._insert_one, rows[0]).scalar_one())]
        else:
            ids = [int(value) for value in connection.execute(self._insert_many, rows).scalars()]
        # If the transaction rolls back, the next append's conditional UPDATE misses and reads the head.
        self._last_hash = last_hash
        return ids

    def _lock_head(self, connection: Connection) -> str:
        last_hash = connection.execute(self._read_head).scalar_one_or_none()
        if last_hash is None:
            connection.execute(insert(self.head).values(id=_HEAD_ID, last_id=None, last_hash=GENESIS_HASH))
            return GENESIS_HASH
        return str(last_hash)

    def verify(self, connection: Connection, *, batch: int = 5_000) -> VerifyResult:
        """Recompute the chain from the first entry; name the first entry that was edited, deleted or moved."""
        previous_hash = GENESIS_HASH
        checked = 0
        last_id = None
        result = connection.execute(select(self.table).order_by(self.table.c.id).execution_options(yield_per=batch))
        try:
            for row in result.mappings():
                if row["previous_hash"] != previous_hash:
                    return VerifyResult(False, checked, row["id"], "the entry does not follow the one before it (an entry was deleted or moved)")
                if entry_hash(previous_hash, _content(row)) != row["hash"]:
                    return VerifyResult(False, checked, row["id"], "the entry's content does not match its hash (it was edited)")
                previous_hash = row["hash"]
                last_id = row["id"]
                checked += 1
        except (ValueError, TypeError) as exc:
            # A stored value that no longer parses (a date, JSON) was written by hand.
            bad_id = connection.scalar(select(self.table.c.id).order_by(self.table.c.id).offset(checked).limit(1))
            return VerifyResult(False, checked, bad_id, f"the entry cannot be read ({type(exc).__name__}), so it was edited")
        finally:
            result.close()

        try:
            head = connection.execute(select(self.head).where(self.head.c.id == _HEAD_ID)).mappings().first()
        except SQLAlchemyError:
            return VerifyResult(False, checked, None, "the audit head table is missing or unreadable")
        if head is None and checked == 0 and self._records_exist(connection):
            return VerifyResult(False, 0, None, "the audit log is empty although records exist, so its entries were removed")
        if head is not None and head["last_hash"] != previous_hash:
            return VerifyResult(False, checked, (last_id or 0) + 1, "the newest entries were removed")
        if head is None and checked:
            return VerifyResult(False, checked, None, "the audit head row was removed")
        return VerifyResult(True, checked)

    def _records_exist(self, connection: Connection) -> bool:
        return any(
            connection.scalar(select(tables.table.c.id).limit(1)) is not None for tables in self.schema.entities.values()
        )
