"""A small ledger application for the export tests: payments in two branches, with a masked ID number for clerks.

Clerks read and export the payments of their own branch, and see the payee's ID number
masked. The head of the company reads and exports every payment in clear. Readers may
read every payment but export none.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from runtime.access import Actor
from tests.web.conftest import WebApp

LEDGER: dict[str, str] = {
    "app.yaml": """
        name: ledger
        label: {zh-CN: 台账, en: Ledger}
    """,
    "entities/payment.yaml": """
        name: payment
        label: {zh-CN: 付款单, en: Payment}
        title: code
        fields:
          - {name: code, type: string, label: {zh-CN: 单号, en: Code}, required: true}
          - {name: payee_id, type: resident_id, label: {zh-CN: 收款人身份证号, en: Payee ID number}}
          - {name: amount, type: money, label: {zh-CN: 金额, en: Amount}, required: true}
          - {name: paid_on, type: date, label: {zh-CN: 付款日, en: Paid on}}
          - {name: note, type: string, label: {zh-CN: 备注, en: Note}}
        list:
          columns: [code, payee_id, amount, paid_on, note]
          sort: [code]
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 出纳, en: Clerk}}
          - {name: head, label: {zh-CN: 负责人, en: Head}}
          - {name: reader, label: {zh-CN: 查询员, en: Reader}}
        org_units:
          - name: company
            label: {zh-CN: 公司, en: Company}
            kind: company
            children:
              - {name: east, label: {zh-CN: 华东分公司, en: East branch}, kind: branch}
              - {name: west, label: {zh-CN: 华西分公司, en: West branch}, kind: branch}
        grants:
          - {role: clerk, entity: payment, actions: [read, export], scope: unit}
          - {role: head, entity: payment, actions: [read, export], scope: all}
          - {role: reader, entity: payment, actions: [read], scope: all}
        field_rules:
          - {role: clerk, entity: payment, masked: [payee_id]}
    """,
}

#: Payee ID numbers with valid check digits; the last ends in X.
IDS = ["110105199003071239", "310115198511204566", "440305197701017895", "11010519491231002X"]
#: The payments seeded: code, branch, payee ID, amount, date, note.
PAYMENTS: list[tuple[str, str, str, Decimal, datetime.date, str]] = [
    ("P-001", "east", IDS[0], Decimal("1234567.89"), datetime.date(2026, 3, 5), "首付款"),
    ("P-002", "west", IDS[1], Decimal("0.10"), datetime.date(2026, 3, 6), "=1+1"),
    ("P-003", "east", IDS[2], Decimal("50000.00"), datetime.date(2026, 1, 31), "+86 尾款"),
    ("P-004", "east", IDS[3], Decimal("88.80"), datetime.date(2025, 12, 31), "@SUM(A1)"),
    ("P-005", "west", IDS[0], Decimal("7.00"), datetime.date(2026, 2, 1), "西区"),
]
EAST_CODES = [code for code, unit, *_ in PAYMENTS if unit == "east"]


def ledger_app(make_web_app: Callable[..., WebApp], tmp_path: Path) -> WebApp:
    """Write the ledger application, open it, add a clerk of each branch and the head, and seed the payments."""
    root = tmp_path / "ledger"
    for name, content in LEDGER.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    web_app = make_web_app(root)
    web_app.add_user("east_clerk", ("clerk",), "east")
    web_app.add_user("west_clerk", ("clerk",), "west")
    web_app.add_user("head", ("head",), "company")
    web_app.add_user("reader", ("reader",), "company")
    for code, unit, payee, amount, paid_on, note in PAYMENTS:
        creator = Actor(id=f"seed.{unit}", roles=("system",), org_unit=unit)
        web_app.runtime.records.create(creator, "payment", {"code": code, "payee_id": payee, "amount": amount,
                                                            "paid_on": paid_on, "note": note})
    return web_app


def export_entries(web_app: WebApp) -> list[dict[str, Any]]:
    """Return the audit entries of exports, oldest first."""
    audit = web_app.runtime.schema.audit
    with web_app.runtime.engine.connect() as connection:
        rows = connection.execute(select(audit).where(audit.c.action == "export").order_by(audit.c.id)).mappings().all()
    return [dict(row) for row in rows]


def xlsx_sheet(content: bytes) -> Worksheet:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    assert isinstance(sheet, Worksheet)
    return sheet


def sheet_rows(content: bytes) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in xlsx_sheet(content).iter_rows()]


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def list_codes(html: str) -> list[str]:
    """Return the payment codes a list page shows, in order."""
    return re.findall(r">(P-\d{3})<", html)
