"""The table of imports (runtime/imports_runs.py): one row per uploaded file, with its progress and outcome."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

#: The type of row ids, as in runtime.schema.
_ID = BigInteger().with_variant(Integer(), "sqlite")


def import_table(metadata: MetaData, prefix: str) -> Table:
    """Build the import table in `metadata`, named `<prefix>import`."""
    return Table(
        prefix + "import",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("entity", String(63), nullable=False),
        #: The user who uploaded the file; checks and writes run as this user.
        Column("user_id", String(64), nullable=False),
        #: The file name the user gave, cleaned of folders and control characters.
        Column("filename", String(255), nullable=False),
        #: The name of the stored copy under data_dir/imports.
        Column("stored_name", String(64), nullable=False),
        #: uploaded, checking, checked, writing, done or failed (runtime.imports_runs.STATUSES).
        Column("status", String(16), nullable=False),
        #: "all" (all or nothing) or "valid" (valid rows only) once the user chose to write.
        Column("mode", String(8), nullable=True),
        #: Data rows in the file, and how many of them were checked and written so far.
        Column("total_rows", Integer, nullable=False, default=0),
        Column("checked_rows", Integer, nullable=False, default=0),
        Column("written_rows", Integer, nullable=False, default=0),
        #: One entry per row that is not written as it is: line, status and reasons (runtime.imports_check.RowOutcome).
        Column("outcomes", JSON, nullable=True),
        #: The problem of the whole file or the failure of the job, in English and Chinese.
        Column("message_en", Text, nullable=True),
        Column("message_zh", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Index(None, "user_id", "created_at"),
    )
