"""Validate documents against the JSON Schema (Draft 2020-12) of their kind.

The schemas ship in metamodel/schemas/, one `<kind>.schema.json` per document kind
plus `common.schema.json` with the shared definitions. Each jsonschema error is
turned into a positioned diagnostic with its own code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from metamodel.diagnostics import Diagnostic, DocPath, Text, format_path, suggest
from metamodel.yamlsource import Document

SCHEMA_DIR = Path(__file__).parent / "schemas"

#: Every kind of document, in the order the loader reads them.
KINDS: tuple[str, ...] = (
    "app",
    "entity",
    "form",
    "flow",
    "permissions",
    "report",
    "catalog",
    "schedule",
    "integration",
    "template",
    "seed",
)

NAME_PATTERN = "^[a-z][a-z0-9_]{0,62}$"

#: JSON Schema types in the words of YAML users, in English and Chinese.
_TYPE_WORDS = {
    "object": ("a mapping", "映射"),
    "array": ("a list", "列表"),
    "string": ("text", "文本"),
    "integer": ("an integer", "整数"),
    "number": ("a number", "数字"),
    "boolean": ("true or false", "true 或 false"),
    "null": ("null", "空值"),
}

_SIZE_UNITS = {
    "Items": ("entry", "entries", "个条目"),
    "Length": ("character", "characters", "个字符"),
    "Properties": ("key", "keys", "个键"),
}

#: How to write a value of each pattern the schemas use, keyed by the pattern itself.
_PATTERN_RULES: dict[str, Text] = {
    NAME_PATTERN: Text(
        "Names use lower-case letters, digits and underscores and start with a letter, for example unit_price.",
        "名称只能包含小写字母、数字和下划线，并以字母开头，例如 unit_price。",
    ),
    "^[a-z][a-z0-9_]{0,62}(\\.[a-z][a-z0-9_]{0,62})*$": Text(
        "Write a field name, or reference fields joined by dots, such as customer.city.",
        "请写字段名，或用点连接的引用字段，例如 customer.city。",
    ),
    "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$": Text(
        "Write the hook's registered name: lower-case words joined by dots, such as sales.close_month.",
        "请写钩子注册的名称：用点连接的小写单词，例如 sales.close_month。",
    ),
    "^-?[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$": Text(
        "Write a field name, with a leading - for descending order, such as -created_at.",
        "请写字段名，降序时在前面加 -，例如 -created_at。",
    ),
}


def load_schema(kind: str) -> dict[str, Any]:
    with (SCHEMA_DIR / f"{kind}.schema.json").open(encoding="utf-8") as stream:
        schema: dict[str, Any] = json.load(stream)
    return schema


@cache
def _registry() -> Registry:
    resources = []
    for kind in KINDS + ("common",):
        schema = load_schema(kind)
        # Each schema's $id is its file name, so the relative $refs between them resolve
        # here and in editors that load the files from this folder.
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator_for(kind: str) -> Draft202012Validator:
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def validate_document(kind: str, document: Document) -> list[Diagnostic]:
    """Validate a document against its kind's schema and return one diagnostic per problem."""
    diagnostics: list[Diagnostic] = []
    for error in validator_for(kind).iter_errors(document.data):
        diagnostics.extend(_diagnostics_for(error, kind, document))
    return diagnostics


def _diagnostics_for(error: ValidationError, kind: str, document: Document) -> Iterator[Diagnostic]:
    # Of an anyOf, report what is wrong inside the alternative that fits the value's type.
    if error.validator in ("anyOf", "oneOf") and error.context:
        branch = _fitting_branch(error)
        if branch is not None:
            for sub in branch:
                yield from _diagnostics_for(sub, kind, document)
            return
        types = sorted({name for sub in error.context if sub.validator == "type" for name in _as_list(sub.validator_value)})
        where: DocPath = tuple(error.absolute_path)
        expected = Text(" or ".join(_TYPE_WORDS[name][0] for name in types), "或".join(_TYPE_WORDS[name][1] for name in types))
        yield document.diagnostic(
            "schema.E001", where, found=_found(document, where, error.instance), expected=expected, advice=_type_advice(error.instance, types)
        )
        return

    # jsonschema types these attributes as possibly unset; after iter_errors they are always set.
    path: DocPath = tuple(error.absolute_path)
    instance: Any = error.instance
    schema_value: Any = error.validator_value
    schema: Any = error.schema
    validator: Any = error.validator
    found = _found(document, path, instance)

    if validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                yield document.diagnostic(
                    "schema.E002",
                    path + (key,),
                    at_key=True,
                    found=key,
                    expected=allowed,
                    parent=Text(format_path(path, "en"), format_path(path, "zh-CN")),
                    suggestion=suggest(key, allowed),
                )
    elif validator == "required":
        for key in schema_value:
            if key not in instance:
                yield document.diagnostic("schema.E003", path, expected=key)
    elif validator == "type":
        types = schema_value if isinstance(schema_value, list) else [schema_value]
        expected = Text(
            " or ".join(_TYPE_WORDS[name][0] for name in types), "或".join(_TYPE_WORDS[name][1] for name in types)
        )
        yield document.diagnostic("schema.E001", path, found=found, expected=expected, advice=_type_advice(instance, types))
    elif validator in ("enum", "const"):
        allowed = schema_value if validator == "enum" else [schema_value]
        suggestion = suggest(instance, [str(item) for item in allowed]) if isinstance(instance, str) else None
        yield document.diagnostic("schema.E004", path, found=found, expected=allowed, suggestion=suggestion)
    elif validator == "pattern":
        rule = _PATTERN_RULES.get(schema_value)
        if rule is not None:
            yield document.diagnostic("schema.E006", path, found=found, expected=schema_value, rule=rule)
        else:
            yield document.diagnostic("schema.E005", path, found=found, expected=schema_value)
    elif validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[validator]
        limit = f"{sign} {schema_value}"
        yield document.diagnostic("schema.E007", path, found=found, expected=Text(limit, limit))
    elif validator in ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"):
        singular, plural, unit_zh = next(unit for key, unit in _SIZE_UNITS.items() if validator.endswith(key))
        code = "schema.E008" if validator.startswith("min") else "schema.E012"
        yield document.diagnostic(
            code, path, found=_size(instance), expected=schema_value, unit_en=singular if schema_value == 1 else plural, unit_zh=unit_zh
        )
    elif validator == "uniqueItems":
        yield document.diagnostic("schema.E009", path)
    elif validator == "not" and isinstance(instance, dict):
        keys = sorted(set(instance) & set(schema_value.get("required", [])))
        yield document.diagnostic("schema.E011", path, found=keys, expected=keys)
    elif validator == "propertyNames":
        yield document.diagnostic(
            "schema.E006", path + (instance,), at_key=True, found=instance, expected=NAME_PATTERN, rule=_PATTERN_RULES[NAME_PATTERN]
        )
    else:
        yield document.diagnostic("schema.E010", path, found=error.message, kind=kind)


def _fitting_branch(error: ValidationError) -> list[ValidationError] | None:
    """Return the errors of the first anyOf alternative whose type fits the value, or None if none fits."""
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    depth = len(error.absolute_path)
    for _, errors in sorted(branches.items(), key=lambda item: str(item[0])):
        wrong_type = all(sub.validator == "type" and len(sub.absolute_path) == depth for sub in errors)
        if not wrong_type:
            return errors
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _type_advice(instance: Any, types: list[str]) -> Text:
    """Return the fix for a value of the wrong type: quotes to remove or to add, or a plain rewrite."""
    if isinstance(instance, str) and (
        ("boolean" in types and instance.strip().lower() in ("true", "false"))
        or (("number" in types or "integer" in types) and _looks_numeric(instance))
    ):
        return Text("Remove the quotes around the value.", "请去掉值两边的引号。")
    if "string" in types and isinstance(instance, (bool, int, float)):
        return Text("Put quotes around the value to keep it as text.", "请给值加上引号，使其作为文本。")
    return Text("Rewrite the value in the expected form.", "请按要求的形式改写该值。")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def _found(document: Document, path: DocPath, instance: Any) -> Any:
    raw = document.raw(path)
    if raw is not None:
        return raw
    if isinstance(instance, dict):
        return Text("a mapping", "映射")
    if isinstance(instance, list):
        return Text("a list", "列表")
    return instance


def _size(instance: Any) -> Any:
    return len(instance) if isinstance(instance, (str, list, dict)) else instance
