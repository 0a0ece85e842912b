"""CSV export of a list: every matching record, streamed page by page through the record service.

The file is UTF-8 with a byte order mark, which Excel needs to read Chinese text correctly.
Rows are read with the keyset cursor, so memory keeps one page at a time however many rows
match. Scope and masks are the ones the list screen applies.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Iterator

from metamodel import model as m
from runtime.access import Actor
from runtime.record_query import MAX_LIMIT, ListQuery
from runtime.records import RecordService
from ui.web import i18n
from ui.web.lists_columns import Column, Formats, References, cell_text, shown_fields

BOM = "\ufeff"
#: Leading characters that make a spreadsheet read a text cell as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_rows(
    records: RecordService, actor: Actor, entity: m.Entity, columns: list[Column], query: ListQuery, formats: Formats
) -> Iterator[bytes]:
    """Yield the CSV file in chunks: the header of column labels, then one chunk per page of records."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([i18n.label(column.label, formats.lang) for column in columns])
    yield (BOM + _drain(buffer)).encode("utf-8")

    page_query = dataclasses.replace(query, limit=MAX_LIMIT, after=None, with_total=False, count_limit=None,
                                     fields=shown_fields(columns))
    while True:
        page = records.list(actor, entity.name, page_query)
        # A new cache per page keeps memory to one page's referenced records.
        references = References(records, actor)
        references.resolve(page.rows, columns)
        for row in page.rows:
            writer.writerow([_csv_cell(column, references.value(row, column)[0], formats) for column in columns])
        yield _drain(buffer).encode("utf-8")
        if page.next_cursor is None:
            return
        page_query = dataclasses.replace(page_query, after=page.next_cursor)


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
