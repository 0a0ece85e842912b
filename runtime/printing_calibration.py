"""Calibration offsets of overlay printing: how far each user's printer shifts a pre-printed form.

Printers feed paper with an offset of a few millimetres, which differs between printers and
trays. Each user keeps one offset per overlay template, dx to the right and dy downwards in
millimetres, which moves everything that template prints. Offsets are kept in tenths of a
millimetre and lie within ±MAX_OFFSET_MM.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable

from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from runtime.access import Actor
from runtime.errors import FieldError, ValidationFailed
from runtime.schema import SYSTEM_PREFIX, Schema

logger = logging.getLogger(__name__)

MAX_OFFSET_MM = Decimal(20)
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Offset:
    """A calibration offset in millimetres: dx to the right, dy downwards."""

    dx_mm: Decimal = Decimal(0)
    dy_mm: Decimal = Decimal(0)


ZERO_OFFSET = Offset()


def calibration_table(schema: Schema) -> Table:
    return schema.metadata.tables[SYSTEM_PREFIX + "print_calibration"]


def parse_offset(dx_text: str, dy_text: str) -> Offset:
    """Read an offset typed into the calibration form; raise ValidationFailed naming each bad value.

    An empty value is 0. Each value is a number of millimetres with at most one decimal
    place, between -MAX_OFFSET_MM and MAX_OFFSET_MM.
    """
    errors: dict[str, list[FieldError]] = {}
    values: dict[str, Decimal] = {}
    for name, text, axis_en, axis_zh in (("dx_mm", dx_text, "horizontal", "水平"), ("dy_mm", dy_text, "vertical", "垂直")):
        cleaned = text.strip().replace("mm", "").strip()
        try:
            value = Decimal(cleaned) if cleaned else Decimal(0)
        except InvalidOperation:
            errors[name] = [FieldError("invalid", f"The {axis_en} offset {text!r} is not a number; enter millimetres such as 1.5 or -2.",
                                       f"{axis_zh}偏移「{text}」不是数字；请填写毫米数，例如 1.5 或 -2。")]
            continue
        if not value.is_finite() or abs(value) > MAX_OFFSET_MM:
            errors[name] = [FieldError("out_of_range",
                                       f"The {axis_en} offset {text} mm is outside -{MAX_OFFSET_MM} to {MAX_OFFSET_MM} mm; "
                                       "check the printer's paper guide before offsetting more.",
                                       f"{axis_zh}偏移 {text} 毫米超出 -{MAX_OFFSET_MM} 至 {MAX_OFFSET_MM} 毫米的范围；"
                                       "偏差更大时请先检查打印机的进纸导板。")]
            continue
        if value != value.quantize(_TENTH):
            errors[name] = [FieldError("precision", f"The {axis_en} offset {text} mm has more than one decimal place; round it to 0.1 mm.",
                                       f"{axis_zh}偏移 {text} 毫米的小数超过一位；请精确到 0.1 毫米。")]
            continue
        values[name] = value.quantize(_TENTH)
    if errors:
        raise ValidationFailed("print_calibration", errors)
    return Offset(values["dx_mm"], values["dy_mm"])


class Calibrations:
    """Reads and saves the calibration offsets of users."""

    def __init__(self, schema: Schema, engine: Engine, clock: Callable[[], datetime.datetime]) -> None:
        self.table = calibration_table(schema)
        self.engine = engine
        self.clock = clock

    def offset(self, user_id: str, template: str) -> Offset:
        """Return the user's offset for a template, or zero when the user has not calibrated it."""
        table = self.table
        with self.engine.connect() as connection:
            row = connection.execute(select(table.c.dx_tenth_mm, table.c.dy_tenth_mm)
                                     .where(table.c.user_id == user_id, table.c.template == template)).first()
        if row is None:
            return ZERO_OFFSET
        return Offset(Decimal(row.dx_tenth_mm) * _TENTH, Decimal(row.dy_tenth_mm) * _TENTH)

    def save(self, actor: Actor, template: str, offset: Offset) -> None:
        """Store the actor's offset for a template, replacing the previous one."""
        if abs(offset.dx_mm) > MAX_OFFSET_MM or abs(offset.dy_mm) > MAX_OFFSET_MM:
            raise ValueError(f"offset {offset} is outside ±{MAX_OFFSET_MM} mm")
        table = self.table
        values = {"dx_tenth_mm": int(offset.dx_mm / _TENTH), "dy_tenth_mm": int(offset.dy_mm / _TENTH), "updated_at": self.clock()}
        key = (table.c.user_id == actor.id, table.c.template == template)
        for attempt in range(2):
            try:
                with self.engine.begin() as connection:
                    if connection.execute(update(table).where(*key).values(values)).rowcount == 0:
                        connection.execute(insert(table).values(user_id=actor.id, template=template, **values))
                break
            except IntegrityError:
                # Another request of the same user may have inserted the row first; the second pass updates it.
                if attempt:
                    raise
        logger.info("print calibration of %s for %s set to dx %s mm, dy %s mm", actor.id, template, offset.dx_mm, offset.dy_mm)
