"""Cross-checks of catalog rows against the rules of their entity."""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

from metamodel import model as m
from metamodel.diagnostics import DocPath, Text, suggest
from metamodel.values import check_row

if TYPE_CHECKING:
    from metamodel.crosscheck import CrossChecker

_PROBLEM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]")


def check_catalogs(checker: CrossChecker) -> None:
    """Check each catalog's key, then every row with its entity's field rules, references and rules."""
    keys_per_entity: dict[str, set[str]] = {}
    for catalog in checker.model.catalogs.values():
        for row in catalog.rows:
            if row.get(catalog.key) is not None:
                keys_per_entity.setdefault(catalog.entity, set()).add(str(row[catalog.key]))

    for document, catalog in checker.named("catalog"):
        entity = checker.entity_ref(document, ("entity",), catalog.entity)
        if entity is None:
            continue
        key_field = checker.field_ref(document, ("key",), entity, catalog.key)
        if key_field is not None and not key_field.unique:
            checker.report(document, "catalog.E001", ("key",), found=catalog.key, entity=entity.name)

        first_lines: dict[str, int] = {}
        for index, row in enumerate(catalog.rows):
            row_path: DocPath = ("rows", index)
            key = row.get(catalog.key)
            if key is not None:
                line = document.position(row_path + (catalog.key,))[0]
                first = first_lines.setdefault(str(key), line)
                if first != line:
                    checker.report(document, "catalog.E003", row_path + (catalog.key,), found=key, first_line=first)
            valid = _check_row(checker, document, row_path, entity, row, index)
            _check_references(checker, document, row_path, entity, row, keys_per_entity)
            if valid is not None:
                _check_rules(checker, document, row_path, entity, valid, index)


def _check_row(
    checker: CrossChecker, document: Any, row_path: DocPath, entity: m.Entity, row: Any, index: int
) -> dict[str, Any] | None:
    """Report the row's field problems; return its normalized values when it has none."""
    normalized, problems = check_row(entity.fields, row)
    for key, items in problems.items():
        path = row_path + _path_of(key)
        while len(path) > len(row_path) and path not in document.values:
            path = path[:-1]
        for problem in items:
            if problem.code == "unknown_field":
                names = sorted(entity.fields)
                checker.diagnostics.append(
                    document.diagnostic(
                        "catalog.E006", row_path + (key,), at_key=True, row=index + 1, found=key, entity=entity.name,
                        expected=names, suggestion=suggest(key, names),
                    )
                )
                continue
            checker.report(
                document,
                "catalog.E002",
                path,
                row=index + 1,
                field=key,
                entity=entity.name,
                found=problem.found,
                reason=Text(problem.message_en, problem.message_zh),
            )
    return None if problems else normalized


def _path_of(key: str) -> DocPath:
    """Turn a problem key such as `contacts[0].phone` into a document path."""
    parts: list[str | int] = []
    for token in _PROBLEM_KEY.findall(key):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)


def _check_references(
    checker: CrossChecker,
    document: Any,
    row_path: DocPath,
    entity: m.Entity,
    row: Any,
    keys_per_entity: dict[str, set[str]],
) -> None:
    """Check reference values against the keys of the target entity's catalog rows, if it has any."""
    for name, value in row.items():
        field = entity.fields.get(name)
        if field is None or field.type not in m.REFERENCE_TYPES or field.entity not in keys_per_entity:
            continue
        keys = keys_per_entity[field.entity]
        many = isinstance(value, (list, tuple))
        values = value if many else [value]
        for position, item in enumerate(values):
            if item is None or str(item) in keys:
                continue
            path = row_path + (name, position) if many else row_path + (name,)
            checker.report(document, "catalog.E004", path, found=item, entity=field.entity, expected=sorted(keys))


def _check_rules(
    checker: CrossChecker, document: Any, row_path: DocPath, entity: m.Entity, values: dict[str, Any], index: int
) -> None:
    names: dict[str, Any] = {name: None for name in entity.fields}
    names.update(values)
    names.update({"today": datetime.date.today(), "now": datetime.datetime.now(), "state": None, "user": None})
    for rule in entity.rules:
        try:
            passed = rule.check.evaluate(names)
        except Exception:  # noqa: BLE001 - a rule that cannot be evaluated on YAML alone is checked at save time
            continue
        if not passed:
            field_path = row_path + (rule.fields[0],) if rule.fields and rule.fields[0] in values else row_path
            checker.report(
                document,
                "catalog.E005",
                field_path,
                row=index + 1,
                found=rule.name,
                reason=Text(rule.message.en, rule.message.zh_cn),
            )
