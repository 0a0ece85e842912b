"""The AppModel built from valid YAML: immutable, typed, and free of the guarantee business."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path
from typing import Callable

import pytest

from metamodel import CheckResult, ConfigError, load_app
from tests.conftest import REPOSITORY, AppFactory


def test_model_is_immutable(check: Callable[..., CheckResult]) -> None:
    model = check().model
    assert model is not None

    with pytest.raises(dataclasses.FrozenInstanceError):
        model.app.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.entities["other"] = model.entities["item"]  # type: ignore[index]


def test_field_values_are_typed(check: Callable[..., CheckResult]) -> None:
    model = check().model
    assert model is not None

    price = model.entities["item"].fields["price"]
    assert price.min == Decimal("0")
    assert price.places == 2
    assert price.label.get("zh-CN") == "价格"
    assert price.label.get("en") == "Price"


def test_load_app_raises_with_every_error(make_app: AppFactory) -> None:
    root = make_app({"entities/item.yaml": "name: item\nname: again\n", "forms/broken.yaml": ""})

    with pytest.raises(ConfigError) as raised:
        load_app(root)

    assert sorted(item.code for item in raised.value.diagnostics) == ["yaml.E004", "yaml.E005"]


def test_expressions_evaluate(check: Callable[..., CheckResult]) -> None:
    entity = (
        "name: item\nlabel: {zh-CN: 商品, en: Item}\nfields:\n"
        "  - {name: price, type: money, label: {zh-CN: 价格, en: Price}}\n"
        "  - {name: cost, type: money, label: {zh-CN: 成本, en: Cost}}\n"
        "rules:\n  - name: margin\n    check: price >= cost\n    message: {zh-CN: 售价不能低于成本, en: Price below cost}\n"
    )
    model = check({"entities/item.yaml": entity}).model
    assert model is not None

    rule = model.entities["item"].rules[0]
    assert rule.check.evaluate({"price": Decimal("10"), "cost": Decimal("8")}) is True
    assert rule.check.evaluate({"price": Decimal("7"), "cost": Decimal("8")}) is False


# VIN and licence plate are identifier types of the framework, so "vehicle" alone is no business word.
BUSINESS_WORDS = re.compile(r"guarantee|loan|dealer|borrower|mortgage|担保|贷款|经销商|借款", re.IGNORECASE)


@pytest.mark.parametrize("package", ["metamodel", "runtime", "ui"])
def test_framework_knows_no_business(package: str) -> None:
    offenders = []
    for path in sorted((REPOSITORY / package).rglob("*")):
        if path.suffix not in (".py", ".json", ".html", ".yaml") or "vendor" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if BUSINESS_WORDS.search(line):
                offenders.append(f"{path.relative_to(REPOSITORY)}:{number}: {line.strip()}")
    assert offenders == []


def test_second_app_is_unrelated() -> None:
    root = REPOSITORY / "tests" / "apps" / "requisition"
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(root.rglob("*.yaml")))

    assert BUSINESS_WORDS.search(text) is None
    assert load_app(root).app.name != "guarantee"


def test_repository_layout() -> None:
    for name in ("metamodel", "runtime", "ui", "integrations", "configs", "tests", "pyproject.toml", "README.md",
                 "README.zh-CN.md", "Makefile", "package.json", "package-lock.json", ".ci/run"):
        assert (REPOSITORY / name).exists(), name
    schemas = sorted(path.name for path in (REPOSITORY / "metamodel" / "schemas").glob("*.schema.json"))
    assert len(schemas) == 13
    assert Path(REPOSITORY / "metamodel" / "schemas" / "entity.schema.json").read_text().count("2020-12") == 1


def test_decimal_literals_are_exact(check: Callable[..., CheckResult]) -> None:
    entity = (
        "name: item\nlabel: {zh-CN: 商品, en: Item}\nfields:\n"
        "  - {name: ratio, type: percent, label: {zh-CN: 比例, en: Ratio}, places: 4}\n"
        "rules:\n  - name: cap\n    check: ratio <= 0.7\n    message: {zh-CN: 比例过高, en: Ratio too high}\n"
    )
    model = check({"entities/item.yaml": entity}).model
    assert model is not None

    rule = model.entities["item"].rules[0]
    assert rule.check.evaluate({"ratio": Decimal("0.7000")}) is True
    assert rule.check.evaluate({"ratio": Decimal("0.7001")}) is False


def test_catalog_rows_are_frozen() -> None:
    model = load_app(REPOSITORY / "configs" / "guarantee")
    catalog = next(iter(model.catalogs.values()))

    assert isinstance(catalog.rows, tuple)
    with pytest.raises(TypeError):
        catalog.rows[0]["extra"] = 1  # type: ignore[index]


def test_states_of_several_flows_in_flow_order() -> None:
    model = load_app(REPOSITORY / "configs" / "guarantee")

    states = list(model.states_for("loan_application"))

    # The fast-track flow lacks the credit and committee steps; the union keeps the standard flow's order.
    assert states[:8] == ["draft", "submitted", "received", "credit_review", "risk_review", "committee_review", "bank_review",
                          "returned"]
    assert states.index("approved") < states.index("released")
    assert set(states) == {name for flow in model.flows_for("loan_application") for name in flow.states}
    assert model.states_for("no_such_entity") == {}


def test_extra_state_follows_its_predecessor(check: Callable[..., CheckResult]) -> None:
    def flow(name: str, states: list[str], applies: str) -> str:
        listed = "\n".join(f"  - {{name: {state}, label: {{zh-CN: {state}, en: {state}}}{', initial: true' if index == 0 else ''}}}"
                           for index, state in enumerate(states))
        moves = "\n".join(f"  - {{name: to_{target}, label: {{zh-CN: {target}, en: {target}}}, from: {source}, to: {target}, roles: [clerk]}}"
                          for source, target in zip(states, states[1:]))
        return (f"name: {name}\nentity: item\nlabel: {{zh-CN: {name}, en: {name}}}\napplies_when: \"{applies}\"\n"
                f"states:\n{listed}\ntransitions:\n{moves}\n")

    roles = ("roles: [{name: clerk, label: {zh-CN: 文员, en: Clerk}}]\n"
             "org_units: [{name: shop, label: {zh-CN: 本店, en: Shop}, kind: company}]\n")
    result = check({"flows/long.yaml": flow("long", ["draft", "review", "approved", "paid", "closed"], "price > 100"),
                    "flows/short.yaml": flow("short", ["draft", "checked", "paid"], "price <= 100"),
                    "permissions/access.yaml": roles})
    assert result.model is not None, [item.as_text() for item in result.errors]

    assert list(result.model.states_for("item")) == ["draft", "checked", "review", "approved", "paid", "closed"]
