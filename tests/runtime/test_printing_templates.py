"""Errors of document templates name the template file and line; templates cannot reach Python internals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from runtime.printing_documents import PrintTemplateError
from tests.runtime.printing_app import CLERK, CONTRACT_HTML, Lending, open_lending, pdf_text
from tests.runtime.printing_app import lending  # noqa: F401  (a fixture, which pytest finds by name)


def broken(tmp_path: Path, engine: Engine, html: str) -> Lending:
    return open_lending(tmp_path / "lending", engine, tmp_path / "backups", {"templates/contract.html": html})


def print_error(lending: Lending) -> PrintTemplateError:
    with pytest.raises(PrintTemplateError) as raised:
        lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract")
    return raised.value


def test_syntax_error_names_file_and_line(tmp_path: Path, engine: Engine) -> None:
    error = print_error(broken(tmp_path, engine, "<p>一</p>\n<p>二</p>\n<p>三</p>\n<p>{{ record.amount + }}</p>\n"))

    assert error.file.endswith("templates/contract.html")
    assert error.line == 4
    assert "templates/contract.html:4" in error.message_en
    assert "syntax error" in error.message_en
    assert "语法错误" in error.message_zh


def test_unknown_field_names_line_and_field(tmp_path: Path, engine: Engine) -> None:
    error = print_error(broken(tmp_path, engine, "<p>一</p>\n<p>{{ record.borrower.nmae }}</p>\n"))

    assert error.line == 2
    assert "borrower has no field nmae" in error.message_en
    assert "borrower 没有字段 nmae" in error.message_zh


def test_undefined_variable_is_strict(tmp_path: Path, engine: Engine) -> None:
    error = print_error(broken(tmp_path, engine, "<p>一</p>\n\n<p>{{ recrod.amount }}</p>\n"))

    assert error.line == 3
    assert "'recrod' is undefined" in error.message_en


def test_runtime_error_names_line(tmp_path: Path, engine: Engine) -> None:
    error = print_error(broken(tmp_path, engine, "<p>{{ record.amount|money }}</p>\n<p>{{ record.amount / 0 }}</p>\n"))

    assert error.line == 2
    assert "DivisionByZero" in error.message_en or "ZeroDivision" in error.message_en


def test_sandbox_blocks_internals(tmp_path: Path, engine: Engine) -> None:
    error = print_error(broken(tmp_path, engine, "<p>{{ record.__class__.__init__.__globals__ }}</p>\n"))

    assert error.line == 1


def test_values_are_escaped(tmp_path: Path, engine: Engine) -> None:
    lending = open_lending(tmp_path / "lending", engine, tmp_path / "backups")
    lending.system.update(CLERK, "borrower", lending.ids["borrower_a"], {"name": "<b>张三</b>"}, version=1)
    text = pdf_text(lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract").pdf)

    assert "<b>张三</b>" in text


def test_template_change_picked_up(lending: Lending) -> None:
    path = lending.root / "templates" / "contract.html"
    path.write_text(CONTRACT_HTML.replace("借款合同", "借款合同（修订版）"), encoding="utf-8")

    text = pdf_text(lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract").pdf)
    assert "借款合同（修订版）" in text
