"""The error file of an import: each invalid row as the file had it, with a column that gives the reason it was not written.

The reason column's header is one that imports ignore (runtime.imports_columns.REASON_HEADERS),
so the user can correct the rows in the error file and import it as it is.
"""

from __future__ import annotations

from typing import Any, Iterator

from runtime.imports_check import reasons_text
from runtime.imports_columns import REASON_HEADERS
from runtime.imports_reading import read_sheet
from runtime.imports_runs import ImportRun, ImportRuns
from runtime.spreadsheets import csv_chunks, xlsx_chunks

#: Formats of the error file.
ERROR_FILE_FORMATS = ("xlsx", "csv")


def error_file_name(run: ImportRun, file_format: str, lang: str) -> str:
    stem = run.filename.rsplit(".", 1)[0] or "import"
    return f"{stem}-{'errors' if lang == 'en' else '错误'}.{file_format}"


def error_file_chunks(runs: ImportRuns, run: ImportRun, file_format: str, lang: str) -> Iterator[bytes]:
    """Yield the error file of a checked or written import, in "xlsx" or "csv"."""
    sheet = read_sheet(runs.path_of(run), run.extension)
    headers = [*sheet.headers, REASON_HEADERS[1] if lang == "en" else REASON_HEADERS[0]]
    cells = {row.line: row.cells for row in sheet.rows}
    line_word = ("line {}: " if lang == "en" else "第 {} 行：")

    def rows() -> Iterator[list[Any]]:
        for outcome in run.invalid:
            original = cells.get(outcome.line, ())
            yield [_written(cell) for cell in original] + [line_word.format(outcome.line) + reasons_text(outcome, lang)]

    if file_format == "csv":
        return csv_chunks(headers, rows())
    return xlsx_chunks(run.filename.rsplit(".", 1)[0] or "import", headers, rows())


def _written(cell: Any) -> Any:
    """Return a cell as the spreadsheet writer takes it: an empty text cell as None."""
    if isinstance(cell, str) and not cell:
        return None
    return cell
