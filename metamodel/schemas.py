"""Validate documents against the JSON Schema (Draft 2020-12) of their kind.

The schemas ship in metamodel/schemas/, one `<kind>.schema.json` per document kind
plus `common.schema.json` with the shared definitions. Each jsonschema error is
turned into a positioned diagnostic with its own code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Iterator, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from metamodel.diagnostics import Diagnostic, DocPath, Text, format_path, show_value, suggest
from metamodel.schema_branches import SchemaTree
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
    "dashboard",
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
    return diagnose(validator_for(kind), kind, document)


def diagnose(validator: Draft202012Validator, kind: str, document: Document) -> list[Diagnostic]:
    """Turn the validator's errors on a document into diagnostics.

    An error from the `then` or `else` of an `if` whose tested key is itself missing or
    invalid is left out. A wrong value chose that branch, so its errors would only mislead,
    and the key's own error names the fix.
    """
    errors = list(validator.iter_errors(document.data))
    root: Any = validator.schema
    scope = _Scope(SchemaTree(root, _registry()), document)
    for error in errors:
        if not scope.tree.conditions(error):
            scope.invalid.update(_invalid_paths(error))
    diagnostics: list[Diagnostic] = []
    for error in errors:
        diagnostics.extend(_diagnostics_for(error, kind, document, scope))
    return diagnostics


@dataclass
class _Scope:
    tree: SchemaTree
    document: Document
    #: Paths of the values that are missing or invalid, from the errors outside any `then` or `else`.
    #: NOTE: errors inside anyOf/oneOf alternatives are not read, so an `if` within an alternative keeps its branch's errors.
    invalid: set[DocPath] = field(default_factory=set)

    def follows_invalid_key(self, error: ValidationError) -> bool:
        """Tell whether an `if` that chose the error's branch tested a key that is missing or invalid."""
        return any(
            condition.path + (key,) in self.invalid for condition in self.tree.conditions(error) for key in condition.keys
        )

    def condition_text(self, error: ValidationError) -> Text:
        """Describe the values that chose the error's innermost `then` or `else`, such as 'mode is "single"'."""
        conditions = self.tree.conditions(error)
        if not conditions:
            return Text("here", "此处")
        condition = conditions[-1]
        parts_en: list[str] = []
        parts_zh: list[str] = []
        for key in condition.keys:
            value = _value_at(self.document.data, condition.path + (key,))
            if value is _MISSING:
                parts_en.append(f"{key} is not given")
                parts_zh.append(f"未填写 {key}")
            else:
                parts_en.append(f"{key} is {show_value(value)}")
                parts_zh.append(f"{key} 为 {show_value(value)}")
        return Text("when " + " and ".join(parts_en), " 且 ".join(parts_zh) + " 时")


#: Keywords that judge a mapping as a whole, not the value at the error's path.
_WHOLE_MAPPING_KEYWORDS = frozenset(
    {"required", "additionalProperties", "not", "minProperties", "maxProperties", "propertyNames", "dependentRequired"}
)

_MISSING = object()


def _invalid_paths(error: ValidationError) -> list[DocPath]:
    path: DocPath = tuple(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        return [path + (key,) for key in _as_list(error.validator_value) if key not in error.instance]
    if error.validator in _WHOLE_MAPPING_KEYWORDS:
        return []
    return [path]


def _value_at(data: Any, path: DocPath) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return _MISSING
    return data


def _diagnostics_for(error: ValidationError, kind: str, document: Document, scope: _Scope) -> Iterator[Diagnostic]:
    if scope.follows_invalid_key(error):
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        yield from _alternative_diagnostics(error, kind, document, scope)
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
        yield _not_allowed(document, path, instance, allowed)
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
    elif validator == "not" and isinstance(instance, dict) and _forbidden_keys(schema_value, instance):
        yield from _forbidden_diagnostics(error, document, scope)
    elif validator == "propertyNames":
        yield document.diagnostic(
            "schema.E006", path + (instance,), at_key=True, found=instance, expected=NAME_PATTERN, rule=_PATTERN_RULES[NAME_PATTERN]
        )
    else:
        yield document.diagnostic("schema.E010", path, found=error.message, kind=kind)


def _not_allowed(document: Document, path: DocPath, instance: Any, allowed: list[Any]) -> Diagnostic:
    suggestion = suggest(instance, [str(item) for item in allowed]) if isinstance(instance, str) else None
    return document.diagnostic("schema.E004", path, found=_found(document, path, instance), expected=allowed, suggestion=suggestion)


def _forbidden_keys(schema_value: Any, instance: Mapping[str, Any]) -> list[list[str]]:
    """Return the key sets of a `not` that the mapping gives in full.

    The `not` contains `required`, or an `anyOf` of `required`s: {"required": ["scope", "filter"]}
    forbids the two together, and {"anyOf": [{"required": ["levels"]}, ...]} forbids each key.
    """
    clauses = [schema_value] if "required" in schema_value else schema_value.get("anyOf", [])
    return [
        list(clause["required"]) for clause in clauses
        if isinstance(clause, dict) and clause.get("required") and all(key in instance for key in clause["required"])
    ]


def _forbidden_diagnostics(error: ValidationError, document: Document, scope: _Scope) -> Iterator[Diagnostic]:
    """Report keys given together that exclude each other (schema.E011), or keys given where they are not allowed (schema.E013)."""
    path: DocPath = tuple(error.absolute_path)
    schema_value: Any = error.validator_value
    instance: Any = error.instance
    given = _forbidden_keys(schema_value, instance)
    if all(len(keys) > 1 for keys in given):
        clauses = [schema_value] if "required" in schema_value else schema_value.get("anyOf", [])
        exclusive = sorted({key for clause in clauses for key in clause.get("required", [])})
        yield document.diagnostic("schema.E011", path, found=sorted({key for keys in given for key in keys}), expected=exclusive)
        return
    condition = scope.condition_text(error)
    tested = [key for item in scope.tree.conditions(error)[-1:] for key in item.keys]
    if tested:
        names = ", ".join(tested)
        advice = Text(
            f"Remove it, or correct {names} if its value is wrong: {names} decides which keys apply.",
            f"请删除它；如果 {names} 的值有误，请改正：{names} 决定可以填写哪些键。",
        )
    else:
        advice = Text("Remove it.", "请删除它。")
    for key in sorted({key for keys in given for key in keys}):
        yield document.diagnostic("schema.E013", path + (key,), at_key=True, found=key, condition=condition, advice=advice)


def _alternative_diagnostics(error: ValidationError, kind: str, document: Document, scope: _Scope) -> Iterator[Diagnostic]:
    """Report what is wrong inside the anyOf/oneOf alternative that fits the value.

    An alternative fits when the value has its type and the keys that tell the
    alternatives apart (a property that two of them restrict with const or enum) hold
    one of its values. When the type fits some alternatives but such a key fits none,
    the key is reported once with every value the alternatives allow.
    """
    depth = len(error.absolute_path)
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    ordered = [errors for _, errors in sorted(branches.items(), key=lambda item: str(item[0]))]
    fitting = [errors for errors in ordered if not all(sub.validator == "type" and len(sub.absolute_path) == depth for sub in errors)]

    alternatives = scope.tree.alternatives(error)
    counts: dict[str, int] = {}
    for values in alternatives:
        for key in values:
            counts[key] = counts.get(key, 0) + 1
    selectors = {key for key, count in counts.items() if count > 1}

    def rejected_key(sub: ValidationError) -> str | None:
        last = sub.absolute_path[-1] if len(sub.absolute_path) == depth + 1 else None
        return str(last) if sub.validator in ("enum", "const") and last in selectors else None

    for errors in fitting:
        if not any(rejected_key(sub) for sub in errors):
            for sub in errors:
                yield from _diagnostics_for(sub, kind, document, scope)
            return
    if fitting:
        key = next(name for sub in fitting[0] if (name := rejected_key(sub)) is not None)
        allowed: list[Any] = []
        for values in alternatives:
            allowed.extend(value for value in values.get(key, ()) if value not in allowed)
        path: DocPath = tuple(error.absolute_path) + (key,)
        instance: Any = error.instance
        yield _not_allowed(document, path, instance[key], allowed)
        return

    types = sorted({name for sub in error.context or () if sub.validator == "type" for name in _as_list(sub.validator_value)})
    where: DocPath = tuple(error.absolute_path)
    expected = Text(" or ".join(_TYPE_WORDS[name][0] for name in types), "或".join(_TYPE_WORDS[name][1] for name in types))
    yield document.diagnostic(
        "schema.E001", where, found=_found(document, where, error.instance), expected=expected, advice=_type_advice(error.instance, types)
    )


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
