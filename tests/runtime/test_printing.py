"""Printing a record: the `print` and `read` rights, both data scopes, masks, references and the audit entry."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine

from runtime.audit import AuditLog
from runtime.errors import NotFound, PermissionDenied
from tests.runtime.printing_app import AUDITOR, CLERK, ID_NUMBERS, LENDING_APP, VIEWER, Lending, open_lending, pdf_text
from tests.runtime.printing_app import lending  # noqa: F401  (a fixture, which pytest finds by name)


def test_document_shows_record_as_user_reads_it(lending: Lending) -> None:
    printed = lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract")
    text = pdf_text(printed.pdf)
    masked = lending.records.get(CLERK, "borrower", lending.ids["borrower_a"])["id_number"]

    assert "借款人：张三" in text
    assert f"身份证号：{masked}" in text
    assert masked != ID_NUMBERS[0]
    assert ID_NUMBERS[0] not in text
    # The note is hidden from clerks.
    assert "仅限内部" not in text
    assert "类型：续贷" in text
    assert "签订日期：2026年12月5日" in text
    assert "¥123,456.78" in text
    assert printed.filename == "借款合同-HT-A-001.pdf"


def test_unreadable_reference_prints_empty(lending: Lending) -> None:
    text = pdf_text(lending.printing.print_record(CLERK, "contract", lending.ids["contract_a_foreign"], "contract").pdf)

    # The borrower lies outside the clerk's scope, and clerks may not read banks at all.
    assert "李四" not in text
    assert ID_NUMBERS[1][-4:] not in text
    assert "测试银行" not in text
    assert "借款人：，身份证号：" in text
    assert "合同编号：HT-A-002" in text


def test_print_denied_without_print(lending: Lending) -> None:
    with pytest.raises(PermissionDenied):
        lending.printing.print_record(VIEWER, "contract", lending.ids["contract_a"], "contract")
    assert lending.printing.templates_for(VIEWER, "contract") == []
    assert lending.audit_entries() == []


def test_out_of_read_scope_not_found(lending: Lending) -> None:
    with pytest.raises(NotFound):
        lending.printing.print_record(CLERK, "contract", lending.ids["contract_b"], "contract")
    assert lending.audit_entries() == []


def test_out_of_print_scope_not_found(lending: Lending) -> None:
    # Auditors read every contract but print only those of their own unit.
    assert lending.records.get(AUDITOR, "contract", lending.ids["contract_b"])["contract_no"] == "HT-B-001"
    with pytest.raises(NotFound):
        lending.printing.print_record(AUDITOR, "contract", lending.ids["contract_b"], "contract")

    printed = lending.printing.print_record(AUDITOR, "contract", lending.ids["contract_a"], "contract")
    assert "HT-A-001" in pdf_text(printed.pdf)


def test_missing_record_or_template_not_found(lending: Lending) -> None:
    with pytest.raises(NotFound):
        lending.printing.print_record(CLERK, "contract", 999_999, "contract")
    with pytest.raises(NotFound):
        lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "no_such_template")
    with pytest.raises(NotFound):
        lending.printing.print_record(CLERK, "borrower", lending.ids["borrower_a"], "contract")


def test_each_print_audited_in_chain(lending: Lending) -> None:
    first = lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract")
    second = lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "slip")

    entries = lending.audit_entries()
    assert [entry["id"] for entry in entries] == [first.audit_id, second.audit_id]
    document, overlay = entries
    assert (document["actor"], document["address"], document["entity"], document["record_id"]) == (
        "clerk", "127.0.0.1", "contract", lending.ids["contract_a"])
    assert document["changes"] == {"template": "contract", "kind": "document"}
    assert overlay["changes"] == {"template": "slip", "kind": "overlay", "offset_mm": {"dx": "0", "dy": "0"}}
    with lending.engine.connect() as connection:
        assert AuditLog(lending.system.schema).verify(connection).ok


def test_templates_for_lists_entity_templates(lending: Lending) -> None:
    assert [template.name for template in lending.printing.templates_for(CLERK, "contract")] == ["contract", "slip"]
    assert lending.printing.templates_for(CLERK, "borrower") == []


def test_revealed_fields_print_in_full(tmp_path: Path, engine: Engine) -> None:
    revealing = textwrap.dedent(LENDING_APP["templates/contract.yaml"]) + "reveal: [borrower.id_number]\n"
    lending = open_lending(tmp_path / "lending", engine, tmp_path / "backups", {"templates/contract.yaml": revealing})
    printed = lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract")
    text = pdf_text(printed.pdf)

    assert f"身份证号：{ID_NUMBERS[0]}" in text
    # The screen still masks it, and a borrower outside the clerk's scope still prints empty.
    assert lending.records.get(CLERK, "borrower", lending.ids["borrower_a"])["id_number"] != ID_NUMBERS[0]
    foreign = pdf_text(lending.printing.print_record(CLERK, "contract", lending.ids["contract_a_foreign"], "contract").pdf)
    assert ID_NUMBERS[1] not in foreign
    assert ID_NUMBERS[1][-4:] not in foreign
    # The print's audit entry lists the fields it showed in full.
    [entry, *_] = [item for item in lending.audit_entries() if item["record_id"] == lending.ids["contract_a"]]
    assert entry["changes"]["revealed"] == ["borrower.id_number"]

