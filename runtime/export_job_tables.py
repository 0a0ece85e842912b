"""The table of export jobs (runtime/export_jobs.py): one row per file a user asked to have written in the background."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

#: The type of row ids, as in runtime.schema.
_ID = BigInteger().with_variant(Integer(), "sqlite")


def export_job_table(metadata: MetaData, prefix: str) -> Table:
    """Build the export job table in `metadata`, named `<prefix>export_job`."""
    return Table(
        prefix + "export_job",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        #: The user who asked for the file, the only one who may download it.
        Column("user_id", String(64), nullable=False),
        Column("entity", String(63), nullable=False),
        #: The registered source that reads the rows, such as "list" (runtime.export_jobs.register_source).
        Column("source", String(31), nullable=False),
        #: "csv" or "xlsx".
        Column("format", String(8), nullable=False),
        #: Parameters of the source, such as the list's filters, and the user's language.
        Column("request", JSON, nullable=False),
        #: The network address of the request, for the audit entry the job writes.
        Column("address", String(64), nullable=True),
        #: queued, running, done or failed (runtime.export_jobs.STATUSES).
        Column("status", String(16), nullable=False),
        Column("rows_written", BigInteger, nullable=False, default=0),
        #: Number of records that matched when the job started; None until then.
        Column("rows_total", BigInteger, nullable=True),
        #: The file name shown to the user, such as 客户-2026-03-05.xlsx.
        Column("file_name", String(255), nullable=False),
        Column("file_size", BigInteger, nullable=True),
        #: Why the job failed, in English and Chinese.
        Column("error", Text, nullable=True),
        Column("error_zh", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=True),
        Column("finished_at", DateTime(timezone=True), nullable=True),
        Index(None, "user_id", "created_at"),
        Index(None, "created_at"),
    )
