"""Document checklists (资料清单): which document types a loan product requires at each step.

A product's `document_checklist` (catalogs/loan_products.yaml) maps a transition's name to
the types it needs. A type is the part after `doc_` of an attachments field of the
application, so `id_card` is the field `doc_id_card`. An item is either the type, or
`{type: ..., when: ...}` for a type that only some applications need: `used_vehicle` for
a used vehicle, `married` for a married borrower. Everything here is pure; the hooks in
document_hooks.py read the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Mapping

#: The prefix of the application's fields that hold one document type each.
FIELD_PREFIX = "doc_"
#: The conditions an item may name, with what they mean.
CONDITIONS = {
    "used_vehicle": ("the vehicle is used", "二手车"),
    "married": ("the borrower is married", "借款人已婚"),
}
#: Transitions that check the list of another: resubmitting needs what submitting needs.
STEP_ALIASES = {"resubmit": "submit"}


class ChecklistError(ValueError):
    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


@dataclass(frozen=True)
class Item:
    type: str
    when: str | None = None

    @property
    def field(self) -> str:
        return FIELD_PREFIX + self.type


def step_of(transition: str) -> str:
    """Return the name under which the checklist lists a transition's documents."""
    return STEP_ALIASES.get(transition, transition)


def read_checklist(value: Any, product: str, known: Collection[str]) -> dict[str, tuple[Item, ...]]:
    """Read a product's checklist; raise ChecklistError naming the product and the bad entry.

    `known` holds the document types the application has a field for.
    """
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ChecklistError(f"The document checklist of {product} must map step names to lists of document types",
                             f"产品 {product} 的资料清单须按流转名称列出资料类型")
    checklist: dict[str, tuple[Item, ...]] = {}
    for step, items in value.items():
        if not isinstance(items, list):
            raise ChecklistError(f"The document checklist of {product} gives {step!r} no list of document types",
                                 f"产品 {product} 的资料清单中 {step!r} 不是资料类型列表")
        checklist[str(step)] = tuple(_item(item, product, str(step), known) for item in items)
    return checklist


def _item(raw: Any, product: str, step: str, known: Collection[str]) -> Item:
    if isinstance(raw, str):
        item = Item(raw)
    elif isinstance(raw, Mapping) and set(raw) <= {"type", "when"} and isinstance(raw.get("type"), str):
        when = raw.get("when")
        if when is not None and when not in CONDITIONS:
            raise ChecklistError(f"The document checklist of {product} ({step}) has the condition {when!r}; use one of "
                                 f"{', '.join(CONDITIONS)}",
                                 f"产品 {product} 的资料清单（{step}）中的条件 {when!r} 无效，可用：{', '.join(CONDITIONS)}")
        item = Item(raw["type"], when)
    else:
        raise ChecklistError(f"The document checklist of {product} ({step}) has the entry {raw!r}; write a type, or "
                             "{type: ..., when: ...}",
                             f"产品 {product} 的资料清单（{step}）中的 {raw!r} 无效；请写资料类型，或 {{type: ..., when: ...}}")
    if item.type not in known:
        raise ChecklistError(f"The document checklist of {product} ({step}) names the unknown type {item.type!r}; the types are "
                             f"{', '.join(sorted(known))}",
                             f"产品 {product} 的资料清单（{step}）中的资料类型 {item.type!r} 不存在，可用：{', '.join(sorted(known))}")
    return item


def required(items: tuple[Item, ...], facts: Collection[str]) -> tuple[Item, ...]:
    """Return the items that apply, given the conditions that hold for the application."""
    return tuple(item for item in items if item.when is None or item.when in facts)


def present(record: Mapping[str, Any], item: Item) -> bool:
    """Return whether the application holds at least one file of the item's type."""
    return bool(record.get(item.field))


def missing(record: Mapping[str, Any], items: tuple[Item, ...]) -> tuple[Item, ...]:
    return tuple(item for item in items if not present(record, item))
