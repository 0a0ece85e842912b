"""seed.yaml: the hints are read into the model, and each wrong hint is reported with its code, position and message."""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

import pytest

from metamodel import CheckResult
from metamodel.expressions import Expression
from tests.conftest import REPOSITORY

ITEM_WITH_FIELDS = """
name: item
label: {zh-CN: 商品, en: Item}
fields:
  - name: title
    type: string
    label: {zh-CN: 名称, en: Title}
    required: true
  - name: price
    type: money
    label: {zh-CN: 价格, en: Price}
    min: 0
  - name: kind
    type: enum
    label: {zh-CN: 类别, en: Kind}
    choices:
      - {value: tool, label: {zh-CN: 工具, en: Tool}}
  - name: net
    type: money
    label: {zh-CN: 净价, en: Net}
    computed: "price * 0.9"
  - {name: code, type: uscc, label: {zh-CN: 信用代码, en: Code}}
  - {name: vin, type: vin, label: {zh-CN: 车架号, en: VIN}}
  - name: parts
    type: child
    label: {zh-CN: 零件, en: Parts}
    fields:
      - {name: part_name, type: string, label: {zh-CN: 名称, en: Name}}
"""

PERMISSIONS = """
roles:
  - {name: clerk, label: {zh-CN: 文员, en: Clerk}}
org_units:
  - name: shop
    label: {zh-CN: 本店, en: Shop}
    kind: company
    children:
      - {name: counter, label: {zh-CN: 柜台, en: Counter}, kind: department}
grants:
  - {role: clerk, entity: item, actions: [read], scope: unit}
"""

CheckFiles = Callable[..., CheckResult]


def check_seed(check: CheckFiles, seed: str) -> CheckResult:
    return check({"entities/item.yaml": ITEM_WITH_FIELDS, "permissions/access.yaml": PERMISSIONS, "seed.yaml": seed})


def test_seed_hints_are_built(check: CheckFiles) -> None:
    result = check_seed(check, """
owners: [counter]
users: {clerk: counter}
entities:
  item:
    count: 5
    fields:
      title: {format: "IT{n:03d}"}
      price: {range: [10, "100 + 5"], step: 0.5, probability: 0.8}
      kind: {choices: [tool]}
      parts.part_name: {faker: word}
""")
    assert result.errors == []
    assert result.model is not None
    seed = result.model.seed
    assert seed is not None
    assert seed.owners == ("counter",)
    assert dict(seed.users) == {"clerk": "counter"}
    item = seed.entities["item"]
    assert item.count == 5
    assert item.fields["title"].format == "IT{n:03d}"
    price = item.fields["price"]
    assert price.range is not None
    assert price.range[0] == Decimal(10)
    assert isinstance(price.range[1], Expression)
    assert price.step == Decimal("0.5")
    assert price.probability == Decimal("0.8")
    assert item.fields["kind"].choices == ("tool",)
    assert item.fields["parts.part_name"].faker == "word"


def test_app_without_seed_file(check: CheckFiles) -> None:
    result = check({})
    assert result.model is not None
    assert result.model.seed is None


def test_guarantee_seed_file_is_valid() -> None:
    from metamodel import check_app

    result = check_app(REPOSITORY / "configs" / "guarantee")
    assert result.errors == []
    assert result.model is not None
    assert result.model.seed is not None
    assert result.model.seed.owners == ("dealer_bj_yizhuang", "dealer_sh_pudong")


# (case, seed.yaml, code, line, column, English message)
CASES: list[tuple[str, str, str, int, int, str]] = [
    (
        "unknown owner unit",
        "owners: [countr]\n",
        "seed.E001", 1, 10, 'owners[0] names the org unit "countr", which is not declared',
    ),
    (
        "unknown user unit",
        "users: {clerk: back_office}\n",
        "seed.E001", 1, 16, 'users.clerk names the org unit "back_office", which is not declared',
    ),
    (
        "unknown role",
        "users: {clark: counter}\n",
        "ref.E003", 1, 16, 'users.clark names the role "clark", which is not declared',
    ),
    (
        "unknown entity",
        "entities:\n  itme: {count: 3}\n",
        "ref.E001", 2, 9, 'entities.itme names the entity "itme", which is not declared',
    ),
    (
        "unknown field",
        "entities:\n  item:\n    fields:\n      titel: {faker: word}\n",
        "ref.E002", 4, 14, 'entities.item.fields.titel names the field "titel", which the entity item does not have',
    ),
    (
        "two generators",
        "entities:\n  item:\n    fields:\n      title: {faker: word, format: \"A{n}\"}\n",
        "seed.E002", 4, 28, 'entities.item.fields.title.format sets both "faker" and "format"; a field hint takes one generator',
    ),
    (
        "faker on a number",
        "entities:\n  item:\n    fields:\n      price: {faker: word}\n",
        "seed.E003", 4, 22, '"faker" does not apply to the field price of type money',
    ),
    (
        "hint on a child table",
        "entities:\n  item:\n    fields:\n      parts: {choices: [a]}\n",
        "seed.E003", 4, 24, '"choices" does not apply to the field parts of type child',
    ),
    (
        "invalid choice",
        "entities:\n  item:\n    fields:\n      kind: {choices: [tool, toy]}\n",
        "seed.E004", 4, 30, 'the choice "toy" is not a valid value of the field kind: This is not one of the allowed values; choose one of: Tool (tool).',
    ),
    (
        "computed field",
        "entities:\n  item:\n    fields:\n      net: {range: [1, 2]}\n",
        "seed.E005", 4, 12, 'the field "net" is computed, so the seeder cannot set it',
    ),
    (
        "range upside down",
        "entities:\n  item:\n    fields:\n      price: {range: [100, 10]}\n",
        "seed.E006", 4, 22, "the range starts at 100, above its end 10",
    ),
    (
        "format with unknown name",
        "entities:\n  item:\n    fields:\n      title: {format: \"IT{m}\"}\n",
        "seed.E007", 4, 23, 'the format "IT{m}" cannot be filled: the unknown name {m}; use {n} or {year}',
    ),
    (
        "step without range",
        "entities:\n  item:\n    fields:\n      price: {step: 5}\n",
        "seed.E008", 4, 15, "entities.item.fields.price.step sets step without range",
    ),
    (
        "in turn without choices",
        "entities:\n  item:\n    fields:\n      title: {in_turn: true}\n",
        "seed.E009", 4, 15, "entities.item.fields.title.in_turn sets in_turn without choices",
    ),
    (
        "state of no flow",
        "entities:\n  item:\n    states: [open]\n",
        "seed.E010", 3, 14, 'the state "open" is not a state of any flow of item',
    ),
    (
        "distinct on a text field",
        "entities:\n  item:\n    fields:\n      title: {distinct: true}\n",
        "seed.E003", 4, 25, '"distinct" does not apply to the field title of type string',
    ),
    (
        "step of no transition",
        "entities:\n  item:\n    steps:\n      ship: {hooks: [shop.demo]}\n",
        "seed.E011", 4, 7, 'the step "ship" is not a transition of any flow of item',
    ),
    (
        "step runs unknown action",
        "entities:\n  item:\n    steps:\n      ship: {actions: [pack]}\n",
        "seed.E012", 4, 24, 'item has no action "pack"',
    ),
    (
        "step links through a text field",
        "entities:\n  item:\n    steps:\n      ship:\n        create: [{entity: item, link: title}]\n",
        "seed.E013", 5, 39, 'the link "title" of item is not a reference to item',
    ),
    (
        "step value invalid",
        "entities:\n  item:\n    steps:\n      ship:\n        create: [{entity: item, link: title, values: {kind: toy}}]\n",
        "seed.E004", 5, 61, 'the choice "toy" is not a valid value of the field kind: This is not one of the allowed values; choose one of: Tool (tool).',
    ),
    (
        "prefix too long for a credit code",
        "entities:\n  item:\n    fields:\n      title: {prefix: [A, AB]}\n      code: {prefix: \"91110115000000000\"}\n",
        "seed.E014", 5, 22,
        'the prefix "91110115000000000" cannot start the field code of type uscc: it has 17 characters; at most 16 leave room'
        " for the drawn ones and the check character",
    ),
    (
        "prefix with a letter a VIN cannot hold",
        "entities:\n  item:\n    fields:\n      vin: {prefix: [LSV, LOV]}\n",
        "seed.E014", 4, 27,
        'the prefix "LOV" cannot start the field vin of type vin: it holds \'O\', which a vin cannot hold'
        " (allowed: ABCDEFGHJKLMNPRSTUVWXYZ0123456789)",
    ),
    (
        "prefix on a number",
        "entities:\n  item:\n    fields:\n      price: {prefix: \"1\"}\n",
        "seed.E003", 4, 23, '"prefix" does not apply to the field price of type money',
    ),
    (
        "unknown name in expression",
        "entities:\n  item:\n    fields:\n      price: {value: \"prise * 2\"}\n",
        "expr.E002", 4, 23, 'the expression names "prise", which is neither a field of item nor a variable',
    ),
    (
        "unknown generator",
        "entities:\n  item:\n    fields:\n      title: {faker: nickname}\n",
        "schema.E004", 4, 22, 'entities.item.fields.title.faker must be one of "person_name", "company", "address", "street_address", "city", "province", "job", "email", "sentence", "word", found "nickname"',
    ),
]


@pytest.mark.parametrize(("case", "seed", "code", "line", "column", "message"), CASES, ids=[case[0] for case in CASES])
def test_seed_hint_error(check: CheckFiles, case: str, seed: str, code: str, line: int, column: int, message: str) -> None:
    result = check_seed(check, seed)
    found = [item for item in result.errors if item.code == code]
    assert found, [item.as_text() for item in result.diagnostics]
    diagnostic = found[0]
    assert diagnostic.file.endswith("seed.yaml")
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert diagnostic.message("en") == message


def test_seed_file_elsewhere_at_top_is_reported(check: CheckFiles) -> None:
    result = check({"demo.yaml": "owners: [counter]\n"})
    assert [item.code for item in result.errors] == ["layout.E004"]
    assert "only app.yaml and seed.yaml" in result.errors[0].message("en")
