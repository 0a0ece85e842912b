"""The application scorecard (评分卡): bins and points per characteristic, read from scorecard.yaml.

`read_scorecard` checks the document and raises ScorecardError naming the file and the key
of the first problem; `score` adds the points of each characteristic's bin to the base.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, TypeGuard

import yaml

#: The characteristics the hooks compute; scorecard.yaml gives points for each.
CHARACTERISTICS = ("age", "payment_to_income", "current_overdue_count", "overdue_count_24m", "ltv", "down_payment_ratio",
                   "dealer_rating")
MIN_SCORE, MAX_SCORE = 0, 1000
RISK_LEVELS = ("low", "medium", "high")


class ScorecardError(ValueError):
    pass


@dataclass(frozen=True)
class Bin:
    lower: Decimal | None
    upper: Decimal | None
    points: int

    def holds(self, value: Decimal) -> bool:
        return (self.lower is None or value >= self.lower) and (self.upper is None or value < self.upper)


@dataclass(frozen=True)
class Characteristic:
    name: str
    missing: int
    bins: tuple[Bin, ...] = ()
    #: Points by category, for a characteristic such as a rating.
    categories: Mapping[str, int] | None = None

    def points(self, value: Any) -> int:
        if value is None or value == "":
            return self.missing
        if self.categories is not None:
            return self.categories.get(str(value), self.missing)
        number = Decimal(str(value))
        return next((item.points for item in self.bins if item.holds(number)), self.missing)


@dataclass(frozen=True)
class Scorecard:
    base_points: int
    characteristics: Mapping[str, Characteristic]
    #: (level, minimum score), highest minimum first.
    risk_levels: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ScoreResult:
    score: int
    risk_level: str
    #: Points by characteristic, for the record's explanation.
    points: Mapping[str, int]


def score(card: Scorecard, values: Mapping[str, Any]) -> ScoreResult:
    """Score the characteristics in `values` (missing ones score their `missing` points)."""
    points = {name: item.points(values.get(name)) for name, item in card.characteristics.items()}
    total = max(MIN_SCORE, min(MAX_SCORE, card.base_points + sum(points.values())))
    level = next((name for name, minimum in card.risk_levels if total >= minimum), card.risk_levels[-1][0])
    return ScoreResult(total, level, points)


def read_scorecard(path: Path) -> Scorecard:
    """Read and check scorecard.yaml; raise ScorecardError naming the file and key of a problem."""
    where = str(path)
    # Reading from the open file makes YAML's syntax errors name the file, with the line and column.
    try:
        with path.open(encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except yaml.YAMLError as problem:
        raise ScorecardError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(document, dict):
        raise ScorecardError(f"{where}: expected a mapping with base_points, characteristics and risk_levels")
    base = document.get("base_points")
    if not _whole(base):
        raise ScorecardError(f"{where}: base_points must be an integer, not {base!r}")
    declared = document.get("characteristics")
    if not isinstance(declared, dict) or set(declared) != set(CHARACTERISTICS):
        found = sorted(declared) if isinstance(declared, dict) else declared
        raise ScorecardError(f"{where}: characteristics must give exactly {', '.join(CHARACTERISTICS)}; found {found!r}")
    characteristics = {name: _characteristic(where, name, declared[name]) for name in CHARACTERISTICS}
    return Scorecard(base, characteristics, _risk_levels(where, document.get("risk_levels")))


def _characteristic(where: str, name: str, spec: Any) -> Characteristic:
    if not isinstance(spec, dict) or not _whole(spec.get("missing")):
        raise ScorecardError(f"{where}: characteristics.{name} needs integer `missing` points")
    categories = spec.get("categories")
    if categories is not None:
        if not isinstance(categories, dict) or not all(_whole(points) for points in categories.values()):
            raise ScorecardError(f"{where}: characteristics.{name}.categories must map each category to integer points")
        return Characteristic(name, spec["missing"], categories={str(key): value for key, value in categories.items()})
    bins = spec.get("bins")
    if not isinstance(bins, list) or not bins:
        raise ScorecardError(f"{where}: characteristics.{name} needs a list of bins or a mapping of categories")
    parsed = []
    for index, item in enumerate(bins):
        if not isinstance(item, dict) or not _whole(item.get("points")) or set(item) - {"min", "max", "points"}:
            raise ScorecardError(f"{where}: characteristics.{name}.bins[{index}] needs integer points and optional min and max")
        for bound in ("min", "max"):
            value = item.get(bound)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)):
                raise ScorecardError(f"{where}: characteristics.{name}.bins[{index}].{bound} must be a number, not {value!r}")
        lower = None if item.get("min") is None else Decimal(str(item["min"]))
        upper = None if item.get("max") is None else Decimal(str(item["max"]))
        if lower is not None and upper is not None and lower >= upper:
            raise ScorecardError(f"{where}: characteristics.{name}.bins[{index}] has min {lower} not below max {upper}")
        parsed.append(Bin(lower, upper, item["points"]))
    return Characteristic(name, spec["missing"], tuple(parsed))


def _risk_levels(where: str, levels: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(levels, list) or not levels:
        raise ScorecardError(f"{where}: risk_levels must list each level with its min_score")
    parsed = []
    for index, item in enumerate(levels):
        if not isinstance(item, dict) or item.get("level") not in RISK_LEVELS or not _whole(item.get("min_score")):
            raise ScorecardError(f"{where}: risk_levels[{index}] needs a level ({', '.join(RISK_LEVELS)}) and an integer min_score")
        parsed.append((str(item["level"]), int(item["min_score"])))
    return tuple(sorted(parsed, key=lambda pair: -pair[1]))


def _whole(value: Any) -> TypeGuard[int]:
    """Return whether a YAML value is a whole number; YAML's true and false are not."""
    return isinstance(value, int) and not isinstance(value, bool)
