"""Excel export of a list screen: the same rows, columns, scope and masks as the screen and the CSV, with typed cells."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Callable

import pytest

from runtime.access import Actor
from runtime.record_query import ListQuery
from tests.web.conftest import WebApp
from tests.web.export_support import (EAST_CODES, IDS, PAYMENTS, csv_rows, export_entries, ledger_app, list_codes, sheet_rows,
                                      xlsx_sheet)

PAYMENTS_URL = "/records/payment"
HEADERS = ["单号", "收款人身份证号", "金额", "付款日", "备注"]


@pytest.fixture
def ledger(make_web_app: Callable[..., WebApp], tmp_path: Path) -> WebApp:
    return ledger_app(make_web_app, tmp_path)


def masked_ids(web_app: WebApp, user_id: str) -> dict[str, str]:
    """Return each payment's ID number as `user_id` reads it through the runtime."""
    actor = web_app.state.accounts.actor(web_app.state.accounts.user(user_id) or {})
    page = web_app.state.records.list(actor, "payment", ListQuery(limit=100))
    return {row["code"]: row["payee_id"] for row in page.rows}


def test_xlsx_download_headers_and_types(ledger: WebApp) -> None:
    exported = ledger.client("head").get(f"{PAYMENTS_URL}/export.xlsx")

    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = exported.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="payment-{datetime.date.today().isoformat()}.xlsx"')
    assert "filename*=UTF-8''%E4%BB%98%E6%AC%BE%E5%8D%95-" in disposition
    sheet = xlsx_sheet(exported.content)
    assert sheet.title == "付款单"
    rows = sheet_rows(exported.content)
    assert rows[0] == HEADERS
    assert [row[0] for row in rows[1:]] == [code for code, *_ in PAYMENTS]
    assert [row[1] for row in rows[1:]] == [payee for _, _, payee, *_ in PAYMENTS]
    assert [Decimal(str(row[2])).quantize(Decimal("0.01")) for row in rows[1:]] == [amount for *_, amount, _, _ in PAYMENTS]
    assert [row[3] for row in rows[1:]] == [datetime.datetime.combine(paid_on, datetime.time()) for *_, paid_on, _ in PAYMENTS]
    assert [row[4] for row in rows[1:]] == [note for *_, note in PAYMENTS]
    for cell in sheet["B"][1:]:
        assert cell.data_type == "s"
    for cell in sheet["C"][1:]:
        assert (cell.data_type, cell.number_format) == ("n", "#,##0.00")
    for cell in sheet["D"][1:]:
        assert (cell.is_date, cell.number_format) == (True, "yyyy-mm-dd")


def test_xlsx_agrees_with_csv_row_for_row(ledger: WebApp) -> None:
    client = ledger.client("head")
    workbook = sheet_rows(client.get(f"{PAYMENTS_URL}/export.xlsx", params={"sort": "-amount"}).content)
    table = csv_rows(client.get(f"{PAYMENTS_URL}/export.csv", params={"sort": "-amount"}).content)

    assert workbook[0] == table[0] == HEADERS
    assert len(workbook) == len(table) == len(PAYMENTS) + 1
    for sheet_row, csv_row in zip(workbook[1:], table[1:]):
        assert [sheet_row[0], sheet_row[1]] == csv_row[:2]
        assert f"{Decimal(str(sheet_row[2])):.2f}" == csv_row[2]
        assert sheet_row[3].date().isoformat() == csv_row[3]
    # The CSV guards text that a spreadsheet would run as a formula; the workbook keeps it as a text cell.
    notes = {row[0]: row[4] for row in workbook[1:]}
    guarded = {row[0]: row[4] for row in table[1:]}
    assert (notes["P-002"], guarded["P-002"]) == ("=1+1", "'=1+1")
    assert (notes["P-003"], guarded["P-003"]) == ("+86 尾款", "'+86 尾款")
    assert (notes["P-004"], guarded["P-004"]) == ("@SUM(A1)", "'@SUM(A1)")


def test_xlsx_clerk_scope_and_masks(ledger: WebApp) -> None:
    client = ledger.client("east_clerk")
    page = client.get(PAYMENTS_URL)
    rows = sheet_rows(client.get(f"{PAYMENTS_URL}/export.xlsx").content)

    assert list_codes(page.text) == EAST_CODES
    assert [row[0] for row in rows[1:]] == EAST_CODES
    masked = masked_ids(ledger, "east_clerk")
    assert [row[1] for row in rows[1:]] == [masked[code] for code in EAST_CODES]
    for code in EAST_CODES:
        assert masked[code] in page.text
        assert masked[code] not in IDS
    assert not {row[1] for row in rows[1:]} & set(IDS)


def test_xlsx_export_audit_entry(ledger: WebApp) -> None:
    exported = ledger.client("east_clerk").get(f"{PAYMENTS_URL}/export.xlsx", params={"amount.min": "50"})

    assert [row[0] for row in sheet_rows(exported.content)[1:]] == ["P-001", "P-003", "P-004"]
    [entry] = export_entries(ledger)
    assert (entry["actor"], entry["entity"], entry["action"]) == ("east_clerk", "payment", "export")
    assert entry["changes"]["format"] == "xlsx"
    assert entry["changes"]["rows"] == 3
    assert entry["changes"]["fields"] == ["code", "payee_id", "amount", "paid_on", "note"]


def test_xlsx_refused_without_export_action(ledger: WebApp) -> None:
    reader = ledger.client("reader")

    page = reader.get(PAYMENTS_URL)
    refused = reader.get(f"{PAYMENTS_URL}/export.xlsx")

    assert page.status_code == 200
    assert "导出 Excel" not in page.text
    assert refused.status_code == 403
    assert "您无权导出付款单" in refused.text
    assert export_entries(ledger) == []


def test_xlsx_bad_filter_exports_nothing(ledger: WebApp) -> None:
    rejected = ledger.client("head").get(f"{PAYMENTS_URL}/export.xlsx", params={"amount.min": "abc"})

    assert rejected.status_code == 400
    assert "未导出任何数据" in rejected.text
    assert export_entries(ledger) == []


def test_list_shows_both_export_buttons(ledger: WebApp) -> None:
    page = ledger.client("head", lang="en").get(PAYMENTS_URL, params={"q": "P-00"})

    assert 'href="/records/payment/export.xlsx?q=P-00' in page.text
    assert 'href="/records/payment/export.csv?q=P-00' in page.text
    assert "Export Excel" in page.text
    assert 'href="/exports"' in page.text


def test_xlsx_filtered_like_the_list(ledger: WebApp) -> None:
    client = ledger.client("head")
    params = {"paid_on.from": "2026-01-01", "sort": "paid_on"}

    page = client.get(PAYMENTS_URL, params=params)
    rows = sheet_rows(client.get(f"{PAYMENTS_URL}/export.xlsx", params=params).content)

    assert [row[0] for row in rows[1:]] == list_codes(page.text)
    assert list_codes(page.text) == ["P-003", "P-005", "P-001", "P-002"]


RATES = {
    "app.yaml": "name: rates\nlabel: {zh-CN: 费率, en: Rates}\n",
    "entities/tariff.yaml": """
name: tariff
label: {zh-CN: 费率表, en: Tariff}
title: code
fields:
  - {name: code, type: string, label: {zh-CN: 代码, en: Code}, required: true}
  - {name: rate, type: percent, places: 5, label: {zh-CN: 费率, en: Rate}}
list:
  columns: [code, rate]
  sort: [code]
""",
    "permissions/access.yaml": """
roles:
  - {name: clerk, label: {zh-CN: 出纳, en: Clerk}}
org_units:
  - {name: company, label: {zh-CN: 公司, en: Company}, kind: company}
grants:
  - {role: clerk, entity: tariff, actions: [read, create, export], scope: all}
""",
}


def test_percent_columns_typed_in_excel(make_web_app: Callable[..., WebApp], tmp_path: Path) -> None:
    root = tmp_path / "rates"
    for name, content in RATES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content, encoding="utf-8")
    web_app = make_web_app(root)
    web_app.add_user("clerk", ("clerk",), "company")
    creator = Actor(id="seed", roles=("system",), org_unit="company")
    for code, rate in (("A", "0.0435"), ("B", "0.04355"), ("C", None)):
        web_app.runtime.records.create(creator, "tariff", {"code": code, "rate": rate})
    client = web_app.client("clerk")

    sheet = xlsx_sheet(client.get("/records/tariff/export.xlsx").content)
    table = csv_rows(client.get("/records/tariff/export.csv").content)

    rates = [sheet.cell(row=row, column=2) for row in (2, 3, 4)]
    assert [(cell.data_type, cell.value, cell.number_format) for cell in rates[:2]] == [
        ("n", 0.0435, "0.00%"), ("n", 0.04355, "0.000%")]
    assert rates[2].value is None
    assert [row[1] for row in table[1:]] == ["4.35%", "4.355%", ""]
