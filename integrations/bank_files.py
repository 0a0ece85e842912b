"""The bank's daily data files (CSV): their columns, their rows read into typed records, and the sandbox's files.

integrations/bank.py documents the files. `read_file` keeps every row that reads cleanly
and reports each problem of the others with its line number. The header is line 1, and a
record that spans lines (a quoted line break) is reported at its first line.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Callable, Union

from integrations.values import BadValue, amount, day, whole

#: The columns of each kind of file, in the order the sandbox writes them; a file may order them otherwise.
COLUMNS = {
    "repayment": ("contract_no", "borrower_name", "period", "due_date", "paid_date", "principal", "interest", "penalty", "amount"),
    "overdue": ("contract_no", "borrower_name", "period", "due_date", "days_overdue", "principal", "interest", "penalty", "amount"),
}
#: The maximum length of a contract number and a borrower name, in characters.
MAX_TEXT_CHARS = 64
_CENT = Decimal("0.01")
_SANDBOX_NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强")


@dataclass(frozen=True)
class RepaymentRecord:
    """One instalment repaid (还款), amounts in yuan."""

    line: int
    contract_no: str
    borrower_name: str
    period: int
    due_date: date
    paid_date: date
    principal: Decimal
    interest: Decimal
    penalty: Decimal
    #: principal + interest + penalty, as the file states and the reader checks.
    amount: Decimal


@dataclass(frozen=True)
class OverdueRecord:
    """One instalment overdue (逾期) at the end of the file's day, amounts in yuan."""

    line: int
    contract_no: str
    borrower_name: str
    period: int
    due_date: date
    days_overdue: int
    principal: Decimal
    interest: Decimal
    penalty: Decimal
    amount: Decimal


BankRecord = Union[RepaymentRecord, OverdueRecord]


@dataclass(frozen=True)
class RowProblem:
    """Why one row of a file was left out: its line, the column (None for the whole row) and the message."""

    line: int
    column: str | None
    en: str
    zh: str


def read_file(kind: str, text: str) -> tuple[list[BankRecord], list[RowProblem]]:
    """Read the rows of a `kind` file into records; raise BadValue for a file without a header that names every column."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    columns = COLUMNS[kind]
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in columns if name not in header]
    if missing:
        raise BadValue(f"the {kind} file's header lacks the columns {', '.join(missing)}",
                       f"{kind} 文件的表头缺少列 {', '.join(missing)}")

    records: list[BankRecord] = []
    problems: list[RowProblem] = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader, None)
        except csv.Error as error:
            problems.append(RowProblem(line, None, f"line {line} is not valid CSV: {error}", f"第 {line} 行不是有效的 CSV：{error}"))
            break
        if row is None:
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(RowProblem(line, None, f"line {line} has {len(row)} fields; the header has {len(header)}",
                                       f"第 {line} 行有 {len(row)} 个字段，表头有 {len(header)} 个"))
            continue
        cells = {name: cell.strip() for name, cell in zip(header, row)}
        record, found = _read_row(kind, line, cells)
        problems.extend(found)
        if record is not None:
            records.append(record)
    return records, problems


def _read_row(kind: str, line: int, cells: dict[str, str]) -> tuple[BankRecord | None, list[RowProblem]]:
    readers: dict[str, Callable[[str], object]] = {
        "contract_no": _text, "borrower_name": _text, "period": _ordinal, "due_date": day, "paid_date": day,
        "days_overdue": _ordinal, "principal": amount, "interest": amount, "penalty": amount, "amount": amount,
    }
    problems: list[RowProblem] = []
    for column in COLUMNS[kind]:
        try:
            readers[column](cells[column])
        except BadValue as error:
            problems.append(RowProblem(line, column, f"line {line}, column {column}: {error.en}",
                                       f"第 {line} 行 {column} 列：{error.zh}"))
    if problems:
        return None, problems

    # Every cell reads cleanly now, so the typed values are read again without a check.
    contract_no, borrower_name = _text(cells["contract_no"]), _text(cells["borrower_name"])
    period, due_date = _ordinal(cells["period"]), day(cells["due_date"])
    principal, interest, penalty, stated = (amount(cells[name]) for name in ("principal", "interest", "penalty", "amount"))
    total = principal + interest + penalty
    if stated != total:
        return None, [RowProblem(line, "amount", f"line {line}, column amount: {stated} is not principal + interest + penalty "
                                 f"= {total}", f"第 {line} 行 amount 列：{stated} 不等于本金 + 利息 + 罚息 = {total}")]
    if total == 0:
        return None, [RowProblem(line, "amount", f"line {line}, column amount: the amount is 0", f"第 {line} 行 amount 列：金额为 0")]
    if kind == "repayment":
        return RepaymentRecord(line, contract_no, borrower_name, period, due_date, day(cells["paid_date"]), principal, interest,
                               penalty, stated), []
    return OverdueRecord(line, contract_no, borrower_name, period, due_date, _ordinal(cells["days_overdue"]), principal,
                         interest, penalty, stated), []


def _ordinal(cell: str) -> int:
    return whole(cell, minimum=1)


def _text(cell: str) -> str:
    if not cell or len(cell) > MAX_TEXT_CHARS:
        raise BadValue(f"the text must be 1 to {MAX_TEXT_CHARS} characters", f"应为 1 到 {MAX_TEXT_CHARS} 个字符")
    return cell


def sandbox_file(kind: str, file_day: date) -> str:
    """Return the sandbox's `kind` file of a day: 3 to 6 rows that depend only on the kind and the day.

    The file of the 28th of each month ends with a row whose amount has 3 decimals, so the
    report of bad rows can be seen in a demo.
    """
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(COLUMNS[kind])
    for index in range(3 + file_day.toordinal() % 4):
        digest = hashlib.sha256(f"{kind}|{file_day.isoformat()}|{index}".encode("utf-8")).digest()
        contract_no = f"HT{2024 + digest[0] % 3}{int.from_bytes(digest[1:3], 'big') % 10000:04d}"
        principal = (Decimal(int.from_bytes(digest[3:6], "big") % 900000 + 100000) / 100).quantize(_CENT)
        interest = (principal * Decimal("0.005")).quantize(_CENT)
        period = digest[6] % 36 + 1
        if kind == "repayment":
            due_date, penalty = file_day - timedelta(days=digest[7] % 3), Decimal("0.00")
            middle: object = file_day.isoformat()
        else:
            days_overdue = digest[7] % 90 + 1
            due_date, middle = file_day - timedelta(days=days_overdue), days_overdue
            # Penalty interest of 0.05 % of the principal a day.
            penalty = (principal * Decimal("0.0005") * days_overdue).quantize(_CENT)
        writer.writerow([contract_no, _SANDBOX_NAMES[digest[8] % len(_SANDBOX_NAMES)], period, due_date.isoformat(), middle,
                         principal, interest, penalty, principal + interest + penalty])
    if file_day.day == 28:
        writer.writerow(["HT20249999", "周杰", 1, file_day.isoformat(), file_day.isoformat() if kind == "repayment" else 1,
                         "12.345", "0.00", "0.00", "12.345"])
    return output.getvalue()
