"""Risk strategies (risk_strategies.yaml): each product names the scorecard and the automatic decisions that apply to it."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from guarantee_world import GUARANTEE, World, hooks_module

strategy = hooks_module("strategy")
scorecard = hooks_module("scorecard")
HOOKS = GUARANTEE / "hooks"
ENTITY = GUARANTEE / "entities" / "loan_product.yaml"
CATALOG = GUARANTEE / "catalogs" / "loan_products.yaml"


def copy(tmp_path: Path, old: str | None = None, new: str = "") -> Path:
    """Copy risk_strategies.yaml and its scorecards to tmp_path, with `old` replaced by `new`; return the copy's path."""
    for name in ("scorecard.yaml", "scorecard_used_car.yaml"):
        shutil.copy(HOOKS / name, tmp_path / name)
    text = (HOOKS / "risk_strategies.yaml").read_text(encoding="utf-8")
    if old is not None:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "risk_strategies.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def load_error(path: Path, entity: Path | None = ENTITY, catalog: Path | None = CATALOG) -> str:
    with pytest.raises(strategy.StrategyError) as error:
        strategy.read_strategies(path, entity, catalog)
    return str(error.value)


def test_shipped_strategies(tmp_path: Path) -> None:
    strategies = strategy.read_strategies(HOOKS / "risk_strategies.yaml", ENTITY, CATALOG)
    assert sorted(strategies) == ["standard", "used_car_strict"]
    standard, strict = strategies["standard"], strategies["used_car_strict"]
    assert (standard.reject_below, standard.auto_approval.min_score, standard.auto_approval.max_amount) == (450, 650, Decimal("150000"))
    assert standard.scorecard == scorecard.read_scorecard(HOOKS / "scorecard.yaml")
    assert strict.reject_below > standard.reject_below
    assert strict.auto_approval.max_ltv < standard.auto_approval.max_ltv
    assert strict.scorecard.base_points < standard.scorecard.base_points


def test_product_choice_without_strategy_names_the_entity_line(tmp_path: Path) -> None:
    path = copy(tmp_path, "used_car_strict:", "used_car_careful:")
    message = load_error(path)
    line = line_of(ENTITY, "{value: used_car_strict")
    assert message == (f"{ENTITY}:{line}: loan_product.risk_strategy offers the choice 'used_car_strict', which "
                       "risk_strategies.yaml does not declare; its strategies are standard, used_car_careful")


def test_unknown_catalog_strategy_names_line(tmp_path: Path) -> None:
    catalog = tmp_path / "loan_products.yaml"
    catalog.write_text(CATALOG.read_text(encoding="utf-8").replace("risk_strategy: used_car_strict", "risk_strategy: used_car"),
                       encoding="utf-8")
    message = load_error(copy(tmp_path), entity=None, catalog=catalog)
    line = line_of(catalog, "risk_strategy: used_car")
    assert message.startswith(f"{catalog}:{line}: the product names the risk strategy 'used_car', which risk_strategies.yaml "
                              "does not declare")


@pytest.mark.parametrize(("old", "new", "line_text", "expected"), [
    ("scorecard: scorecard_used_car.yaml", "scorecard: scorecard_used.yaml", "scorecard: scorecard_used.yaml",
     "strategy used_car_strict.scorecard names 'scorecard_used.yaml', which is not a file beside risk_strategies.yaml"),
    ("  reject_below: 450", "  reject_below: low", "reject_below: low", "strategy standard.reject_below must be a whole score, not 'low'"),
    ("  reject_below: 450", "  reject_below: 450\n  fast: true", "fast: true",
     "strategy standard has the unknown key(s) fast. Its keys are label, scorecard, reject_below, auto_approval"),
    ("    min_score: 650", "    min_score: 400", "auto_approval:",
     "strategy standard.auto_approval.min_score must be a whole score of at least reject_below (450)"),
    ("    max_amount: 150000", "    max_amount: lots", "auto_approval:",
     "strategy standard.auto_approval.max_amount must be a number of at least 0, not 'lots'"),
    ("    risk_levels: [low]\n    max_amount: 150000", "    risk_levels: [lowest]\n    max_amount: 150000", "auto_approval:",
     "strategy standard.auto_approval.risk_levels must list risk levels among low, medium, high"),
    ("    dealer_ratings: [A, B]", "", "auto_approval:",
     "strategy standard.auto_approval must give exactly min_score, risk_levels, max_amount, max_ltv, dealer_ratings; found "
     "['max_amount', 'max_ltv', 'min_score', 'risk_levels']"),
], ids=["missing_scorecard", "text_cutoff", "unknown_key", "approval_below_rejection", "text_amount", "unknown_level", "missing_key"])
def test_broken_strategy_names_file_and_line(tmp_path: Path, old: str, new: str, line_text: str, expected: str) -> None:
    path = copy(tmp_path, old, new)
    message = load_error(path)
    assert message == f"{path}:{line_of(path, line_text)}: {expected}"


def test_broken_scorecard_of_a_strategy(tmp_path: Path) -> None:
    path = copy(tmp_path)
    used = tmp_path / "scorecard_used_car.yaml"
    used.write_text(used.read_text(encoding="utf-8").replace("base_points: 570", "base_points: many"), encoding="utf-8")
    assert load_error(path) == (f"{path}:{line_of(path, 'scorecard: scorecard_used_car.yaml')}: strategy used_car_strict.scorecard: "
                                f"{used}: base_points must be an integer, not 'many'")


def test_empty_strategies_file(tmp_path: Path) -> None:
    path = tmp_path / "risk_strategies.yaml"
    path.write_text("# none yet\n", encoding="utf-8")
    assert load_error(path).startswith(f"{path}: expected a mapping of strategy names")


def test_decide() -> None:
    standard = strategy.read_strategies(HOOKS / "risk_strategies.yaml")["standard"]

    def decided(points: int, level: str = "low", amount: str = "100000", ltv: str = "0.6", rating: str | None = "A") -> str:
        return str(strategy.decide(standard, scorecard.ScoreResult(points, level, {}), Decimal(amount), Decimal(ltv), rating))

    assert decided(650) == "approve"
    assert decided(649) == "review"
    assert decided(449) == "reject"
    assert decided(450) == "review"
    assert decided(700, level="medium") == "review"
    assert decided(700, amount="150000.01") == "review"
    assert decided(700, ltv="0.7001") == "review"
    assert decided(700, rating="C") == decided(700, rating=None) == "review"


def forwarded(world: World, risk_strategy: str, **values: Any) -> dict[str, Any]:
    """Submit and forward a fast-track application of a product with the strategy; return it as the risk officer reads it."""
    record = world.application(world.product("fast_track", risk_strategy=risk_strategy), **values)
    record = world.fire(world.fire(record, "submit", "dealer"), "forward", "dealer")
    return world.read(record, "risk")


#: A loan that the standard strategy approves automatically: 150,000 yuan, loan-to-value 0.58, a dealer rated A.
LOAN = {"vehicle_price": Decimal("260000"), "down_payment": Decimal("110000"), "loan_amount": Decimal("150000")}


def test_product_strategy_decides_the_fast_track(world: World) -> None:
    standard = forwarded(world, "standard", **LOAN)
    assert (standard["risk_strategy"], standard["strategy_decision"], standard["state"]) == ("standard", "approve", "approved")

    # The strict strategy approves nothing above 100,000 yuan, and scores the same loan lower.
    strict = forwarded(world, "used_car_strict", **LOAN)
    assert (strict["risk_strategy"], strict["strategy_decision"], strict["state"]) == ("used_car_strict", "review", "received")
    assert strict["scorecard_score"] < standard["scorecard_score"]

    small = forwarded(world, "used_car_strict", vehicle_price=Decimal("260000"), down_payment=Decimal("170000"),
                      loan_amount=Decimal("90000"))
    assert small["scorecard_score"] >= 700
    assert (small["strategy_decision"], small["state"]) == ("approve", "approved")


def test_strategy_decision_hidden_from_dealer(world: World) -> None:
    record = forwarded(world, "standard", **LOAN)
    seen = world.read(record, "dealer")
    assert "strategy_decision" not in seen
    assert "risk_strategy" not in seen
