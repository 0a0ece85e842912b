"""Vehicle appraisal (车辆评估) with the factors of appraisal_tables.yaml; `appraise` is pure.

A new vehicle is worth its invoice price times the new-vehicle factor. A used vehicle is
worth the market price of the same model new, times the factors of its age band, its
mileage band and its condition grade, rounded to the fen half up.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .money import to_fen

GRADES = ("A", "B", "C", "D")


class TablesError(ValueError):
    pass


@dataclass(frozen=True)
class Band:
    #: The band's upper bound, included; None for the last band.
    up_to: int | None
    factor: Decimal


@dataclass(frozen=True)
class Tables:
    new_vehicle_factor: Decimal
    age_bands: tuple[Band, ...]
    mileage_bands: tuple[Band, ...]
    condition_grades: dict[str, Decimal]


@dataclass(frozen=True)
class Appraisal:
    method: str
    appraised_value: Decimal
    age_factor: Decimal | None = None
    mileage_factor: Decimal | None = None
    condition_factor: Decimal | None = None


def read_tables(path: Path) -> Tables:
    """Read and check appraisal_tables.yaml; raise TablesError naming the file and the key of a problem."""
    try:
        with path.open(encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except yaml.YAMLError as problem:
        raise TablesError(f"{path}: invalid YAML: {problem}") from None
    expected = {"new_vehicle_factor", "age_bands", "mileage_bands", "condition_grades"}
    if not isinstance(document, dict) or set(document) != expected:
        found = sorted(document) if isinstance(document, dict) else document
        raise TablesError(f"{path}: expected exactly the keys {', '.join(sorted(expected))}; found {found!r}")
    grades = document["condition_grades"]
    if not isinstance(grades, dict) or sorted(grades) != sorted(GRADES):
        raise TablesError(f"{path}: condition_grades must give a factor for each of the grades {', '.join(GRADES)}")
    return Tables(
        new_vehicle_factor=_factor(path, "new_vehicle_factor", document["new_vehicle_factor"]),
        age_bands=_bands(path, "age_bands", "up_to_months", document["age_bands"]),
        mileage_bands=_bands(path, "mileage_bands", "up_to_km", document["mileage_bands"]),
        condition_grades={grade: _factor(path, f"condition_grades.{grade}", grades[grade]) for grade in GRADES},
    )


def _factor(path: Path, key: str, value: Any) -> Decimal:
    try:
        factor = Decimal(str(value))
    except InvalidOperation:
        factor = Decimal(-1)
    if isinstance(value, bool) or not factor.is_finite() or not Decimal(0) < factor <= Decimal(1):
        raise TablesError(f"{path}: {key} must be a number above 0 and at most 1; found {value!r}")
    return factor


def _bands(path: Path, key: str, bound: str, value: Any) -> tuple[Band, ...]:
    if not isinstance(value, list) or not value:
        raise TablesError(f"{path}: {key} must be a list of bands")
    bands = []
    for index, item in enumerate(value):
        last = index == len(value) - 1
        if not isinstance(item, dict) or set(item) != ({"factor"} if last else {bound, "factor"}):
            shape = "{factor: ...}" if last else f"{{{bound}: ..., factor: ...}}"
            raise TablesError(f"{path}: {key}[{index}] must be {shape}; only the last band has no {bound}")
        up_to = item.get(bound)
        if up_to is not None and (not isinstance(up_to, int) or isinstance(up_to, bool) or (bands and up_to <= (bands[-1].up_to or 0))):
            raise TablesError(f"{path}: {key}[{index}].{bound} must be a whole number above the band before it")
        bands.append(Band(up_to, _factor(path, f"{key}[{index}].factor", item["factor"])))
    return tuple(bands)


def band_factor(bands: tuple[Band, ...], value: int) -> Decimal:
    """Return the factor of the first band whose upper bound is at least `value`."""
    return next(band.factor for band in bands if band.up_to is None or value <= band.up_to)


def months_between(start: datetime.date, end: datetime.date) -> int:
    """Return the whole months from `start` to `end`, never negative."""
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    return max(months, 0)


def appraise_new(tables: Tables, invoice_price: Decimal) -> Appraisal:
    return Appraisal("invoice", to_fen(invoice_price * tables.new_vehicle_factor))


def appraise_used(tables: Tables, market_price: Decimal, age_months: int, mileage_km: int, grade: str) -> Appraisal:
    age = band_factor(tables.age_bands, age_months)
    mileage = band_factor(tables.mileage_bands, mileage_km)
    condition = tables.condition_grades[grade]
    return Appraisal("market", to_fen(market_price * age * mileage * condition), age, mileage, condition)
