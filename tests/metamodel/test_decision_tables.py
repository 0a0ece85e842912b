"""Decision tables on their own: which rules match a record at each bound, and the coverage analysis."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from metamodel import model as m
from metamodel.decision_tables import (
    InputDomain,
    MixedConditions,
    TooManyCells,
    coverage,
    empty_gaps,
    field_domain,
    matching_rules,
    plain_path,
    range_is_empty,
    show_range,
)
from metamodel.expressions import Expression, parse_expression


def expression(source: str) -> Expression:
    parsed, problems = parse_expression(source)
    assert parsed is not None, problems
    return parsed


def rule(levels: str, **when: Any) -> m.DecisionRule:
    conditions: dict[str, m.Condition] = {}
    for name, value in when.items():
        if isinstance(value, dict):
            conditions[name] = m.RangeCondition(**{key: Decimal(str(bound)) for key, bound in value.items()})
        else:
            conditions[name] = frozenset(value)
    return m.DecisionRule(when=m.frozen_mapping(conditions), result=tuple(levels.split()))


def table(*rules: m.DecisionRule, inputs: tuple[str, ...] = ("amount", "grade")) -> m.DecisionTable:
    sources = {"amount": "amount", "grade": "supplier.rating", "urgent": "urgent", "term": "term"}
    return m.DecisionTable(inputs=m.frozen_mapping({name: expression(sources[name]) for name in inputs}), rules=rules)


#: The example of the routing documentation: four rules that cover every amount and grade once.
ROUTING = table(
    rule("branch", amount={"max": 150000}),
    rule("branch risk", amount={"above": 150000, "max": 300000}, grade=["A", "B"]),
    rule("branch risk committee", amount={"above": 150000, "max": 300000}, grade=["C", "D"]),
    rule("branch risk committee", amount={"above": 300000}),
)
GRADES = InputDomain(choices=("A", "B", "C", "D"))


@pytest.mark.parametrize(
    ("amount", "grade", "expected"),
    [
        (Decimal("150000"), "A", [0]),
        (150000, "C", [0]),
        (Decimal("150000.01"), "A", [1]),
        (Decimal("150000.01"), "D", [2]),
        (300000, "B", [1]),
        (300000.0, "C", [2]),
        (Decimal("300000.01"), "A", [3]),
        (300000.01, "D", [3]),
        (Decimal("-5"), "A", [0]),
    ],
)
def test_matching_rules_at_each_bound(amount: Any, grade: str, expected: list[int]) -> None:
    assert matching_rules(ROUTING, {"amount": amount, "grade": grade}) == expected


def test_missing_value_matches_unconditioned_input() -> None:
    assert matching_rules(ROUTING, {"amount": None, "grade": "A"}) == []
    assert matching_rules(ROUTING, {"grade": "A"}) == []
    # Rule 0 has no condition on grade, so a record without a grade still matches it.
    assert matching_rules(ROUTING, {"amount": 1000, "grade": None}) == [0]
    assert matching_rules(ROUTING, {"amount": 200000, "grade": None}) == []


def test_unlisted_grade_matches_nothing() -> None:
    assert matching_rules(ROUTING, {"amount": 200000, "grade": "E"}) == []


def test_text_and_booleans_are_not_numbers() -> None:
    assert matching_rules(ROUTING, {"amount": "1000", "grade": "A"}) == []
    assert matching_rules(ROUTING, {"amount": True, "grade": "A"}) == []


def test_set_compares_booleans_and_numbers() -> None:
    flags = table(rule("fast", urgent=["true"], term=["12", "24.0"]), inputs=("urgent", "term"))

    assert matching_rules(flags, {"urgent": True, "term": 12}) == [0]
    assert matching_rules(flags, {"urgent": True, "term": Decimal("24")}) == [0]
    assert matching_rules(flags, {"urgent": True, "term": "12"}) == [0]
    assert matching_rules(flags, {"urgent": False, "term": 12}) == []
    assert matching_rules(flags, {"urgent": "True", "term": 12}) == []
    assert matching_rules(flags, {"urgent": True, "term": 36}) == []


def test_example_table_covers_every_record_once() -> None:
    assert coverage(ROUTING, {"grade": GRADES}) == ([], [])


def test_open_set_leaves_other_values_as_gap() -> None:
    gaps, overlaps = coverage(ROUTING)

    assert overlaps == []
    assert [gap.text.en for gap in gaps] == ["amount in (150000, 300000], grade not in {A, B, C, D}"]
    assert gaps[0].text.zh_cn == "amount 在 (150000, 300000] 内，grade 不属于 {A, B, C, D}"
    assert gaps[0].rules == ()


def test_gap_between_bounds() -> None:
    missing_c = table(*ROUTING.rules[:2], rule("branch risk committee", amount={"above": 150000, "max": 300000}, grade=["D"]), ROUTING.rules[3])

    gaps, overlaps = coverage(missing_c, {"grade": GRADES})

    assert overlaps == []
    assert [gap.text.en for gap in gaps] == ["amount in (150000, 300000], grade = C"]


def test_shared_bound_is_an_overlap() -> None:
    shared = table(rule("branch", amount={"max": 150000}), rule("branch risk", amount={"min": 150000}), inputs=("amount",))

    gaps, overlaps = coverage(shared)

    assert gaps == []
    assert [(overlap.rules, overlap.text.en) for overlap in overlaps] == [((0, 1), "amount = 150000")]


def test_missing_point_between_exclusive_bounds_is_a_gap() -> None:
    split = table(rule("small", amount={"below": 100}), rule("large", amount={"above": 100}), inputs=("amount",))

    assert [gap.text.en for gap in coverage(split)[0]] == ["amount = 100"]


def test_enum_domain_decides_the_values() -> None:
    by_grade = table(rule("branch", grade=["A", "B"]), rule("committee", grade=["C"]), inputs=("grade",))

    assert [gap.text.en for gap in coverage(by_grade, {"grade": GRADES})[0]] == ["grade = D"]
    # Without the field's choices only the values the rules name are known, plus any other value.
    assert [gap.text.en for gap in coverage(by_grade)[0]] == ["grade not in {A, B, C}"]


def test_boolean_domain() -> None:
    urgent = table(rule("fast", urgent=["true"]), inputs=("urgent",))
    domain = field_domain(m.Field("urgent", "boolean", m.Label("加急", "Urgent"), m.Source("x", 1, 1)))

    assert [gap.text.en for gap in coverage(urgent, {"urgent": domain})[0]] == ["urgent = false"]


def test_numeric_domain_drops_cells_no_value_reaches() -> None:
    # Money with two places has no value between 100 and 100.01, and none below the field's min of 0.
    money = m.Field("amount", "money", m.Label("金额", "Amount"), m.Source("x", 1, 1), min=Decimal(0))
    cents = table(rule("small", amount={"min": 0, "max": 100}), rule("large", amount={"min": "100.01"}), inputs=("amount",))

    assert coverage(cents, {"amount": field_domain(money)}) == ([], [])
    assert [gap.text.en for gap in coverage(cents)[0]] == ["amount in (-∞, 0)", "amount in (100, 100.01)"]


def test_integer_domain_and_clipped_description() -> None:
    count = m.Field("count", "integer", m.Label("数量", "Count"), m.Source("x", 1, 1), min=Decimal(1), max=Decimal(99))
    units = table(rule("few", amount={"max": 5}), rule("many", amount={"min": 8}), inputs=("amount",))

    gaps, _ = coverage(units, {"amount": field_domain(count)})

    assert [gap.text.en for gap in gaps] == ["amount in (5, 8)"]
    below = table(rule("many", amount={"min": 8}), inputs=("amount",))
    assert [gap.text.en for gap in coverage(below, {"amount": field_domain(count)})[0]] == ["amount in [1, 8)"]


def test_rule_without_conditions_overlaps_every_other() -> None:
    catch_all = table(rule("branch", amount={"max": 10}), rule("branch risk"), inputs=("amount",))

    gaps, overlaps = coverage(catch_all)

    assert gaps == []
    assert [(overlap.rules, overlap.text.en) for overlap in overlaps] == [((0, 1), "amount in (-∞, 10]")]


def test_table_no_rule_matches_at_all() -> None:
    impossible = table(rule("a", grade=["A"]), rule("b", grade=["B"]), inputs=("grade",))

    gaps, _ = coverage(impossible, {"grade": InputDomain(choices=("C",))})

    assert [gap.text.en for gap in gaps] == ["any value of the inputs"]


def test_empty_input_matches_rules_that_leave_it_out() -> None:
    # Rules 0 and 3 do not name grade, so a record without a grade is routed only outside (150000, 300000].
    gaps = empty_gaps(ROUTING, "grade", {"grade": GRADES})

    assert [gap.text.en for gap in gaps] == ["amount in (150000, 300000]"]
    assert gaps[0].text.zh_cn == "amount 在 (150000, 300000] 内"


def test_empty_input_every_rule_names() -> None:
    assert [gap.text.en for gap in empty_gaps(ROUTING, "amount", {"grade": GRADES})] == ["any value of the inputs"]


def test_empty_input_covered_by_rule_without_it() -> None:
    catch_all = table(rule("branch", grade=["A"]), rule("branch risk"))

    assert empty_gaps(catch_all, "grade", {"grade": GRADES}) == []


def test_empty_input_cap_on_cells() -> None:
    # The 200 rules that do not name grade still match a record without one, and split amount into 403 cells.
    many = table(*(rule("branch", amount={"min": bound, "below": bound + 1}) for bound in range(0, 200)), rule("risk", grade=["A"]))

    with pytest.raises(TooManyCells) as raised:
        empty_gaps(many, "grade", limit=100)
    assert raised.value.cells == 403


def test_cap_on_cells() -> None:
    many = table(*(rule("branch", amount={"min": bound, "below": bound + 1}) for bound in range(0, 200)), inputs=("amount",))

    with pytest.raises(TooManyCells) as raised:
        coverage(many, limit=100)
    assert (raised.value.cells, raised.value.limit) == (403, 100)
    gaps, overlaps = coverage(many, limit=403)
    assert ([gap.text.en for gap in gaps], overlaps) == (["amount in (-∞, 0)", "amount in [200, +∞)"], [])


def test_mixed_conditions_are_refused() -> None:
    mixed = table(rule("a", amount={"max": 1}), rule("b", amount=["2"]), inputs=("amount",))

    with pytest.raises(MixedConditions):
        coverage(mixed)


@pytest.mark.parametrize(
    ("bounds", "empty", "shown"),
    [
        ({"min": 10, "max": 5}, True, "[10, 5]"),
        ({"above": 5, "below": 5}, True, "(5, 5)"),
        ({"min": 5, "below": 5}, True, "[5, 5)"),
        ({"min": 5, "max": 5}, False, "[5, 5]"),
        ({"min": 5, "above": 7}, False, "(7, +∞)"),
        ({"below": 0}, False, "(-∞, 0)"),
    ],
)
def test_empty_ranges(bounds: dict[str, int], empty: bool, shown: str) -> None:
    condition = m.RangeCondition(**{key: Decimal(value) for key, value in bounds.items()})

    assert range_is_empty(condition) is empty
    assert show_range(condition) == shown


def test_plain_paths() -> None:
    assert plain_path(expression("supplier.rating")) == ("supplier", "rating")
    assert plain_path(expression("amount")) == ("amount",)
    assert plain_path(expression("amount / 2")) is None
