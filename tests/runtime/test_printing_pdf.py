"""The PDF itself: Chinese text in the text layer with an embedded CJK font, paper size, and overlay positions."""

from __future__ import annotations

import io
import logging
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from runtime import printing_pdf
from runtime.printing_calibration import Offset
from runtime.printing_pdf import PrintingUnavailable, check_pdf_support
from tests.runtime.printing_app import CLERK, Lending, embedded_fonts, pdf_text, text_positions
from tests.runtime.printing_app import lending  # noqa: F401  (a fixture, which pytest finds by name)

MM = 72 / 25.4


def test_chinese_text_layer_and_cjk_font(lending: Lending) -> None:
    pdf = lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract").pdf

    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf).replace("\n", "")
    assert "借款合同" in text
    assert "人民币壹拾贰万叁仟肆佰伍拾陆元柒角捌分" in text
    fonts = embedded_fonts(pdf)
    cjk = [(name, files) for name, files in fonts if "CJK" in name]
    assert cjk, fonts
    assert all(files for _, files in cjk), fonts


def test_paper_size_from_template(lending: Lending) -> None:
    pdf = lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "contract").pdf
    box = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].mediabox

    # A5: 148 mm by 210 mm.
    assert float(box.width) == pytest.approx(148 * MM, abs=0.1)
    assert float(box.height) == pytest.approx(210 * MM, abs=0.1)


def test_overlay_places_fields_at_positions(lending: Lending) -> None:
    pdf = lending.printing.print_record(CLERK, "contract", lending.ids["contract_a"], "slip").pdf
    positions = text_positions(pdf)
    masked = lending.records.get(CLERK, "borrower", lending.ids["borrower_a"])["id_number"]

    # Only the values: no labels, no lines; the unreadable bank prints nothing.
    assert set(positions) == {"张三", "123,456.78", masked}
    name_x, name_baseline = positions["张三"]
    assert name_x == pytest.approx(30, abs=0.05)
    # The baseline lies inside the 12 pt line whose top is at y_mm = 40.
    assert 40 < name_baseline < 40 + 12 * 1.2 / MM
    amount_x, amount_baseline = positions["123,456.78"]
    assert amount_x == pytest.approx(100, abs=0.05)
    assert 60 < amount_baseline < 60 + 10 * 1.2 / MM
    assert positions[masked][0] == pytest.approx(30, abs=0.05)


def test_overlay_shifted_by_user_calibration(lending: Lending) -> None:
    contract = lending.ids["contract_a"]
    before = text_positions(lending.printing.print_record(CLERK, "contract", contract, "slip").pdf)

    saved = lending.printing.save_calibration(CLERK, "slip", "2.5", "-1.5")
    after = text_positions(lending.printing.print_record(CLERK, "contract", contract, "slip").pdf)

    assert saved == Offset(Decimal("2.5"), Decimal("-1.5"))
    for text, (x, baseline) in before.items():
        assert after[text][0] - x == pytest.approx(2.5, abs=0.02), text
        assert after[text][1] - baseline == pytest.approx(-1.5, abs=0.02), text
    assert lending.audit_entries()[-1]["changes"]["offset_mm"] == {"dx": "2.5", "dy": "-1.5"}


def test_calibration_sheet_moves_with_offset(lending: Lending) -> None:
    plain = text_positions(lending.printing.calibration_sheet(CLERK, "slip"))
    lending.printing.save_calibration(CLERK, "slip", "-3", "4")
    moved = text_positions(lending.printing.calibration_sheet(CLERK, "slip"))

    label = "借款人 · 姓名"
    assert plain[label][0] == pytest.approx(30, abs=0.05)
    assert moved[label][0] == pytest.approx(27, abs=0.05)
    assert moved[label][1] - plain[label][1] == pytest.approx(4, abs=0.02)
    assert any("校准测试页" in text for text in moved)


def test_missing_pango_named_with_command(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    error = OSError("cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file: No such file or directory")

    def broken() -> None:
        raise printing_pdf._unavailable(error)

    monkeypatch.setattr(printing_pdf, "_weasyprint", broken)
    with caplog.at_level(logging.WARNING, logger="runtime.printing_pdf"):
        support = check_pdf_support()

    assert support.problem is not None
    assert "libpango-1.0-0" in support.problem.message_en
    assert "sudo make browser-deps" in support.problem.message_en
    assert "apt-get install libpango-1.0-0" in support.problem.message_zh
    assert "libpango-1.0-0" in caplog.text
    with pytest.raises(PrintingUnavailable):
        printing_pdf.html_to_pdf("<p>x</p>", paper="A4", folder=Path("."))


def test_pdf_support_found_here() -> None:
    support = check_pdf_support()

    assert support.problem is None
    assert support.chinese_font is not False
