"""Print screens of the guarantee app: buttons on the detail page, the PDF, refusals, the audit entry and calibration."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import pypdf
import pytest
from sqlalchemy import select, update

from runtime import printing_pdf
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.audit import AuditLog
from tests.runtime.conftest import write_app
from tests.runtime.printing_app import LENDING_APP
from tests.web.conftest import WebApp
from tests.web.test_lists import BJ, LOANS, SH, Seeded, seed

CONTRACT = "guarantee_contract"
OVERLAY = "mortgage_form_overlay"


def advanced(seeded: Seeded) -> Seeded:
    """Move the seeded loans to "advanced", a state in which both guarantee templates print."""
    table = seeded.web_app.runtime.schema.entities["loan_application"].table
    with seeded.web_app.runtime.engine.begin() as connection:
        connection.execute(update(table).values(state="advanced"))
    return seeded


@pytest.fixture
def seeded(web_app: WebApp) -> Seeded:
    return advanced(seed(web_app))


def prints_of(web_app: WebApp) -> list[dict[str, Any]]:
    audit = web_app.runtime.schema.audit
    with web_app.runtime.engine.connect() as connection:
        rows = connection.execute(select(audit).where(audit.c.action == "print").order_by(audit.c.id)).mappings().all()
    return [dict(row) for row in rows]


def text_of(response: Any) -> str:
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


def test_detail_page_print_buttons(seeded: Seeded) -> None:
    loan = seeded.loans[BJ][0]

    page = seeded.client("bj_manager").get(f"{LOANS}/{loan}")
    english = seeded.client("bj_manager", lang="en").get(f"{LOANS}/{loan}")

    assert f'href="{LOANS}/{loan}/print/{CONTRACT}"' in page.text
    assert "打印：委托担保合同" in page.text
    assert f'href="/print/{OVERLAY}/calibration?next={LOANS}/{loan}"' in page.text
    assert "校准" in page.text
    assert "Print: Guarantee contract" in english.text
    assert "Calibrate" in english.text


def test_contract_pdf_inline_chinese_name(seeded: Seeded) -> None:
    loan = seeded.loans[BJ][0]
    number = seeded.numbers[loan]
    customer = seeded.web_app.runtime.records.get(SYSTEM_ACTOR, "customer", seeded.customers[BJ][0])

    response = seeded.client("bj_manager").get(f"{LOANS}/{loan}/print/{CONTRACT}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("inline; ")
    assert f"filename*=UTF-8''{quote(f'委托担保合同-{number}.pdf')}" in disposition
    assert f'filename="{CONTRACT}-{loan}.pdf"' in disposition
    text = text_of(response)
    assert f"合同编号：{number}" in text
    assert "大写：人民币壹拾万元整" in text
    assert customer["name"] in text
    assert "演示汽车融资担保有限公司" in text
    # Dealer staff see the borrower's ID number masked on screen; the contract they have signed
    # reveals it, as its template declares.
    shown = seeded.client("bj_manager").get(f"/api/customer/{customer['id']}").text
    assert customer["id_number"] not in shown
    assert customer["id_number"] in text


def test_print_denied_without_print(seeded: Seeded) -> None:
    web_app = seeded.web_app
    web_app.state.admin.grant(SYSTEM_ACTOR, "head_office_viewer", "loan_application", "print", effect="deny")
    loan = seeded.loans[BJ][0]
    client = seeded.client("viewer")

    page = client.get(f"{LOANS}/{loan}")
    response = client.get(f"{LOANS}/{loan}/print/{CONTRACT}")

    assert page.status_code == 200
    assert "/print/" not in page.text
    assert response.status_code == 403
    assert prints_of(web_app) == []


def test_out_of_scope_print_is_404(seeded: Seeded) -> None:
    client = seeded.client("sh_staff")

    foreign = client.get(f"{LOANS}/{seeded.loans[BJ][0]}/print/{CONTRACT}")
    missing = client.get(f"{LOANS}/999999/print/{CONTRACT}")
    own = client.get(f"{LOANS}/{seeded.loans[SH][0]}/print/{CONTRACT}")

    assert foreign.status_code == 404
    assert missing.status_code == 404
    # The same page as for a missing record, but for the address.
    assert foreign.text.replace(f"/{seeded.loans[BJ][0]}/", "/ID/") == missing.text.replace("/999999/", "/ID/")
    assert own.status_code == 200
    assert [entry["record_id"] for entry in prints_of(seeded.web_app)] == [seeded.loans[SH][0]]


def test_unknown_template_is_404(seeded: Seeded) -> None:
    client = seeded.client("admin")
    loan = seeded.loans[BJ][0]

    assert client.get(f"{LOANS}/{loan}/print/no_such_template").status_code == 404
    assert client.get(f"/records/customer/{seeded.customers[BJ][0]}/print/{CONTRACT}").status_code == 404


def test_print_appends_audit_entry(seeded: Seeded) -> None:
    loan = seeded.loans[SH][1]

    assert seeded.client("admin").get(f"{LOANS}/{loan}/print/{CONTRACT}").status_code == 200

    [entry] = prints_of(seeded.web_app)
    assert (entry["actor"], entry["entity"], entry["record_id"], entry["action"]) == ("admin", "loan_application", loan, "print")
    assert entry["changes"] == {"template": CONTRACT, "kind": "document", "revealed": ["customer.id_number", "guarantor.id_number"]}
    assert entry["address"] is not None
    with seeded.web_app.runtime.engine.connect() as connection:
        assert AuditLog(seeded.web_app.runtime.schema).verify(connection).ok


def test_calibration_saved_and_applied(seeded: Seeded) -> None:
    web_app = seeded.web_app
    client = seeded.client("bj_manager")
    loan = seeded.loans[BJ][0]
    page_url = f"/print/{OVERLAY}/calibration?next={LOANS}/{loan}"

    page = client.get(page_url)
    rejected = client.post(page_url, data={"dx_mm": "25", "dy_mm": "0", "csrf_token": web_app.csrf(client)})
    saved = client.post(page_url, data={"dx_mm": "1.5", "dy_mm": "-2", "csrf_token": web_app.csrf(client)})
    after = client.get(saved.headers["location"])
    printed = client.get(f"{LOANS}/{loan}/print/{OVERLAY}")
    sheet = client.get(f"/print/{OVERLAY}/test-sheet")

    assert page.status_code == 200
    assert "套打校准" in page.text
    assert f'href="{LOANS}/{loan}"' in page.text
    assert rejected.status_code == 422
    assert "水平偏移 25 毫米超出 -20 至 20 毫米的范围" in rejected.text
    assert 'value="25"' in rejected.text
    assert saved.status_code == 303
    assert "saved=1" in saved.headers["location"]
    assert 'value="1.5"' in after.text
    assert "偏移已保存" in after.text
    assert printed.headers["content-type"] == "application/pdf"
    assert prints_of(web_app)[-1]["changes"]["offset_mm"] == {"dx": "1.5", "dy": "-2.0"}
    assert sheet.headers["content-type"] == "application/pdf"
    assert "校准测试页" in text_of(sheet)


def test_calibration_page_english_and_refusals(seeded: Seeded) -> None:
    page = seeded.client("bj_manager", lang="en").get(f"/print/{OVERLAY}/calibration")

    assert page.status_code == 200
    assert "Print calibration" in page.text
    assert "Print a test sheet" in page.text
    # A document template has no calibration.
    assert seeded.client("bj_manager").get(f"/print/{CONTRACT}/calibration").status_code == 404


def test_missing_pango_message_on_print(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    error = OSError("cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file")

    def broken() -> None:
        raise printing_pdf._unavailable(error)

    monkeypatch.setattr(printing_pdf, "_weasyprint", broken)
    client = seeded.client("admin")

    response = client.get(f"{LOANS}/{seeded.loans[BJ][0]}/print/{CONTRACT}")
    calibration = client.get(f"/print/{OVERLAY}/calibration")

    assert response.status_code == 503
    assert "libpango-1.0-0" in response.text
    assert "sudo make browser-deps" in response.text
    assert "libpango-1.0-0" in calibration.text
    assert prints_of(seeded.web_app) == []


def test_template_error_page_names_line(make_web_app: Callable[..., WebApp], tmp_path: Path) -> None:
    root = write_app(tmp_path / "lending", {**LENDING_APP, "templates/contract.html": "<p>一</p>\n<p>{{ record.amout }}</p>\n"})
    web_app = make_web_app(root)
    web_app.add_user("clerk", ("clerk",), "branch_a")
    seeder = Actor(id="seed", roles=("system",), org_unit="branch_a")
    records = web_app.runtime.records
    borrower = records.create(seeder, "borrower", {"name": "张三"})["id"]
    contract = records.create(seeder, "contract", {"contract_no": "HT-1", "borrower": borrower, "amount": "10"})["id"]

    response = web_app.client("clerk").get(f"/records/contract/{contract}/print/contract")

    assert response.status_code == 500
    assert "打印模板有错误" in response.text
    assert "templates/contract.html:2" in response.text
    assert "contract 没有字段 amout" in response.text
    assert prints_of(web_app) == []


def test_templates_print_only_in_their_states(web_app: WebApp) -> None:
    drafts = seed(web_app)
    loan = drafts.loans[BJ][0]
    client = drafts.client("bj_manager")

    assert f"/print/{CONTRACT}" not in client.get(f"{LOANS}/{loan}").text
    refused = client.get(f"{LOANS}/{loan}/print/{CONTRACT}")
    assert refused.status_code == 409
    assert "“委托担保合同”只能在以下状态打印：“已批准”、" in refused.text
    assert "本记录当前为“草稿”。" in refused.text
    assert prints_of(web_app) == []

    advanced(drafts)
    assert f"/print/{CONTRACT}" in client.get(f"{LOANS}/{loan}").text
    assert client.get(f"{LOANS}/{loan}/print/{CONTRACT}").status_code == 200
