"""The table of callbacks received from providers (runtime/callbacks.py): one row per event.

`status` is "handled" once the callback hook ran through, "failed" while its last run
failed; `attempts` counts the runs, `error` keeps the last failure.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

#: The type of row ids, as in runtime.schema.
_ID = BigInteger().with_variant(Integer(), "sqlite")


def callback_table(metadata: MetaData, prefix: str) -> Table:
    """Build the table of received callbacks, named `<prefix>callback`."""
    return Table(
        prefix + "callback",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("integration", String(63), nullable=False),
        Column("event_id", String(128), nullable=False),
        Column("kind", String(63), nullable=False),
        Column("payload", JSON, nullable=True),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("status", String(16), nullable=False, server_default="handled"),
        Column("attempts", Integer, nullable=False, server_default="1"),
        Column("error", Text, nullable=True),
        Column("handled_at", DateTime(timezone=True), nullable=True),
        Index(None, "integration", "event_id", unique=True),
    )
