"""The table of print calibrations (runtime/printing_calibration.py): one offset per user and overlay template."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, MetaData, String, Table


def print_calibration_table(metadata: MetaData, prefix: str, users: Table) -> Table:
    """Build the table of calibration offsets, named `<prefix>print_calibration`."""
    return Table(
        prefix + "print_calibration",
        metadata,
        Column("user_id", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), primary_key=True),
        Column("template", String(63), primary_key=True),
        #: Shift to the right, in tenths of a millimetre; negative moves the print to the left.
        Column("dx_tenth_mm", Integer, nullable=False),
        #: Shift downwards, in tenths of a millimetre; negative moves the print up.
        Column("dy_tenth_mm", Integer, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
