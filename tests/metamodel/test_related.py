"""Related lists of an entity: the model built from `related:` and each diagnostic of a wrong one."""

from __future__ import annotations

from typing import Callable

import pytest

from metamodel import CheckResult
from metamodel import model as m

SHOP = "entities/shop.yaml"
SHOP_HEAD = "name: shop\nlabel: {zh-CN: 门店, en: Shop}\ntitle: title\nfields:\n  - {name: title, type: string, label: {zh-CN: 名称, en: Title}}\n"
#: The base app's item with a reference to its shop, a second reference back and a child table.
ITEM = (
    "name: item\nlabel: {zh-CN: 商品, en: Item}\nfields:\n"
    "  - {name: title, type: string, label: {zh-CN: 名称, en: Title}}\n"
    "  - {name: price, type: money, label: {zh-CN: 价格, en: Price}}\n"
    "  - {name: shop, type: reference, entity: shop, label: {zh-CN: 门店, en: Shop}}\n"
    "  - {name: supplier, type: reference, entity: shop, label: {zh-CN: 供货门店, en: Supplying shop}}\n"
    "  - {name: origin, type: reference, entity: item, label: {zh-CN: 来源, en: Origin}}\n"
    "  - name: parts\n    type: child\n    label: {zh-CN: 配件, en: Parts}\n"
    "    fields:\n      - {name: part, type: string, label: {zh-CN: 配件, en: Part}}\n"
    "list:\n  columns: [title, price]\n"
)


def shop_with(related: str) -> dict[str, str]:
    return {SHOP: SHOP_HEAD + "related:\n" + related, "entities/item.yaml": ITEM}


def test_related_lists_built(check: Callable[..., CheckResult]) -> None:
    related = (
        "  - {entity: item, field: shop}\n"
        "  - entity: item\n    field: supplier\n    label: {zh-CN: 供应商品, en: Supplied items}\n"
        "    columns: [title, shop.title, created_at]\n    limit: 5\n"
    )
    result = check(shop_with(related))

    assert result.diagnostics == []
    assert result.model is not None
    first, second = result.model.entities["shop"].related
    assert first == m.RelatedList("item", "shop", None, (), m.RELATED_LIMIT)
    assert second.label == m.Label("供应商品", "Supplied items")
    assert (second.columns, second.limit) == (("title", "shop.title", "created_at"), 5)
    assert result.model.entities["item"].related == ()


# (case, related list, code, line, column, English message)
CASES: list[tuple[str, str, str, int, int, str]] = [
    (
        "unknown entity",
        "  - {entity: itme, field: shop}\n",
        "related.E001", 7, 14, 'related[0].entity names the entity "itme", which is not declared',
    ),
    (
        "unknown field",
        "  - {entity: item, field: shopp}\n",
        "related.E002", 7, 27, 'related[0].field names "shopp", which is not a reference field of item pointing to shop',
    ),
    (
        "field is no reference",
        "  - {entity: item, field: price}\n",
        "related.E002", 7, 27, 'related[0].field names "price", which is not a reference field of item pointing to shop',
    ),
    (
        "reference to another entity",
        "  - {entity: item, field: origin}\n",
        "related.E002", 7, 27, 'related[0].field names "origin", which is not a reference field of item pointing to shop',
    ),
    (
        "unknown column",
        "  - {entity: item, field: shop, columns: [title, prize]}\n",
        "related.E003", 7, 50, 'related[0].columns[1] names the column "prize", which a list of item cannot show',
    ),
    (
        "column of a child table",
        "  - {entity: item, field: shop, columns: [parts]}\n",
        "related.E003", 7, 43, 'related[0].columns[0] names the column "parts", which a list of item cannot show',
    ),
    (
        "column through a field that is no reference",
        "  - {entity: item, field: shop, columns: [price.title]}\n",
        "related.E003", 7, 43, 'related[0].columns[0] names the column "price.title", which a list of item cannot show',
    ),
    (
        "state of an entity without a flow",
        "  - {entity: item, field: shop, columns: [state]}\n",
        "related.E003", 7, 43, 'related[0].columns[0] names the column "state", which a list of item cannot show',
    ),
]


@pytest.mark.parametrize(("case", "related", "code", "line", "column", "message"), CASES, ids=[case[0] for case in CASES])
def test_related_diagnostic(
    check: Callable[..., CheckResult], case: str, related: str, code: str, line: int, column: int, message: str
) -> None:
    result = check(shop_with(related))

    assert result.model is None
    assert [item.code for item in result.errors] == [code]
    diagnostic = result.errors[0]
    assert diagnostic.file.endswith(SHOP)
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert diagnostic.message("en") == message
    assert diagnostic.hint("en")
    assert diagnostic.message("zh-CN") != diagnostic.message("en")


def test_field_hint_names_references_back(check: Callable[..., CheckResult]) -> None:
    result = check(shop_with("  - {entity: item, field: shopp}\n"))

    [diagnostic] = result.errors
    assert diagnostic.hint("en").endswith('Name the field of item whose type is reference and whose entity is shop: "shop", "supplier".')
    assert "shop" in diagnostic.hint("zh-CN")


def test_limit_out_of_range(check: Callable[..., CheckResult]) -> None:
    result = check(shop_with("  - {entity: item, field: shop, limit: 0}\n"))

    assert [item.code for item in result.errors] == ["schema.E007"]
