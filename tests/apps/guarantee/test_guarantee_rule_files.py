"""The loaders of anti_fraud_rules.yaml and scorecard.yaml: each problem of a broken copy is named with the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from guarantee_world import GUARANTEE, hooks_module

anti_fraud = hooks_module("anti_fraud")
scorecard = hooks_module("scorecard")

RULES_TEXT = (GUARANTEE / "hooks" / "anti_fraud_rules.yaml").read_text(encoding="utf-8")
SCORECARD_TEXT = (GUARANTEE / "hooks" / "scorecard.yaml").read_text(encoding="utf-8")


def broken(tmp_path: Path, name: str, text: str, old: str | None = None, new: str = "") -> Path:
    """Write `text`, with `old` replaced by `new` when given, as tmp_path/name and return the path."""
    if old is not None:
        assert old in text, f"{old!r} is not in {name}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, kind: str, old: str | None, new: str = "", text: str | None = None) -> tuple[Path, str]:
    """Write a broken copy of the `kind` file ("rules" or "scorecard"), read it, and return its path and the error's message."""
    if kind == "rules":
        path = broken(tmp_path, "anti_fraud_rules.yaml", RULES_TEXT if text is None else text, old, new)
        with pytest.raises(anti_fraud.RulesError) as error:
            anti_fraud.read_rules(path)
    else:
        path = broken(tmp_path, "scorecard.yaml", SCORECARD_TEXT if text is None else text, old, new)
        with pytest.raises(scorecard.ScorecardError) as error:
            scorecard.read_scorecard(path)
    return path, str(error.value)


def problem(tmp_path: Path, kind: str, old: str | None, new: str = "", text: str | None = None) -> str:
    """Return the message of a broken copy's error after the file's path, which the message must start with."""
    path, message = load_error(tmp_path, kind, old, new, text)
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: "):]


def test_shipped_files_read(tmp_path: Path) -> None:
    rules = anti_fraud.read_rules(broken(tmp_path, "anti_fraud_rules.yaml", RULES_TEXT))
    assert rules["blacklist"].action == "stop"
    assert rules["same_phone"].settings == {"window_days": 30, "max_other_applications": 0}
    card = scorecard.read_scorecard(broken(tmp_path, "scorecard.yaml", SCORECARD_TEXT))
    assert card.base_points == 600
    assert card.risk_levels == (("low", 650), ("medium", 500), ("high", 0))


@pytest.mark.parametrize(("kind", "old", "new", "line"), [
    ("rules", "provider_lists: [fraud_blacklist, court_dishonest]", "provider_lists: [fraud_blacklist, court_dishonest", 8),
    ("scorecard", "{max: 22, points: -30}", "{max: 22, points: -30", 14),
], ids=["rules", "scorecard"])
def test_yaml_syntax_error_names_line(tmp_path: Path, kind: str, old: str, new: str, line: int) -> None:
    path, message = load_error(tmp_path, kind, old, new)
    assert message.startswith(f"{path}: invalid YAML: ")
    assert f'in "{path}", line {line}' in message


def test_rules_missing_rule(tmp_path: Path) -> None:
    message = problem(tmp_path, "rules", None, text=RULES_TEXT.split("# Dealers on watch")[0])
    assert message == ("expected exactly the rules blacklist, same_phone, same_address, age_at_term_end, dealer_watch, "
                       "provider_warnings; found ['age_at_term_end', 'blacklist', 'same_address', 'same_phone']")


def test_rules_empty_file(tmp_path: Path) -> None:
    assert problem(tmp_path, "rules", None, text="").endswith("; found None")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("action: stop", "action: block", "blacklist.action must be one of stop, warn"),
    ("  window_days: 30\n  max_other_applications: 0\nsame_address", "  window_days: -1\n  max_other_applications: 0\nsame_address",
     "same_phone.window_days must be a whole number of at least 0"),
    ("  window_days: 30\n  max_other_applications: 0\nsame_address", "  window_days: 30\n  max_other_applications: yes\nsame_address",
     "same_phone.max_other_applications must be a whole number of at least 0"),
    ("  window_days: 30\n  max_other_applications: 0\n\n#", "  window_days: 30 days\n  max_other_applications: 0\n\n#",
     "same_address.window_days must be a whole number of at least 0"),
    ("min_years: 18", "min_years: 70", "age_at_term_end needs whole min_years and max_years, min_years not above max_years"),
    ("max_years: 65", "max_years: 65.5", "age_at_term_end needs whole min_years and max_years, min_years not above max_years"),
    ("provider_lists: [multi_lender", "provider_lists: multi_lender\n  other: [multi_lender",
     "provider_warnings has the unknown setting(s) other. Its settings are action, provider_lists"),
    ("provider_lists: [fraud_blacklist, court_dishonest]", "provider_lists: fraud_blacklist",
     "blacklist.provider_lists must be a list of the provider's list names"),
    ("provider_lists: [fraud_blacklist, court_dishonest]", "provider_lists: [fraud_blacklst, court_dishonest]",
     "blacklist.provider_lists names fraud_blacklst, which the anti-fraud service does not report; its lists are "
     "court_dishonest, fraud_blacklist, multi_lender, phone_risk, device_risk, ip_risk"),
    ("  ratings: [C, D]", "  rating: [C, D]",
     "dealer_watch has the unknown setting(s) rating. Its settings are action, ratings, cooperation_statuses"),
    ("  cooperation_statuses: [suspended, terminated]", "  cooperation_statuses: suspended",
     "dealer_watch.cooperation_statuses must be a list of the dealer's cooperation statuses (empty for none)"),
], ids=["action", "negative_window", "boolean_count", "text_window", "ages_reversed", "fractional_age", "unknown_setting",
        "lists_not_list", "unknown_list", "misspelled_ratings", "statuses_not_list"])
def test_rules_broken_setting(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert problem(tmp_path, "rules", old, new) == expected


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("base_points: 600", "base_points: high", "base_points must be an integer, not 'high'"),
    ("base_points: 600", "base_points: true", "base_points must be an integer, not True"),
    ("  dealer_rating:\n    missing: -10\n    categories: {A: 30, B: 10, C: -40, D: -100}\n", "",
     "characteristics must give exactly age, payment_to_income, current_overdue_count, overdue_count_24m, ltv, "
     "down_payment_ratio, dealer_rating; found ['age', 'current_overdue_count', 'down_payment_ratio', 'ltv', "
     "'overdue_count_24m', 'payment_to_income']"),
    ("    missing: -40\n", "", "characteristics.age needs integer `missing` points"),
    ("categories: {A: 30, B: 10, C: -40, D: -100}", "categories: {A: 30, B: ten}",
     "characteristics.dealer_rating.categories must map each category to integer points"),
    ("      - {max: 22, points: -30}", "      - {max: 22, points: -30.5}", "characteristics.age.bins[0] needs integer points and optional min and max"),
    ("      - {max: 22, points: -30}", "      - {max: 22, point: -30}", "characteristics.age.bins[0] needs integer points and optional min and max"),
    ("      - {max: 22, points: -30}", "      - {max: twenty, points: -30}", "characteristics.age.bins[0].max must be a number, not 'twenty'"),
    ("      - {min: 22, max: 30, points: 0}", "      - {min: .nan, max: 30, points: 0}",
     "characteristics.age.bins[1].min must be a number, not nan"),
    ("      - {min: 22, max: 30, points: 0}", "      - {min: 30, max: 22, points: 0}",
     "characteristics.age.bins[1] has min 30 not below max 22"),
    ("    bins:\n      - {max: 0.5, points: 40}", "    bins: []\n    unused:\n      - {max: 0.5, points: 40}",
     "characteristics.ltv needs a list of bins or a mapping of categories"),
    ("  - {level: medium, min_score: 500}", "  - {level: middle, min_score: 500}",
     "risk_levels[1] needs a level (low, medium, high) and an integer min_score"),
], ids=["base_text", "base_boolean", "missing_characteristic", "missing_points", "category_points", "fractional_points",
        "misspelled_points", "text_bound", "nan_bound", "bounds_reversed", "no_bins", "unknown_level"])
def test_scorecard_broken_setting(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert problem(tmp_path, "scorecard", old, new) == expected


def test_scorecard_not_a_mapping(tmp_path: Path) -> None:
    assert problem(tmp_path, "scorecard", None, text="- 600\n") == "expected a mapping with base_points, characteristics and risk_levels"
