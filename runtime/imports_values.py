"""Turning spreadsheet cells into input values, the way people really save them.

The record service's own checks (metamodel/values.py) then normalize the value: full-width
digits, "1,234.50", "2024年3月5日", an enum's label. What happens here is only what a cell
adds to typed input:

- Excel keeps 15 significant digits of a number, so an 18-digit ID number typed into a
  number cell has lost its last digits. Such a cell is rejected with a message, never stored.
  A whole number of up to 15 digits, such as 13800138000.0, becomes "13800138000".
- Text in scientific notation ("1.38E+10"), which Excel writes to CSV for long numbers, is
  rejected for text and identifier fields for the same reason.
- Numbers go to Decimal through their 15 significant digits, so 0.1 + 0.2 stays 0.3.
- A number in a date or date-time column is an Excel serial date (the 1900 date system).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

from metamodel import model as m
from runtime.errors import FieldError

#: Significant digits Excel keeps of a number (IEEE 754 double precision, shown to 15 digits).
EXCEL_DIGITS = 15

#: Excel's serial date 0 in the 1900 date system; serials from 61 on count from here.
_EXCEL_EPOCH = datetime.datetime(1899, 12, 30)
#: The largest serial Excel accepts: 9999-12-31.
_MAX_SERIAL = 2958465

_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_TIME = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")

_TEXT_TYPES = m.TEXT_TYPES | m.IDENTIFIER_TYPES | {"enum"}

#: Marks a cell that is empty, so that the field is left out of the input and its default applies.
EMPTY = object()


class CellProblem(Exception):
    def __init__(self, code: str, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.error = FieldError(code, message_en, message_zh)


def is_empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def cell_input(field: m.Field, cell: Any) -> Any:
    """Return the input value of a cell for `field`, or EMPTY; raise CellProblem when the cell cannot be trusted."""
    if is_empty(cell):
        return EMPTY
    if field.type in _TEXT_TYPES:
        return _text(field, cell)
    if field.type in m.NUMERIC_TYPES:
        return _number(cell)
    if field.type == "boolean":
        return int(cell) if isinstance(cell, float) and cell in (0.0, 1.0) else cell
    if field.type == "date":
        return _date(cell)
    if field.type == "datetime":
        return _datetime(cell)
    return cell.strip() if isinstance(cell, str) else cell


def _text(field: m.Field, cell: Any) -> str:
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, (int, float)):
        return _whole_number_text(cell)
    if isinstance(cell, datetime.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, datetime.date):
        return cell.isoformat()
    text = str(cell).strip()
    if field.type != "enum" and _SCIENTIFIC.fullmatch(text):
        raise _lost_digits(text)
    return text


def _whole_number_text(cell: int | float) -> str:
    """Return a number as text without ".0"; a number of more than 15 digits has lost digits and is rejected."""
    if isinstance(cell, int):
        return str(cell)
    if cell.is_integer():
        if abs(cell) >= 10 ** EXCEL_DIGITS:
            raise _lost_digits(format(cell, ".15g"))
        return str(int(cell))
    return format(cell, f".{EXCEL_DIGITS}g")


def _lost_digits(value_text: str) -> CellProblem:
    return CellProblem(
        "import.lost_digits",
        f"the value {value_text} was stored as a number, and Excel keeps only 15 digits of a number, so its last digits are lost; "
        "format the column as text, type the value again and import again",
        f"该值 {value_text} 以数字形式保存，Excel 只保留数字的 15 位有效数字，末尾几位已丢失；请将该列设置为文本格式，重新输入后再导入",
    )


def _number(cell: Any) -> Any:
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, float):
        if cell.is_integer() and abs(cell) >= 10 ** EXCEL_DIGITS:
            raise _lost_digits(format(cell, ".15g"))
        # The 15 significant digits Excel shows drop binary noise such as 1234.5600000000002.
        return Decimal(format(cell, f".{EXCEL_DIGITS}g"))
    if isinstance(cell, str):
        return cell.strip()
    return cell


def _date(cell: Any) -> Any:
    if isinstance(cell, datetime.datetime):
        if cell.time() != datetime.time(0):
            raise _has_time(cell.isoformat(sep=" "))
        return cell.date()
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        moment = _serial(cell)
        if moment.time() != datetime.time(0):
            raise _has_time(moment.isoformat(sep=" "))
        return moment.date()
    if isinstance(cell, str):
        text = cell.strip()
        compact = _COMPACT_DATE.fullmatch(text)
        if compact:
            return f"{compact[1]}-{compact[2]}-{compact[3]}"
        with_time = _DATE_TIME.fullmatch(text)
        if with_time and int(with_time[4]) == 0 and int(with_time[5]) == 0 and int(with_time[6] or 0) == 0:
            return f"{with_time[1]}-{with_time[2]}-{with_time[3]}"
        return text
    return cell


def _has_time(value_text: str) -> CellProblem:
    return CellProblem("import.date_with_time", f"{value_text} has a time of day, but this column takes a date only; enter the date alone",
                       f"{value_text} 含有时间，但该列只填写日期；请只填写日期")


def _datetime(cell: Any) -> Any:
    if isinstance(cell, datetime.datetime):
        return cell
    if isinstance(cell, datetime.date):
        return datetime.datetime.combine(cell, datetime.time(0))
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return _serial(cell)
    if isinstance(cell, str):
        text = cell.strip()
        with_time = _DATE_TIME.fullmatch(text)
        if with_time:
            try:
                return datetime.datetime(int(with_time[1]), int(with_time[2]), int(with_time[3]), int(with_time[4]),
                                         int(with_time[5]), int(with_time[6] or 0)).isoformat(sep=" ")
            except ValueError:
                # No such day or time: the record service's check names the problem.
                return text
        return text
    return cell


def _serial(number: float) -> datetime.datetime:
    """Return the moment of an Excel serial date, to the second."""
    if not 1 <= number <= _MAX_SERIAL:
        raise CellProblem("import.serial_date", f"{number:g} is not a date; enter a date such as 2024-03-05",
                          f"{number:g} 不是日期；请填写日期，例如 2024-03-05")
    # Excel counts 1900-02-29, a day that did not exist, so serials before it start one day later.
    epoch = _EXCEL_EPOCH if number >= 61 else _EXCEL_EPOCH + datetime.timedelta(days=1)
    seconds = round(number * 86400)
    return epoch + datetime.timedelta(seconds=seconds)
