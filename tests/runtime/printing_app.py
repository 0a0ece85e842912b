"""A small lending application with print templates, its users and records, for the printing tests.

Clerks of branch A may read and print contracts of their own unit and read its borrowers,
but not banks. Viewers read every contract and may not print. Auditors read every
contract but print only those of branch A. The contract's internal note is hidden from
clerks, and borrowers' ID numbers are masked for everyone.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
from sqlalchemy import Engine, select

from metamodel import load_app
from runtime.access import Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess
from runtime.printing import RecordPrinting
from runtime.records import RecordService
from runtime.schema import build_schema
from tests.runtime.conftest import write_app

ADMIN = Actor(id="admin", roles=("system",))
CLERK = Actor(id="clerk", roles=("clerk",), org_unit="branch_a", address="127.0.0.1")
VIEWER = Actor(id="viewer", roles=("viewer",), org_unit="head_office")
AUDITOR = Actor(id="auditor", roles=("auditor",), org_unit="branch_a")

#: Valid resident ID numbers (their check characters are right).
ID_NUMBERS = ("11010519491231002X", "110105198001010032")

CONTRACT_HTML = """\
<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><style>@page { margin: 15mm; }</style></head>
<body>
<h1>借款合同</h1>
<p>合同编号：{{ record.contract_no }}</p>
<p>借款人：{{ record.borrower.name }}，身份证号：{{ record.borrower.id_number }}</p>
<p>贷款银行：{{ record.bank.name }}</p>
<p>借款金额：{{ record.amount|money }}（大写：人民币{{ record.amount|rmb_capital }}）</p>
<p>签订日期：{{ record.signed_on }}；类型：{{ record.kind }}</p>
<p>内部备注：{{ record.internal_note }}</p>
</body></html>
"""

LENDING_APP: dict[str, str] = {
    "app.yaml": """
        name: lending
        label: {zh-CN: 借贷, en: Lending}
    """,
    "entities/bank.yaml": """
        name: bank
        label: {zh-CN: 银行, en: Bank}
        title: name
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true}
    """,
    "entities/borrower.yaml": """
        name: borrower
        label: {zh-CN: 借款人, en: Borrower}
        title: name
        fields:
          - {name: name, type: string, label: {zh-CN: 姓名, en: Name}, required: true}
          - {name: id_number, type: resident_id, label: {zh-CN: 身份证号, en: ID number}, encrypted: true, masked: true}
    """,
    "entities/contract.yaml": """
        name: contract
        label: {zh-CN: 合同, en: Contract}
        title: contract_no
        fields:
          - {name: contract_no, type: string, label: {zh-CN: 合同编号, en: Contract number}, required: true}
          - {name: borrower, type: reference, entity: borrower, label: {zh-CN: 借款人, en: Borrower}, required: true}
          - {name: bank, type: reference, entity: bank, label: {zh-CN: 银行, en: Bank}}
          - {name: amount, type: money, label: {zh-CN: 金额, en: Amount}, required: true}
          - {name: signed_on, type: date, label: {zh-CN: 签订日期, en: Signed on}}
          - {name: kind, type: enum, label: {zh-CN: 类型, en: Kind}, choices: [{value: new, label: {zh-CN: 新增, en: New}},
             {value: renewal, label: {zh-CN: 续贷, en: Renewal}}]}
          - {name: internal_note, type: string, label: {zh-CN: 内部备注, en: Internal note}}
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 柜员, en: Clerk}}
          - {name: viewer, label: {zh-CN: 查询员, en: Viewer}}
          - {name: auditor, label: {zh-CN: 稽核员, en: Auditor}}
        org_units:
          - name: head_office
            label: {zh-CN: 总部, en: Head office}
            kind: company
            children:
              - {name: branch_a, label: {zh-CN: 甲支行, en: Branch A}, kind: branch}
              - {name: branch_b, label: {zh-CN: 乙支行, en: Branch B}, kind: branch}
        grants:
          - {role: clerk, entity: contract, actions: [read, print], scope: unit}
          - {role: clerk, entity: borrower, actions: [read], scope: unit}
          - {role: viewer, entity: contract, actions: [read], scope: all}
          - {role: auditor, entity: contract, actions: [read], scope: all}
          - {role: auditor, entity: contract, actions: [print], scope: unit}
        field_rules:
          - {role: clerk, entity: contract, hidden: [internal_note]}
    """,
    "templates/contract.yaml": """
        name: contract
        label: {zh-CN: 借款合同, en: Loan contract}
        entity: contract
        kind: document
        file: contract.html
        paper: A5
    """,
    "templates/contract.html": CONTRACT_HTML,
    "templates/slip.yaml": """
        name: slip
        label: {zh-CN: 放款通知书（套打）, en: Payout slip}
        entity: contract
        kind: overlay
        paper: A5
        positions:
          - {field: borrower.name, x_mm: 30, y_mm: 40, width_mm: 50, font_size: 12}
          - {field: amount, x_mm: 100, y_mm: 60, font_size: 10}
          - {field: borrower.id_number, x_mm: 30, y_mm: 80}
          - {field: bank.name, x_mm: 30, y_mm: 100}
    """,
}


@dataclass
class Lending:
    """The lending application migrated on the test's database, with its users and records."""

    root: Path
    engine: Engine
    system: RecordService
    records: RecordService
    printing: RecordPrinting
    ids: dict[str, int] = field(default_factory=dict)

    def audit_entries(self, action: str = "print") -> list[dict[str, Any]]:
        audit = self.system.schema.audit
        with self.engine.connect() as connection:
            rows = connection.execute(select(audit).where(audit.c.action == action).order_by(audit.c.id)).mappings().all()
        return [dict(row) for row in rows]


def open_lending(root: Path, engine: Engine, backups: Path, files: dict[str, str | None] | None = None) -> Lending:
    """Write the application with `files` changed, migrate it, add its users and records."""
    write_app(root, {**LENDING_APP, **(files or {})})
    model = load_app(root)
    schema = build_schema(model)
    migrate(engine, schema, model, backup_root=backups)
    keys = KeyRing.generate()
    system = RecordService(model, schema, engine, access=SystemAccess(), keys=keys)
    store = PermissionStore(model, schema, engine)
    admin = PermissionAdmin(store)
    for actor in (CLERK, VIEWER, AUDITOR):
        assert actor.org_unit is not None
        admin.add_user(ADMIN, actor.id, actor.id, actor.id, actor.org_unit)
        admin.assign(ADMIN, actor.id, actor.roles[0], actor.org_unit)
    records = RecordService(model, schema, engine, access=PolicyAccess(store, schema), keys=keys)
    lending = Lending(root, engine, system, records, RecordPrinting(records))

    def create(entity: str, unit: str, values: dict[str, Any]) -> int:
        return int(system.create(Actor(id="seed", roles=("system",), org_unit=unit), entity, values)["id"])

    ids = lending.ids
    ids["bank"] = create("bank", "head_office", {"name": "测试银行"})
    ids["borrower_a"] = create("borrower", "branch_a", {"name": "张三", "id_number": ID_NUMBERS[0]})
    ids["borrower_b"] = create("borrower", "branch_b", {"name": "李四", "id_number": ID_NUMBERS[1]})
    common = {"bank": ids["bank"], "signed_on": datetime.date(2026, 12, 5), "kind": "renewal", "internal_note": "仅限内部"}
    ids["contract_a"] = create("contract", "branch_a", {"contract_no": "HT-A-001", "borrower": ids["borrower_a"],
                                                        "amount": Decimal("123456.78"), **common})
    # In the clerk's unit, but its borrower is not: the clerk may print it, without the borrower.
    ids["contract_a_foreign"] = create("contract", "branch_a", {"contract_no": "HT-A-002", "borrower": ids["borrower_b"],
                                                                "amount": Decimal("10"), **common})
    ids["contract_b"] = create("contract", "branch_b", {"contract_no": "HT-B-001", "borrower": ids["borrower_b"],
                                                        "amount": Decimal("100000"), **common})
    return lending


def pdf_text(pdf: bytes) -> str:
    """Return the text layer of every page of a PDF."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def embedded_fonts(pdf: bytes) -> list[tuple[str, list[str]]]:
    """Return the BaseFont of every font of the first page with the FontFile keys of its descriptor."""
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    fonts = []
    for font in page["/Resources"]["/Font"].values():
        font = font.get_object()
        descriptors = [item.get_object()["/FontDescriptor"].get_object() for item in font.get("/DescendantFonts", [])]
        if "/FontDescriptor" in font:
            descriptors.append(font["/FontDescriptor"].get_object())
        files = [key for descriptor in descriptors for key in descriptor if key.startswith("/FontFile")]
        fonts.append((str(font["/BaseFont"]), files))
    return fonts


def text_positions(pdf: bytes) -> dict[str, tuple[float, float]]:
    """Return where each piece of text of the first page starts: millimetres from the left edge to its
    start, and from the top edge to its baseline."""
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    height = float(page.mediabox.height)
    positions: dict[str, tuple[float, float]] = {}

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: Any) -> None:
        if not text.strip():
            return
        # The text's origin in page space: the text matrix's translation through the current transformation.
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        positions[text.strip()] = (x * 25.4 / 72, (height - y) * 25.4 / 72)

    page.extract_text(visitor_text=visit)
    return positions


@pytest.fixture
def lending(tmp_path: Path, engine: Engine) -> Lending:
    return open_lending(tmp_path / "lending", engine, tmp_path / "backups")
