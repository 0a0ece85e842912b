"""Cross-checks of an entity's related lists: the entity listed, its reference back, and the columns shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metamodel import model as m
from metamodel.diagnostics import DocPath, suggest

if TYPE_CHECKING:
    from metamodel.crosscheck import CrossChecker

#: System columns a list may show besides fields; `state` only where a flow is bound.
LISTED_SYSTEM_COLUMNS = ("id", "state", "created_at", "updated_at", "created_by", "updated_by", "org_unit")
#: Field types a list cannot show in a cell.
UNLISTED_TYPES = frozenset({"child", "multi_reference", "json", "geo_point"})


def check_related(checker: CrossChecker) -> None:
    """Report a related list of an undeclared entity, a field that does not refer back, and columns no list can show."""
    model = checker.model
    for document, entity in checker.named("entity"):
        for index, related in enumerate(entity.related):
            path: DocPath = ("related", index)
            target = model.entities.get(related.entity)
            if target is None:
                if related.entity not in checker.broken_entities:
                    names = sorted(model.entities)
                    checker.report(document, "related.E001", path + ("entity",), found=related.entity, expected=names,
                                   suggestion=suggest(related.entity, names))
                continue
            field = target.fields.get(related.field)
            if field is None or field.type != "reference" or field.entity != entity.name:
                pointing = sorted(name for name, item in target.fields.items()
                                  if item.type == "reference" and item.entity == entity.name)
                checker.report(document, "related.E002", path + ("field",), found=related.field, entity=target.name,
                               owner=entity.name, expected=pointing or ["-"], suggestion=suggest(related.field, pointing))
            for position, column in enumerate(related.columns):
                if not _listable(model, target, column):
                    names = sorted(name for name, item in target.fields.items() if item.type not in UNLISTED_TYPES)
                    checker.report(document, "related.E003", path + ("columns", position), found=column, entity=target.name,
                                   expected=names, suggestion=suggest(column.split(".")[-1], names))


def _listable(model: m.AppModel, entity: m.Entity, column: str) -> bool:
    """Tell whether a list of the entity can show the column: a field, a system column, or a path through references."""
    parts = column.split(".")
    if len(parts) == 1 and column in LISTED_SYSTEM_COLUMNS and column not in entity.fields:
        return column != "state" or bool(model.flows_for(entity.name))
    current = entity
    for hop, name in enumerate(parts):
        field = current.fields.get(name)
        if field is None or field.type in UNLISTED_TYPES:
            return False
        if hop < len(parts) - 1:
            if field.type != "reference" or field.entity not in model.entities:
                return False
            current = model.entities[str(field.entity)]
    return True
