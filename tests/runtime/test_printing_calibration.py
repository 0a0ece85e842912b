"""Calibration offsets of overlay templates: bounds, precision, one per user and template, kept by migrate's table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import inspect

from runtime.access import Actor
from runtime.errors import NotFound, PermissionDenied, ValidationFailed
from runtime.printing_calibration import Offset, parse_offset
from tests.runtime.printing_app import AUDITOR, CLERK, VIEWER, Lending
from tests.runtime.printing_app import lending  # noqa: F401  (a fixture, which pytest finds by name)


def test_migrate_creates_calibration_table(lending: Lending) -> None:
    columns = {column["name"] for column in inspect(lending.engine).get_columns("md_print_calibration")}

    assert {"user_id", "template", "dx_tenth_mm", "dy_tenth_mm", "updated_at"} <= columns


def test_offset_per_user_and_template(lending: Lending) -> None:
    printing = lending.printing
    printing.save_calibration(CLERK, "slip", "1.5", "-0.5")
    printing.save_calibration(CLERK, "slip", "-20", "20")
    printing.save_calibration(AUDITOR, "slip", "0.1", "")

    assert printing.calibration(CLERK, "slip")[1] == Offset(Decimal("-20"), Decimal("20"))
    assert printing.calibration(AUDITOR, "slip")[1] == Offset(Decimal("0.1"), Decimal("0"))


@pytest.mark.parametrize(("dx", "dy", "field", "code", "words"), [
    ("20.1", "0", "dx_mm", "out_of_range", "outside -20 to 20 mm"),
    ("0", "-25", "dy_mm", "out_of_range", "outside -20 to 20 mm"),
    ("1.25", "0", "dx_mm", "precision", "more than one decimal place"),
    ("abc", "0", "dx_mm", "invalid", "is not a number"),
    ("0", "NaN", "dy_mm", "out_of_range", "outside"),
])
def test_offset_rejected(dx: str, dy: str, field: str, code: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_offset(dx, dy)

    [error] = raised.value.errors[field]
    assert error.code == code
    assert words in error.message_en
    assert "毫米" in error.message_zh or "数字" in error.message_zh


def test_rejected_offset_keeps_previous(lending: Lending) -> None:
    lending.printing.save_calibration(CLERK, "slip", "3", "4")
    with pytest.raises(ValidationFailed):
        lending.printing.save_calibration(CLERK, "slip", "30", "4")

    assert lending.printing.calibration(CLERK, "slip")[1] == Offset(Decimal("3"), Decimal("4"))


def test_calibration_needs_print_and_overlay(lending: Lending) -> None:
    with pytest.raises(PermissionDenied):
        lending.printing.calibration(VIEWER, "slip")
    with pytest.raises(NotFound):
        lending.printing.calibration(CLERK, "contract")
    with pytest.raises(PermissionDenied):
        lending.printing.calibration_sheet(Actor(id="nobody"), "slip")
