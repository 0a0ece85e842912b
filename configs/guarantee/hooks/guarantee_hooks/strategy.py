"""Risk strategies (风险策略), read from risk_strategies.yaml: the scorecard and the automatic decisions each product uses.

A loan product names its strategy (loan_product.risk_strategy). A strategy names its scorecard
file, beside risk_strategies.yaml, the score below which the fast-track flow rejects an
application, and the limits within which it approves one without a risk officer.
`read_strategies` checks the file, and that every strategy a product may name (the choices of
loan_product.risk_strategy and the catalog's rows) exists, raising StrategyError with the file
and line of the first problem. `decide` is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from .scorecard import RISK_LEVELS, Scorecard, ScorecardError, ScoreResult, read_scorecard

#: The application's strategy_decision values.
APPROVE, REJECT, REVIEW = "approve", "reject", "review"
KEYS = ("label", "scorecard", "reject_below", "auto_approval")
APPROVAL_KEYS = ("min_score", "risk_levels", "max_amount", "max_ltv", "dealer_ratings")


class StrategyError(ValueError):
    pass


@dataclass(frozen=True)
class AutoApproval:
    min_score: int
    risk_levels: tuple[str, ...]
    max_amount: Decimal
    max_ltv: Decimal
    dealer_ratings: tuple[str, ...]


@dataclass(frozen=True)
class Strategy:
    name: str
    scorecard: Scorecard
    #: A fast-track application scoring below this is rejected automatically.
    reject_below: int
    auto_approval: AutoApproval


def decide(strategy: Strategy, result: ScoreResult, loan_amount: Decimal | None, ltv: Decimal | None,
           dealer_rating: str | None) -> str:
    """Return what the strategy decides for a scored application: approve, reject, or review by a risk officer."""
    if result.score < strategy.reject_below:
        return REJECT
    rule = strategy.auto_approval
    if (result.score >= rule.min_score and result.risk_level in rule.risk_levels and loan_amount is not None
            and loan_amount <= rule.max_amount and ltv is not None and ltv <= rule.max_ltv and dealer_rating in rule.dealer_ratings):
        return APPROVE
    return REVIEW


def _compose(path: Path) -> yaml.Node | None:
    # Reading from the open file makes YAML's syntax errors name the file, with the line and column.
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.compose(stream, Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError) as problem:
        raise StrategyError(f"{path}: cannot be read: {problem}") from None


def _items(node: yaml.Node | None) -> Iterator[tuple[str, yaml.Node, int]]:
    """Yield the keys of a mapping node with their value nodes and 1-based lines."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield str(key.value), value, key.start_mark.line + 1


def _value(node: yaml.Node) -> Any:
    return yaml.SafeLoader(yaml.serialize(node)).get_single_data()


def read_strategies(path: Path, entity_path: Path | None = None, catalog_path: Path | None = None) -> dict[str, Strategy]:
    """Read and check risk_strategies.yaml and the strategy names that products may give; raise StrategyError naming the
    file and line of a problem."""
    root = _compose(path)
    if not isinstance(root, yaml.MappingNode) or not root.value:
        raise StrategyError(f"{path}: expected a mapping of strategy names to their scorecard, reject_below and auto_approval")
    strategies = {name: _strategy(path, name, node, line) for name, node, line in _items(root)}
    if entity_path is not None:
        for name, line in _choices(entity_path):
            _known(strategies, name, f"{entity_path}:{line}: loan_product.risk_strategy offers the choice", path)
    if catalog_path is not None:
        for name, line in _catalog_names(catalog_path):
            _known(strategies, name, f"{catalog_path}:{line}: the product names the risk strategy", path)
    return strategies


def _known(strategies: Mapping[str, Strategy], name: str, where: str, path: Path) -> None:
    if name not in strategies:
        raise StrategyError(f"{where} {name!r}, which {path.name} does not declare; its strategies are {', '.join(strategies)}")


def _strategy(path: Path, name: str, node: yaml.Node, line: int) -> Strategy:
    where = f"{path}:{line}: strategy {name}"
    if not isinstance(node, yaml.MappingNode):
        raise StrategyError(f"{where} must be a mapping of {', '.join(KEYS)}")
    spec = {key: (value, key_line) for key, value, key_line in _items(node)}
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise StrategyError(f"{path}:{spec[unknown[0]][1]}: strategy {name} has the unknown key(s) {', '.join(unknown)}. "
                            f"Its keys are {', '.join(KEYS)}")
    missing = [key for key in KEYS if key not in spec]
    if missing:
        raise StrategyError(f"{where} needs {', '.join(missing)}")
    scorecard_name, scorecard_line = _value(spec["scorecard"][0]), spec["scorecard"][1]
    scorecard_path = path.parent / str(scorecard_name)
    if not isinstance(scorecard_name, str) or "/" in scorecard_name or not scorecard_path.is_file():
        raise StrategyError(f"{path}:{scorecard_line}: strategy {name}.scorecard names {scorecard_name!r}, which is not a file "
                            f"beside {path.name}")
    try:
        card = read_scorecard(scorecard_path)
    except ScorecardError as problem:
        raise StrategyError(f"{path}:{scorecard_line}: strategy {name}.scorecard: {problem}") from None
    reject_below = _value(spec["reject_below"][0])
    if not _whole(reject_below):
        raise StrategyError(f"{path}:{spec['reject_below'][1]}: strategy {name}.reject_below must be a whole score, "
                            f"not {reject_below!r}")
    return Strategy(name, card, reject_below, _approval(path, name, *spec["auto_approval"], reject_below))


def _approval(path: Path, name: str, node: yaml.Node, line: int, reject_below: int) -> AutoApproval:
    values = _value(node)
    where = f"{path}:{line}: strategy {name}.auto_approval"
    if not isinstance(values, dict) or set(values) != set(APPROVAL_KEYS):
        found = sorted(values) if isinstance(values, dict) else values
        raise StrategyError(f"{where} must give exactly {', '.join(APPROVAL_KEYS)}; found {found!r}")
    if not _whole(values["min_score"]) or values["min_score"] < reject_below:
        raise StrategyError(f"{where}.min_score must be a whole score of at least reject_below ({reject_below})")
    levels = values["risk_levels"]
    if not isinstance(levels, list) or not all(level in RISK_LEVELS for level in levels):
        raise StrategyError(f"{where}.risk_levels must list risk levels among {', '.join(RISK_LEVELS)}")
    ratings = values["dealer_ratings"]
    if not isinstance(ratings, list) or not all(isinstance(rating, str) for rating in ratings):
        raise StrategyError(f"{where}.dealer_ratings must list the dealer ratings that allow an automatic approval")
    amounts = {}
    for key in ("max_amount", "max_ltv"):
        number = values[key]
        if not isinstance(number, (int, float)) or isinstance(number, bool) or not math.isfinite(number) or number < 0:
            raise StrategyError(f"{where}.{key} must be a number of at least 0, not {number!r}")
        amounts[key] = Decimal(str(number))
    return AutoApproval(values["min_score"], tuple(levels), amounts["max_amount"], amounts["max_ltv"], tuple(ratings))


def _choices(entity_path: Path) -> Iterator[tuple[str, int]]:
    """Yield the choices of loan_product.risk_strategy with their lines."""
    for key, fields, _ in _items(_compose(entity_path)):
        if key != "fields" or not isinstance(fields, yaml.SequenceNode):
            continue
        for field in fields.value:
            spec = {name: value for name, value, _ in _items(field)}
            if getattr(spec.get("name"), "value", None) != "risk_strategy" or not isinstance(spec.get("choices"), yaml.SequenceNode):
                continue
            for choice in spec["choices"].value:
                for name, value, line in _items(choice):
                    if name == "value":
                        yield str(value.value), line


def _catalog_names(catalog_path: Path) -> Iterator[tuple[str, int]]:
    """Yield the risk_strategy of each catalog row that gives one, with its line."""
    for key, rows, _ in _items(_compose(catalog_path)):
        if key == "rows" and isinstance(rows, yaml.SequenceNode):
            for row in rows.value:
                for name, value, line in _items(row):
                    if name == "risk_strategy":
                        yield str(value.value), line


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
