"""Application numbers (申请编号): "GA", the application's creation day in China time, and its record id."""

from __future__ import annotations

import datetime
import re

PREFIX = "GA"
#: The pattern loan_application.application_no declares.
PATTERN = re.compile(r"^[A-Z0-9-]{6,32}$")


def application_number(record_id: int, day: datetime.date) -> str:
    """Return the number of application `record_id` created on `day`, such as GA20261205-000042.

    The record id makes it unique; ids of more than 6 digits keep all their digits.
    """
    if record_id < 1:
        raise ValueError(f"a record id is at least 1, not {record_id}")
    number = f"{PREFIX}{day:%Y%m%d}-{record_id:06d}"
    if not PATTERN.match(number):
        raise ValueError(f"the application number {number!r} does not match {PATTERN.pattern}")
    return number
