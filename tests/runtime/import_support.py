"""Helpers of the import tests: spreadsheet files as a user's Excel would save them."""

from __future__ import annotations

import io
from typing import Any

import openpyxl


def xlsx_bytes(headers: list[str], rows: list[list[Any]]) -> bytes:
    """Return an Excel file with a header row and data rows; None leaves a cell empty."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
