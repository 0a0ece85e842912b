"""CSV and Excel files of rows: text stays text, money keeps its fen, dates are dates, and nothing runs as a formula.

Excel files are read back with openpyxl, so each check is on the cell a spreadsheet would show.
"""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Sequence

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from runtime import spreadsheets
from runtime.spreadsheets import Percentage, csv_chunks, sheet_title, write_csv, write_xlsx, xlsx_chunks

ID_NUMBER = "110105194912310021"
ID_NUMBER_X = "11010519491231002X"
HEADERS = ["身份证号", "金额", "客户", "放款日", "提交时间", "备注", "期数", "已结清"]
ROWS: list[list[Any]] = [
    [ID_NUMBER, Decimal("1234567.89"), "张三", datetime.date(2026, 3, 5), datetime.datetime(2026, 3, 5, 9, 30, 15), "=1+1", 36, True],
    [ID_NUMBER_X, Decimal("0.10"), "李四（上海）", datetime.date(2025, 12, 31), None, "+86 138", 12, False],
    ["6222020200112233445", Decimal("-50"), "王五", None, None, "@SUM(A1)", None, None],
]


def read_xlsx(data: bytes) -> Worksheet:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


def xlsx_of(headers: Sequence[str], rows: list[list[Any]], sheet_name: str = "贷款申请") -> bytes:
    return b"".join(xlsx_chunks(sheet_name, headers, rows))


def csv_of(headers: Sequence[str], rows: list[list[Any]]) -> list[list[str]]:
    data = b"".join(csv_chunks(headers, rows))
    assert data.startswith("\ufeff".encode("utf-8"))
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_xlsx_id_numbers_stay_text() -> None:
    sheet = read_xlsx(xlsx_of(HEADERS, ROWS))
    assert [sheet.cell(row, 1).value for row in (2, 3, 4)] == [ID_NUMBER, ID_NUMBER_X, "6222020200112233445"]
    for row in (2, 3, 4):
        assert sheet.cell(row, 1).data_type == "s"


def test_xlsx_money_keeps_fen() -> None:
    sheet = read_xlsx(xlsx_of(HEADERS, ROWS))
    amounts = [sheet.cell(row, 2) for row in (2, 3, 4)]
    assert [cell.value for cell in amounts] == [1234567.89, 0.1, -50]
    for cell in amounts:
        assert cell.data_type == "n"
        assert cell.number_format == "#,##0.00"


def test_xlsx_decimal_places_beyond_fen_kept() -> None:
    sheet = read_xlsx(xlsx_of(["利率"], [[Decimal("0.04355")]]))
    assert sheet.cell(2, 1).value == 0.04355
    assert sheet.cell(2, 1).number_format == "#,##0.00000"


@pytest.mark.parametrize("amount", ["12345678901234567.89", "1234567890123.456", "NaN"])
def test_xlsx_inexact_decimal_written_as_text(amount: str) -> None:
    sheet = read_xlsx(xlsx_of(["金额"], [[Decimal(amount)]]))
    assert sheet.cell(2, 1).value == amount
    assert sheet.cell(2, 1).data_type == "s"


def test_xlsx_long_integers_text_short_ones_numbers() -> None:
    sheet = read_xlsx(xlsx_of(["编号"], [[123456789012345], [1234567890123456789]]))
    assert sheet.cell(2, 1).value == 123456789012345
    assert sheet.cell(2, 1).number_format == "0"
    assert sheet.cell(3, 1).value == "1234567890123456789"


def test_xlsx_dates_are_dates() -> None:
    sheet = read_xlsx(xlsx_of(HEADERS, ROWS))
    assert sheet.cell(2, 4).value == datetime.datetime(2026, 3, 5)
    assert sheet.cell(2, 4).is_date
    assert sheet.cell(2, 4).number_format == "yyyy-mm-dd"
    assert sheet.cell(2, 5).value == datetime.datetime(2026, 3, 5, 9, 30, 15)
    assert sheet.cell(2, 5).number_format == "yyyy-mm-dd hh:mm:ss"


def test_xlsx_aware_time_keeps_wall_clock() -> None:
    moment = datetime.datetime(2026, 3, 5, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    sheet = read_xlsx(xlsx_of(["时间"], [[moment]]))
    assert sheet.cell(2, 1).value == datetime.datetime(2026, 3, 5, 9, 30)


def test_xlsx_formula_text_stays_text() -> None:
    sheet = read_xlsx(xlsx_of(HEADERS, ROWS))
    assert [sheet.cell(row, 6).value for row in (2, 3, 4)] == ["=1+1", "+86 138", "@SUM(A1)"]
    for row in (2, 3, 4):
        assert sheet.cell(row, 6).data_type == "s"


def test_xlsx_chinese_text_booleans_and_blanks() -> None:
    sheet = read_xlsx(xlsx_of(HEADERS, ROWS))
    assert [cell.value for cell in sheet[1]] == HEADERS
    assert sheet.cell(3, 3).value == "李四（上海）"
    assert (sheet.cell(2, 8).value, sheet.cell(3, 8).value) == (True, False)
    assert sheet.cell(4, 4).value is None
    assert sheet.max_row == 4
    assert sheet.freeze_panes == "A2"


def test_xlsx_rejects_unknown_value_type() -> None:
    with pytest.raises(TypeError, match="cannot write a list"):
        xlsx_of(["a"], [[["nested"]]])


def test_xlsx_rows_read_lazily() -> None:
    """The rows are read as they are written, so a generator over pages of a database works."""
    seen: list[int] = []

    def rows() -> Iterator[list[Any]]:
        for number in range(250):
            seen.append(number)
            yield [number]

    chunks = xlsx_chunks("Sheet", ["n"], rows())
    assert seen == []
    sheet = read_xlsx(b"".join(chunks))
    assert len(seen) == 250
    assert sheet.cell(251, 1).value == 249


def test_xlsx_overflow_continues_on_next_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spreadsheets, "MAX_SHEET_ROWS", 3)
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_of(["n"], [[1], [2], [3], [4], [5]], "客户")))
    assert workbook.sheetnames == ["客户", "客户 (2)", "客户 (3)"]
    assert [[cell.value for cell in row] for row in workbook["客户 (2)"].iter_rows()] == [["n"], [3], [4]]
    assert [[cell.value for cell in row] for row in workbook["客户 (3)"].iter_rows()] == [["n"], [5]]


@pytest.mark.parametrize(("name", "title"), [
    ("贷款申请", "贷款申请"),
    ("a/b\\c?d*e:f[g]h", "a_b_c_d_e_f_g_h"),
    ("'quoted'", "quoted"),
    ("", "Sheet1"),
    ("   ", "Sheet1"),
    ("History", "History_"),
    ("一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三", "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一"),
    ("Applications by dealer and month of submission", "Applications by dealer and"),
    ("Applications by dealer and month", "Applications by dealer and"),
    ("Loan amount by month (dealers) x", "Loan amount by month (dealers)"),
    ("Loan amount by month (dealers)", "Loan amount by month (dealers)"),
    ("Supercalifragilisticexpialidocious words", "Supercalifragilisticexpialidoci"),
])
def test_sheet_title_follows_excel_rules(name: str, title: str) -> None:
    assert sheet_title(name) == title
    assert len(title) <= 31


def test_xlsx_percentages_are_numbers() -> None:
    rows: list[list[Any]] = [[Percentage(Decimal("0.0435"))], [Percentage(Decimal("0.04355"), 3)], [Percentage(Decimal("1"), 0)]]
    sheet = read_xlsx(xlsx_of(["年化利率"], rows))

    cells = [sheet.cell(row=row, column=1) for row in (2, 3, 4)]
    assert [(cell.data_type, cell.value, cell.number_format) for cell in cells] == [
        ("n", 0.0435, "0.00%"), ("n", 0.04355, "0.000%"), ("n", 1, "0%")]


def test_csv_percentages_as_text() -> None:
    rows = csv_of(["年化利率"], [[Percentage(Decimal("0.0435"))], [Percentage(Decimal("0.04355"), 3)]])
    assert rows[1:] == [["4.35%"], ["4.355%"]]


def test_xlsx_uses_sanitized_sheet_name() -> None:
    sheet = read_xlsx(xlsx_of(["a"], [["x"]], "报表: 2026/03"))
    assert sheet.title == "报表_ 2026_03"


def test_csv_guards_formula_text() -> None:
    rows = csv_of(HEADERS, ROWS)
    assert [row[5] for row in rows[1:]] == ["'=1+1", "'+86 138", "'@SUM(A1)"]


@pytest.mark.parametrize(("text", "written"), [
    ("-12.50", "-12.50"),
    ("-4.35%", "-4.35%"),
    ("+5", "+5"),
    ("-1+2", "'-1+2"),
    ("\tcmd", "'\tcmd"),
    ("\r=1", "'\r=1"),
    ("普通文本", "普通文本"),
])
def test_csv_guard_spares_plain_numbers(text: str, written: str) -> None:
    assert csv_of(["a"], [[text]])[1] == [written]


def test_csv_values_as_spreadsheets_read_them() -> None:
    rows = csv_of(HEADERS, ROWS)
    assert rows[0] == HEADERS
    assert rows[1] == [ID_NUMBER, "1234567.89", "张三", "2026-03-05", "2026-03-05 09:30:15", "'=1+1", "36", "TRUE"]
    assert rows[3] == ["6222020200112233445", "-50", "王五", "", "", "'@SUM(A1)", "", ""]


def test_csv_chunks_split_large_files() -> None:
    rows = [[f"第{number}行", "x" * 100] for number in range(2000)]
    chunks = list(csv_chunks(["a", "b"], rows))
    assert len(chunks) > 3
    assert all(len(chunk.decode("utf-8")) < spreadsheets.CHUNK_SIZE + 1000 for chunk in chunks)
    assert len(list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))) == 2001


def test_write_paths_appear_complete(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "out" / "a.xlsx", "表", HEADERS, ROWS)
    write_csv(tmp_path / "out" / "a.csv", HEADERS, ROWS)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["a.csv", "a.xlsx"]
    assert read_xlsx((tmp_path / "out" / "a.xlsx").read_bytes()).cell(2, 1).value == ID_NUMBER
    assert (tmp_path / "out" / "a.csv").read_bytes() == b"".join(csv_chunks(HEADERS, ROWS))


def failing_rows() -> Iterator[list[Any]]:
    yield ["ok"]
    raise RuntimeError("database went away")


def test_write_failure_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="database went away"):
        write_xlsx(tmp_path / "a.xlsx", "表", ["a"], failing_rows())
    with pytest.raises(RuntimeError, match="database went away"):
        write_csv(tmp_path / "a.csv", ["a"], failing_rows())

    assert list(tmp_path.iterdir()) == []
