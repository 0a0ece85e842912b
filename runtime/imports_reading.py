"""Reading an uploaded file into rows of cells: CSV in UTF-8 or GB18030 (which includes GBK), or Excel and
OpenDocument spreadsheets through python-calamine.

The first row contains the headers. Rows whose cells are all empty are skipped, but every row
keeps its line number in the file, so that messages name the line shown in the spreadsheet.
CSV cells are text. Spreadsheet cells are text, float, bool, date or datetime, as
python-calamine returns them.
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from runtime.imports_columns import ImportFileError

#: File extensions an import accepts.
SPREADSHEET_EXTENSIONS = frozenset({"xlsx", "xls", "ods"})
IMPORT_EXTENSIONS = SPREADSHEET_EXTENSIONS | {"csv"}

#: The characters a CSV file may separate its cells with; a tie goes to the first.
_DELIMITERS = ",\t;"


@dataclass(frozen=True)
class SheetRow:
    #: The row's line number in the file, counting from 1 at the headers.
    line: int
    cells: tuple[Any, ...]


@dataclass(frozen=True)
class Sheet:
    headers: list[str]
    rows: list[SheetRow]


def read_sheet(path: Path, extension: str) -> Sheet:
    """Read the headers and data rows of a stored upload; raise ImportFileError if it cannot be read."""
    if extension == "csv":
        table = _csv_rows(path.read_bytes())
    elif extension in SPREADSHEET_EXTENSIONS:
        table = _spreadsheet_rows(path)
    else:
        raise ImportFileError(f"Files of type .{extension} cannot be imported; upload a .csv, .xlsx, .xls or .ods file.",
                              f"不能导入 .{extension} 类型的文件；请上传 .csv、.xlsx、.xls 或 .ods 文件。")
    lines = [(line, cells) for line, cells in table if any(not _empty(cell) for cell in cells)]
    if not lines:
        raise ImportFileError("The file is empty; fill in the template's header row and one row per record.",
                              "文件为空；请保留模板的标题行，每条记录填写一行。")
    header_line, header_cells = lines[0]
    if header_line != 1:
        raise ImportFileError(f"The headers must be in line 1, but line 1 is empty and the first values are in line {header_line}.",
                              f"第 1 行应为列标题，但第 1 行为空，第一个值在第 {header_line} 行。")
    headers = [_header_text(cell) for cell in header_cells]
    width = len(headers)
    rows = []
    for line, cells in lines[1:]:
        extra = [cell for cell in cells[width:] if not _empty(cell)]
        if extra:
            raise ImportFileError(f"Line {line} has values to the right of the last header; give those columns a header or remove the values.",
                                  f"第 {line} 行在最后一个列标题右侧还有值；请为这些列填写标题或删除这些值。")
        padded = tuple(cells[:width]) + ("",) * (width - len(cells))
        rows.append(SheetRow(line, padded))
    return Sheet(headers, rows)


def count_rows(path: Path, extension: str) -> int:
    return len(read_sheet(path, extension).rows)


def _empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _header_text(cell: Any) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return "" if cell is None else str(cell).strip()


def decode_text(data: bytes) -> str:
    """Decode CSV bytes as UTF-8 (with or without a byte order mark) or else GB18030; name the line that neither decodes."""
    if data.startswith(b"\xef\xbb\xbf"):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    else:
        encodings = ("utf-8", "gb18030")
    failures: list[UnicodeDecodeError] = []
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as error:
            failures.append(error)
    # The encoding that read furthest is the likelier one, so its first bad byte is reported.
    furthest = max(failures, key=lambda error: error.start)
    line = data.count(b"\n", 0, furthest.start) + 1
    name = "UTF-8" if furthest.encoding.startswith("utf") else "GBK/GB18030"
    raise ImportFileError(
        f"Line {line} of the file contains bytes that are not valid text in UTF-8 or GBK (read as {name}, the bytes "
        f"{data[furthest.start:furthest.start + 4].hex(' ')} are invalid). Save the file as \"CSV UTF-8\" and upload it again.",
        f"文件第 {line} 行含有既不是 UTF-8 也不是 GBK 编码的字节（按 {name} 读取时字节 "
        f"{data[furthest.start:furthest.start + 4].hex(' ')} 无效）。请另存为“CSV UTF-8”格式后重新上传。",
    )


def _csv_rows(data: bytes) -> list[tuple[int, tuple[Any, ...]]]:
    text = decode_text(data)
    # The header line names the separator: the candidate it contains most often, a comma when it contains none.
    header_line = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter if header_line.count(delimiter) else ",")
    rows = []
    line = 1
    try:
        for cells in reader:
            rows.append((line, tuple(cells)))
            # A quoted cell may span lines: the next record starts after the last line this one read.
            line = reader.line_num + 1
    except csv.Error as error:
        raise ImportFileError(f"Line {reader.line_num} of the file is not valid CSV ({error}); check its quotation marks.",
                              f"文件第 {reader.line_num} 行不是有效的 CSV（{error}）；请检查引号。") from error
    return rows


def _spreadsheet_rows(path: Path) -> list[tuple[int, tuple[Any, ...]]]:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        table = sheet.to_python(skip_empty_area=False)
    except (CalamineError, ValueError, OSError) as error:
        raise ImportFileError(f"The spreadsheet could not be read ({error}); save it again in Excel as .xlsx and upload it again.",
                              f"无法读取该表格文件（{error}）；请在 Excel 中重新另存为 .xlsx 后上传。") from error
    return [(number, tuple(_cell(cell) for cell in cells)) for number, cells in enumerate(table, start=1)]


def _cell(cell: Any) -> Any:
    if isinstance(cell, datetime.time):
        return cell.isoformat()
    if isinstance(cell, datetime.timedelta):
        return str(cell)
    return cell
