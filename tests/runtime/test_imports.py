"""Imports from CSV and Excel files: reading cells as people save them, checking rows, and the two write modes."""

from __future__ import annotations

import datetime
import io
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from runtime.access import SystemAccess
from runtime.errors import PermissionDenied
from runtime.imports import ImportRejected, Importer
from runtime.imports_runs import ImportRun, ImportRuns
from runtime.record_query import ListQuery
from runtime.records import RecordService
from tests.runtime.conftest import ACTOR, ShopRuntime
from tests.runtime.import_support import xlsx_bytes

HEADERS = ["名称", "货号", "单价", "成本", "库存", "状态", "类别", "上市日期", "供应商电话"]


def csv_bytes(headers: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    lines = [",".join(headers)] + [",".join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def importer(shop: ShopRuntime, tmp_path: Path, records: RecordService | None = None) -> Importer:
    service = records or shop.records
    return Importer(service, ImportRuns(shop.engine, shop.schema, tmp_path / "data", service.clock))


def upload(imports: Importer, data: bytes, extension: str, entity: str = "product") -> ImportRun:
    return imports.runs.start(entity, ACTOR.id, f"products.{extension}", extension, io.BytesIO(data))


def checked(imports: Importer, data: bytes, extension: str = "xlsx") -> ImportRun:
    return imports.check(ACTOR, upload(imports, data, extension))


def products(shop: ShopRuntime) -> dict[str, dict[str, Any]]:
    rows = shop.records.list(ACTOR, "product", ListQuery(limit=500)).rows
    return {row["name"]: row for row in rows}


def reasons(run: ImportRun) -> dict[int, list[tuple[str, str]]]:
    return {outcome.line: [(reason.column, reason.code) for reason in outcome.reasons] for outcome in run.invalid}


CATEGORY_WITH_TITLE = """
    name: category
    label: {zh-CN: 类别, en: Category}
    title: name
    fields:
      - {name: code, type: string, label: {zh-CN: 编码, en: Code}, required: true, unique: true, length: {max: 20}}
      - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true}
"""


@pytest.fixture
def categories(shop: ShopRuntime) -> dict[str, int]:
    """Categories named by code, titled by name; two share the name 零食."""
    shop.reload({"entities/category.yaml": CATEGORY_WITH_TITLE})
    made = {}
    for code, name in (("C1", "饮料"), ("C2", "零食"), ("C3", "零食")):
        made[code] = int(shop.records.create(ACTOR, "category", {"code": code, "name": name})["id"])
    return made


def test_valid_excel_file_writes_every_row(shop: ShopRuntime, tmp_path: Path, categories: dict[str, int]) -> None:
    imports = importer(shop, tmp_path)
    data = xlsx_bytes(HEADERS, [
        ["可乐", "SKU-1", 3.5, 2, 10, "在售", "C1", datetime.date(2024, 3, 5), 13800138000],
        ["薯片", "SKU-2", "1,234.50", None, None, "retired", "饮料", "2024/3/6", "13900139000"],
    ])
    run = checked(imports, data)
    assert run.status == "checked", run.message_en
    assert run.total_rows == 2
    assert run.outcomes == ()

    run = imports.write(ACTOR, imports.begin_write(ACTOR, run, "all"))
    assert run.status == "done"
    assert run.written_rows == 2
    stored = products(shop)
    assert stored["可乐"]["price"] == Decimal("3.50")
    assert stored["可乐"]["category"] == categories["C1"]
    assert stored["可乐"]["supplier_phone"].endswith("8000")
    assert stored["薯片"]["price"] == Decimal("1234.50")
    assert stored["薯片"]["status"] == "retired"
    assert stored["薯片"]["released_on"] == datetime.date(2024, 3, 6)
    assert stored["薯片"]["stock"] == 0


def test_numbers_stored_as_numbers(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    headers = ["名称", "单价", "库存", "供应商电话", "供应商身份证", "货号"]
    run = checked(imports, xlsx_bytes(headers, [
        ["整数电话", 1234.5600000000002, 5.0, 13800138000.0, None, 12345678],
        ["长身份证", 10, 1, None, 110105194912310029, None],
    ]))
    assert run.status == "checked"
    assert reasons(run) == {3: [("供应商身份证", "import.lost_digits")]}
    message = run.invalid[0].reasons[0].message_zh
    assert "15 位" in message
    assert "文本格式" in message

    run = imports.write(ACTOR, imports.begin_write(ACTOR, run, "valid"))
    stored = shop.records.list(ACTOR, "product", ListQuery(limit=10)).rows
    assert [row["name"] for row in stored] == ["整数电话"]
    assert stored[0]["price"] == Decimal("1234.56")
    assert stored[0]["stock"] == 5
    assert stored[0]["sku"] == "12345678"
    system = RecordService(shop.model, shop.schema, shop.engine, access=SystemAccess(), keys=shop.keys)
    assert system.get(ACTOR, "product", stored[0]["id"])["supplier_phone"] in ("13800138000", "138****8000")


def test_numbers_stored_as_text_in_csv(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    headers = ["name", "price", "supplier_phone", "supplier_id", "sku"]
    run = checked(imports, csv_bytes(headers, [
        ["文本数字", '"1,234.50"', "13800138000", "11010519491231002X", "0012"],
        ["科学计数", "10", "1.38001E+10", "", ""],
    ]), "csv")
    assert reasons(run) == {3: [("supplier_phone", "import.lost_digits")]}
    imports.write(ACTOR, imports.begin_write(ACTOR, run, "valid"))
    stored = products(shop)["文本数字"]
    assert stored["price"] == Decimal("1234.50")
    assert stored["sku"] == "0012"


def test_excel_serial_and_text_dates(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价", "上市日期"], [
        ["序列号", 1, 45356],
        ["日期单元格", 1, datetime.datetime(2024, 3, 5)],
        ["中文日期", 1, "2024年3月5日"],
        ["斜杠日期", 1, "2024/3/5"],
        ["紧凑日期", 1, "20240305"],
        ["带时间", 1, 45356.5],
        ["不存在的日期", 1, "2024-02-30"],
    ]))
    assert reasons(run) == {7: [("上市日期", "import.date_with_time")], 8: [("上市日期", "type")]}
    imports.write(ACTOR, imports.begin_write(ACTOR, run, "valid"))
    dates = {name: row["released_on"] for name, row in products(shop).items()}
    assert set(dates.values()) == {datetime.date(2024, 3, 5)}
    assert len(dates) == 5


def test_gbk_csv_is_read(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, csv_bytes(["名称", "单价", "状态"], [["国标编码", "2", "停售"]], "gbk"), "csv")
    assert run.status == "checked", run.message_en
    imports.write(ACTOR, imports.begin_write(ACTOR, run, "all"))
    assert products(shop)["国标编码"]["status"] == "retired"


def test_csv_with_bom_is_read(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    data = b"\xef\xbb\xbf" + csv_bytes(["名称", "单价"], [["带BOM", "2"]])
    run = checked(imports, data, "csv")
    assert run.status == "checked", run.message_en
    assert run.valid_count == 1


def test_undecodable_csv_names_line(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    data = csv_bytes(["名称", "单价"], [["好", "1"], ["好", "2"]]) + b"\xff\xfe\xff,3\r\n"
    run = checked(imports, data, "csv")
    assert run.status == "failed"
    assert "Line 4" in str(run.message_en)
    assert "第 4 行" in str(run.message_zh)


@pytest.mark.parametrize(("headers", "expected"), [
    (["名称", "单价", "颜色"], "颜色"),
    (["名称"], "单价"),
    (["名称", "单价", "毛利"], "毛利"),
    (["名称", "单价", "Price"], "第 B 列和第 C 列"),
    (["名称", "单价", "配件"], "配件"),
])
def test_bad_columns_are_named(shop: ShopRuntime, tmp_path: Path, headers: list[str], expected: str) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(headers, [["x"] * len(headers)]))
    assert run.status == "failed"
    assert expected in str(run.message_zh)


def test_every_bad_row_kind_has_a_reason(shop: ShopRuntime, tmp_path: Path, categories: dict[str, int]) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(HEADERS, [
        ["无误", "A-1", 1, None, None, None, None, None, None],
        [None, "A-2", 1, None, None, None, None, None, None],
        ["枚举", "A-3", 1, None, None, "促销", None, None, None],
        ["金额", "A-4", "一元", None, None, None, None, None, None],
        ["引用不存在", "A-5", 1, None, None, None, "C9", None, None],
        ["引用重名", "A-6", 1, None, None, None, "零食", None, None],
        ["规则", "A-7", 1, 5, None, None, None, None, None],
        ["重复货号", "A-1", 1, None, None, None, None, None, None],
        ["手机号", "A-9", 1, None, None, None, None, None, "12345"],
        ["负库存", "A-10", 1, None, -1, None, None, None, None],
        ["日期", "A-11", 1, None, None, None, None, "明天", None],
        ["长数字", "A-12", 1, None, None, None, None, None, 1.3800138000123e17],
    ]))
    assert run.status == "checked"
    expected = {
        3: ("名称", "required"),
        4: ("状态", "choice"),
        5: ("单价", "type"),
        6: ("类别", "import.reference_missing"),
        7: ("类别", "import.reference_ambiguous"),
        8: ("成本", "rule.cost_below_price"),
        9: ("货号", "import.repeated"),
        11: ("库存", "min"),
        12: ("上市日期", "type"),
        13: ("供应商电话", "import.lost_digits"),
    }
    found = reasons(run)
    for line, reason in expected.items():
        assert reason in found[line], (line, found.get(line))
    assert 10 in found
    assert found[10][0][0] == "供应商电话"
    assert 2 not in found

    sheet = _error_sheet(imports, run)
    header = [cell.value for cell in sheet[1]]
    assert header == [*HEADERS, "错误原因"]
    by_name = {row[0].value: row[-1].value for row in sheet.iter_rows(min_row=2)}
    assert by_name[None].startswith("第 3 行：名称：")
    assert "第 4 行" in by_name["枚举"]
    assert "状态：" in by_name["枚举"]
    assert "成本不能高于单价" in by_name["规则"]
    assert "第 2 行" in by_name["重复货号"]
    assert "零食" in by_name["引用重名"]
    assert "找不到" in by_name["引用不存在"]
    assert len(by_name) == len(found)
    by_line = {int(text.split(" ")[1]): text for text in by_name.values()}
    for line, (column, _) in expected.items():
        assert f"{column}：" in by_line[line], (line, by_line[line])


def _error_sheet(imports: Importer, run: ImportRun) -> Any:
    from runtime.imports_error_file import error_file_chunks

    data = b"".join(error_file_chunks(imports.runs, run, "xlsx", "zh-CN"))
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_error_file_as_csv_reimports(shop: ShopRuntime, tmp_path: Path) -> None:
    from runtime.imports_error_file import error_file_chunks

    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价"], [["坏价", "abc"], ["好价", 2]]))
    data = b"".join(error_file_chunks(imports.runs, run, "csv", "en"))
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "名称,单价,Reason"
    assert "line 2: 单价: " in text

    fixed = data.replace(b"abc", b"3")
    again = checked(imports, fixed, "csv")
    assert again.status == "checked", again.message_en
    assert again.valid_count == 1


def test_all_or_nothing_refuses_bad_rows(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价"], [["好", 1], ["坏", -1]]))
    with pytest.raises(ImportRejected):
        imports.begin_write(ACTOR, run, "all")
    assert products(shop) == {}


def test_all_or_nothing_failing_at_write(shop: ShopRuntime, tmp_path: Path,
                                                                 categories: dict[str, int]) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价", "类别"], [["好", 1, "C1"], ["也好", 2, "C2"]]))
    assert run.outcomes == ()
    run = imports.begin_write(ACTOR, run, "all")
    category = shop.records.get(ACTOR, "category", categories["C2"])
    shop.records.delete(ACTOR, "category", categories["C2"], version=category["version"])

    run = imports.write(ACTOR, run)
    assert run.status == "checked"
    assert products(shop) == {}
    assert [outcome.line for outcome in run.invalid] == [3]
    assert "Nothing was written" in str(run.message_en)


def test_valid_only_writes_exactly_valid_rows(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价"], [["一", 1], ["二", "x"], ["三", 3], [None, 4], ["五", 5]]))
    assert run.valid_count == 3
    run = imports.write(ACTOR, imports.begin_write(ACTOR, run, "valid"))
    assert run.status == "done"
    assert run.written_rows == 3
    assert sorted(products(shop)) == ["一", "三", "五"]
    assert [outcome.line for outcome in run.invalid] == [3, 5]


def test_reimport_skips_present_rows(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    data = xlsx_bytes(["名称", "货号", "单价"], [["一", "S1", 1], ["二", "S2", 2]])
    imports.write(ACTOR, imports.begin_write(ACTOR, checked(imports, data), "all"))
    assert len(products(shop)) == 2

    again = checked(imports, data)
    assert [(outcome.line, outcome.status) for outcome in again.outcomes] == [(2, "present"), (3, "present")]
    assert again.invalid == []
    done = imports.write(ACTOR, imports.begin_write(ACTOR, again, "all"))
    assert done.written_rows == 0
    assert len(products(shop)) == 2


class _NoImport(SystemAccess):
    def allows(self, actor: Any, action: str, entity: str) -> bool:
        return action != "import"


def test_permission_denied_without_import(shop: ShopRuntime, tmp_path: Path) -> None:
    records = RecordService(shop.model, shop.schema, shop.engine, access=_NoImport(), keys=shop.keys)
    imports = importer(shop, tmp_path, records)
    run = upload(imports, xlsx_bytes(["名称", "单价"], [["一", 1]]), "xlsx")
    with pytest.raises(PermissionDenied):
        imports.check(ACTOR, run)
    assert products(shop) == {}


def test_audit_reason_names_the_file(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价"], [["一", 1]]))
    imports.write(ACTOR, imports.begin_write(ACTOR, run, "all"))
    with shop.engine.connect() as connection:
        entries = connection.execute(shop.schema.audit.select().where(shop.schema.audit.c.entity == "product")).mappings().all()
    assert [entry["reason"] for entry in entries] == [f"import {run.id}: products.xlsx"]


class _NoCategoryRead(SystemAccess):
    def allows(self, actor: Any, action: str, entity: str) -> bool:
        return not (entity == "category" and action == "read")


def test_reference_to_unreadable_entity(shop: ShopRuntime, tmp_path: Path, categories: dict[str, int]) -> None:
    records = RecordService(shop.model, shop.schema, shop.engine, access=_NoCategoryRead(), keys=shop.keys)
    imports = importer(shop, tmp_path, records)
    run = imports.check(ACTOR, upload(imports, xlsx_bytes(["名称", "单价", "类别"], [["一", 1, "C1"]]), "xlsx"))
    assert reasons(run) == {2: [("类别", "import.reference_denied")]}


def test_number_outside_excel_dates(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价", "上市日期"], [["负数", 1, -5]]))
    assert reasons(run) == {2: [("上市日期", "import.serial_date")]}


def test_migrate_creates_import_table(shop: ShopRuntime) -> None:
    from sqlalchemy import inspect

    assert inspect(shop.engine).has_table("md_import")


def test_second_write_request_is_rejected(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    run = checked(imports, xlsx_bytes(["名称", "单价"], [["一", 1]]))
    imports.begin_write(ACTOR, run, "all")
    with pytest.raises(ImportRejected):
        imports.begin_write(ACTOR, run, "valid")


class _FieldRules(SystemAccess):
    def fields(self, actor: Any, entity: str) -> Any:
        from runtime.access import FieldAccess

        return FieldAccess(hidden=frozenset({"cost"}), read_only=frozenset({"stock"}))


@pytest.mark.parametrize("header", ["成本", "库存"])
def test_hidden_and_read_only_columns_rejected(shop: ShopRuntime, tmp_path: Path, header: str) -> None:
    records = RecordService(shop.model, shop.schema, shop.engine, access=_FieldRules(), keys=shop.keys)
    imports = importer(shop, tmp_path, records)
    run = imports.check(ACTOR, upload(imports, xlsx_bytes(["名称", "单价", header], [["一", 1, 1]]), "xlsx"))
    assert run.status == "failed"
    assert f"第 C 列“{header}”不能导入" in str(run.message_zh)


def test_semicolon_and_tab_separated_csv(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    for separator in (";", "\t"):
        data = f"名称{separator}单价\r\n分隔{separator}1,5\r\n".encode("utf-8")
        run = checked(imports, data, "csv")
        assert run.status == "checked", run.message_en
        assert reasons(run) == {2: [("单价", "type")]}


def test_old_uploads_removed_with_their_imports(shop: ShopRuntime, tmp_path: Path) -> None:
    imports = importer(shop, tmp_path)
    runs = imports.runs
    old = checked(imports, csv_bytes(["名称", "单价"], [["旧", "1"]]), "csv")
    busy = upload(imports, csv_bytes(["名称", "单价"], [["忙", "1"]]), "csv")
    runs.set_status(busy, "checking")
    stray = runs.folder / "left-by-a-stopped-worker.csv"
    stray.write_bytes(b"x")
    week_ago = (datetime.datetime.now() - datetime.timedelta(days=8)).timestamp()
    for path in (runs.path_of(old), runs.path_of(busy), stray):
        os.utime(path, (week_ago, week_ago))
    with shop.engine.begin() as connection:
        connection.execute(runs.table.update().values(
            updated_at=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=8)))
    recent = upload(imports, csv_bytes(["名称", "单价"], [["新", "1"]]), "csv")

    assert runs.remove_expired(datetime.timedelta(days=7)) == 1

    with pytest.raises(KeyError):
        runs.get(old.id)
    assert not runs.path_of(old).exists()
    assert not stray.exists()
    # An import still checking keeps its file however old, and a recent one stays.
    assert runs.get(busy.id).status == "checking"
    assert runs.path_of(busy).exists()
    assert runs.get(recent.id).status == "uploaded"
    assert runs.path_of(recent).exists()
