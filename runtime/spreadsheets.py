"""Spreadsheet files of rows: CSV and Excel (xlsx), built a chunk at a time for streaming or written to a path.

Cell values are str, int, Decimal, date, datetime, bool or None (an empty cell).

CSV files are UTF-8 with a byte order mark, which Excel needs to read Chinese text. A text
cell that a spreadsheet would read as a formula gets a leading apostrophe.

Excel files are written by xlsxwriter in constant-memory mode, so memory stays small however
many rows there are. Text is always a text cell, so ID numbers and long digit strings keep
every digit and no text runs as a formula. Decimals are numbers with a format that shows at
least two decimals, unless a double cannot hold them exactly, in which case they are text.
Dates and times are Excel dates with a date format. Rows past Excel's limit of 1,048,576
per sheet continue on further sheets, each with the header row.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

BOM = "\ufeff"
#: Leading characters that make a spreadsheet read a text cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Text that a spreadsheet reads as a plain number, such as -12.50 or -4.35%, cannot be a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?%?")

#: Size of the chunks a file is streamed in: bytes for Excel, characters before encoding for CSV.
CHUNK_SIZE = 64 * 1024
#: Rows per sheet, the header included: Excel's limit.
MAX_SHEET_ROWS = 1_048_576
#: Characters Excel does not allow in a sheet name, and the maximum length of one.
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_NAME_MAX = 31
#: Excel keeps 15 significant digits of a number; longer numbers are written as text.
_EXCEL_DIGITS = 15
#: Rows read before writing, to size the columns to their content.
_SAMPLE_ROWS = 100
_MAX_WIDTH = 60

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


@dataclass(frozen=True)
class Percentage:
    """A fraction shown as a percentage: 0.0435 with two places is 4.35%.

    Excel gets the fraction as a number with a percent format, so it sums and sorts;
    CSV gets the text a reader expects.
    """

    fraction: Decimal
    #: Digits after the point of the percentage shown.
    places: int = 2

    def __str__(self) -> str:
        return f"{self.fraction * 100:.{self.places}f}%"


def guarded_text(text: str) -> str:
    """Return text that a spreadsheet shows as written: with a leading apostrophe if it would start a formula."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(value: Any) -> str:
    """Return a cell's CSV text: text guarded against formulas, numbers and dates as spreadsheets read them."""
    if value is None:
        return ""
    if isinstance(value, str):
        return guarded_text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """Yield a CSV file in chunks: the byte order mark and header first, then rows about CHUNK_SIZE characters at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_text(header) for header in headers])
    yield (BOM + _drained(buffer)).encode("utf-8")

    for row in rows:
        writer.writerow([csv_text(value) for value in row])
        if buffer.tell() >= CHUNK_SIZE:
            yield _drained(buffer).encode("utf-8")
    rest = _drained(buffer)
    if rest:
        yield rest.encode("utf-8")


def write_csv(path: Path, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a CSV file to `path`, which appears only once complete."""
    with _replaced_when_done(path) as partial:
        with partial.open("wb") as stream:
            for chunk in csv_chunks(headers, rows):
                stream.write(chunk)


def sheet_title(name: str) -> str:
    """Return `name` as a valid Excel sheet name: at most 31 characters, none of []:*?/\\, no apostrophe at either end."""
    title = _SHEET_NAME_FORBIDDEN.sub("_", "".join(" " if unicodedata.category(char)[0] == "C" else char for char in name))
    title = _shortened(title.strip().strip("'").strip()).strip().strip("'")
    if not title or title.casefold() == "history":
        # Excel reserves "History" for its own sheet.
        return "Sheet1" if not title else title + "_"
    return title


def _shortened(title: str) -> str:
    """Cut a title to Excel's length, after a whole word where the cut would split one."""
    if len(title) <= _SHEET_NAME_MAX:
        return title
    cut = title[:_SHEET_NAME_MAX]
    if title[_SHEET_NAME_MAX].isspace() or not cut[-1].isascii():
        return cut
    space = cut.rfind(" ")
    return cut[:space] if space > _SHEET_NAME_MAX // 2 else cut


def xlsx_chunks(sheet_name: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """Yield an Excel file in chunks of CHUNK_SIZE bytes.

    An xlsx file is a zip archive whose index comes last, so the whole file is written to a
    temporary file before its first byte is yielded. The temporary file is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="metadesk-xlsx-") as folder:
        path = Path(folder) / "export.xlsx"
        write_xlsx(path, sheet_name, headers, rows)
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk


def write_xlsx(path: Path, sheet_name: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write an Excel file to `path`, which appears only once complete."""
    rows = iter(rows)
    sample = list(islice(rows, _SAMPLE_ROWS))
    with _replaced_when_done(path) as partial:
        workbook = xlsxwriter.Workbook(str(partial), {
            "constant_memory": True,
            "tmpdir": str(partial.parent),
            # Only write_string is used for text, but these keep write() from guessing if it is ever called.
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        })
        try:
            _SheetWriter(workbook, sheet_title(sheet_name), headers, sample).write(chain(sample, rows))
        finally:
            workbook.close()


class _SheetWriter:
    """Writes rows to one sheet after another, each starting with the header row."""

    def __init__(self, workbook: xlsxwriter.Workbook, title: str, headers: Sequence[str], sample: list[Sequence[Any]]) -> None:
        self.workbook = workbook
        self.title = title
        self.headers = list(headers)
        self.widths = _column_widths(self.headers, sample)
        self.header_format = workbook.add_format({"bold": True})
        self.integer_format = workbook.add_format({"num_format": "0"})
        self.date_format = workbook.add_format({"num_format": DATE_FORMAT})
        self.datetime_format = workbook.add_format({"num_format": DATETIME_FORMAT})
        self.decimal_formats: dict[int, Format] = {}
        self.percent_formats: dict[int, Format] = {}
        self.sheets = 0

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        sheet = self._next_sheet()
        row_number = 1
        for row in rows:
            if row_number >= MAX_SHEET_ROWS:
                sheet = self._next_sheet()
                row_number = 1
            for column, value in enumerate(row):
                self._write_cell(sheet, row_number, column, value)
            row_number += 1

    def _next_sheet(self) -> Worksheet:
        self.sheets += 1
        suffix = "" if self.sheets == 1 else f" ({self.sheets})"
        sheet = self.workbook.add_worksheet(self.title[:_SHEET_NAME_MAX - len(suffix)] + suffix)
        for column, width in enumerate(self.widths):
            sheet.set_column(column, column, width)
        for column, header in enumerate(self.headers):
            sheet.write_string(0, column, header, self.header_format)
        sheet.freeze_panes(1, 0)
        return sheet

    def _write_cell(self, sheet: Worksheet, row: int, column: int, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, str):
            sheet.write_string(row, column, value)
        elif isinstance(value, bool):
            sheet.write_boolean(row, column, value)
        elif isinstance(value, int):
            if len(str(abs(value))) > _EXCEL_DIGITS:
                sheet.write_string(row, column, str(value))
            else:
                sheet.write_number(row, column, value, self.integer_format)
        elif isinstance(value, Decimal):
            self._write_decimal(sheet, row, column, value)
        elif isinstance(value, Percentage):
            self._write_percentage(sheet, row, column, value)
        elif isinstance(value, float):
            sheet.write_number(row, column, value)
        elif isinstance(value, datetime.datetime):
            # Excel has no time zones: an aware time is written as the wall-clock time it carries.
            sheet.write_datetime(row, column, value.replace(tzinfo=None), self.datetime_format)
        elif isinstance(value, datetime.date):
            sheet.write_datetime(row, column, value, self.date_format)
        else:
            raise TypeError(f"cannot write a {type(value).__name__} to a spreadsheet cell (row {row}, column {column + 1}); "
                            "pass str, int, Decimal, Percentage, date, datetime, bool or None")

    def _write_percentage(self, sheet: Worksheet, row: int, column: int, value: Percentage) -> None:
        if not _exact_as_double(value.fraction):
            sheet.write_string(row, column, str(value))
            return
        number_format = self.percent_formats.get(value.places)
        if number_format is None:
            decimals = "." + "0" * value.places if value.places else ""
            number_format = self.workbook.add_format({"num_format": f"0{decimals}%"})
            self.percent_formats[value.places] = number_format
        sheet.write_number(row, column, float(value.fraction), number_format)

    def _write_decimal(self, sheet: Worksheet, row: int, column: int, value: Decimal) -> None:
        if not _exact_as_double(value):
            sheet.write_string(row, column, format(value, "f"))
            return
        exponent = value.as_tuple().exponent
        places = max(2, -exponent if isinstance(exponent, int) else 0)
        number_format = self.decimal_formats.get(places)
        if number_format is None:
            number_format = self.workbook.add_format({"num_format": "#,##0." + "0" * places})
            self.decimal_formats[places] = number_format
        sheet.write_number(row, column, float(value), number_format)


def _exact_as_double(value: Decimal) -> bool:
    """Return whether Excel shows `value` exactly when it is stored as a double: finite, with at most 15 significant digits."""
    if not value.is_finite():
        return False
    digits = value.normalize().as_tuple().digits
    return len(digits) <= _EXCEL_DIGITS and Decimal(repr(float(value))) == value


def _column_widths(headers: Sequence[str], sample: Sequence[Sequence[Any]]) -> list[float]:
    widths = [_display_width(header) for header in headers]
    for row in sample:
        for column, value in enumerate(row[:len(widths)]):
            widths[column] = max(widths[column], _display_width(csv_text(value)))
    return [min(_MAX_WIDTH, width + 2) for width in widths]


def _display_width(text: str) -> float:
    """Return the width of text in Excel's character units, counting Chinese and other wide characters twice."""
    return float(sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text))


class _replaced_when_done:
    """Gives a partial path beside `path` and moves it into place only if the block ends without error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".part")

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.partial

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> None:
        if kind is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)


def _drained(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
