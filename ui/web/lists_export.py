"""CSV export of a list: every matching record, streamed page by page through the runtime's exports.

The file is UTF-8 with a byte order mark, which Excel needs to read Chinese text correctly.
Rows are read with the keyset cursor, so memory keeps one page at a time however many rows
match. Masks are the ones the list screen applies. The rows lie within the scopes of both
the read and the export action, and the export is in the audit log before its first row is read.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from typing import Iterator

from metamodel import model as m
from runtime.access import Actor
from runtime.exports import Export, RecordExports
from runtime.record_query import MAX_LIMIT, ListQuery
from runtime.records import RecordService
from ui.web import i18n
from ui.web.lists_columns import Column, Formats, References, cell_text, shown_fields

logger = logging.getLogger(__name__)

BOM = "\ufeff"
#: Leading characters that make a spreadsheet read a text cell as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def start_export(records: RecordService, actor: Actor, entity: m.Entity, columns: list[Column], query: ListQuery) -> Export:
    """Start the export of a list's records as CSV, which writes its audit entry; raise PermissionDenied if not allowed."""
    page_query = dataclasses.replace(query, fields=shown_fields(columns))
    return RecordExports(records).start(actor, entity.name, page_query, page_size=MAX_LIMIT, details={"format": "csv"})


def csv_rows(records: RecordService, actor: Actor, export: Export, columns: list[Column], formats: Formats) -> Iterator[bytes]:
    """Yield the CSV file in chunks: the header of column labels, then one chunk per page of records."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([i18n.label(column.label, formats.lang) for column in columns])
    yield (BOM + _drain(buffer)).encode("utf-8")

    written = 0
    for rows in export.pages():
        # A new cache per page keeps memory to one page's referenced records.
        references = References(records, actor)
        references.resolve(rows, columns)
        for row in rows:
            writer.writerow([_csv_cell(column, references.value(row, column)[0], formats) for column in columns])
        written += len(rows)
        yield _drain(buffer).encode("utf-8")
    logger.info("export of %s by %s finished: %s of %s records written", export.entity, actor.id, written, export.total)


def _csv_cell(column: Column, value: object, formats: Formats) -> str:
    text = cell_text(column, value, formats, plain=True)
    numeric = column.numeric and not isinstance(value, str)
    if text.startswith(_FORMULA_STARTS) and not numeric:
        # Quoted so that a value such as "=1+1" stays text in a spreadsheet instead of running as a formula.
        return "'" + text
    return text


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_filename(entity: m.Entity, lang: str, today: str) -> tuple[str, str]:
    """Return an ASCII file name and the file name in the user's language, such as 设备申领单-2026-03-05.csv."""
    return f"{entity.name}-{today}.csv", f"{i18n.label(entity.label, lang)}-{today}.csv"
