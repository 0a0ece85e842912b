"""Find the `if` conditions and anyOf/oneOf alternatives that a schema error comes from.

jsonschema reports an error found inside `then` or `else` without the `if` that chose the
branch, and an anyOf/oneOf error with the errors of every alternative but not which one
the value meant. `SchemaTree` walks the schema along an error's schema path, through
`$ref`s, to recover both, so that messages can name the key that selects a branch and
every value it allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from metamodel.diagnostics import DocPath

if TYPE_CHECKING:
    # The package exports Resolver only from this module, as the return type of Registry.resolver.
    from referencing._core import Resolver

#: Keywords whose next schema-path part names a property or an index, and which descend into that child of the value.
_CHILD_BY_NAME = frozenset({"properties", "patternProperties", "prefixItems"})
#: Keywords that descend into some child of the value, whichever one failed.
_CHILD_ANY = frozenset({"items", "additionalProperties", "unevaluatedItems", "unevaluatedProperties", "contains"})


@dataclass(frozen=True)
class Condition:
    """An `if` whose result chose the `then` or `else` branch that an error comes from."""

    #: The `if` schema.
    test: Mapping[str, Any]
    #: The path of the value that the `if` tested.
    path: DocPath
    #: "then" or "else".
    branch: str

    @property
    def keys(self) -> list[str]:
        """Return the keys whose values the `if` tests, such as ["mode"]."""
        return sorted(self.test.get("properties", {}))


class SchemaTree:
    """A root schema, with the registry that resolves its `$ref`s."""

    def __init__(self, root: Mapping[str, Any], registry: Registry) -> None:
        self.root = root
        self.resolver = registry.resolver_with_root(Resource.from_contents(root))

    def conditions(self, error: ValidationError) -> list[Condition]:
        """Return the `if`s that chose the branches an error comes from, outermost first."""
        walked = self._walk(error)
        return walked[2] if walked is not None else []

    def alternatives(self, error: ValidationError) -> list[Mapping[str, list[Any]]]:
        """Return, per alternative of an anyOf/oneOf error, the values its `const`s and `enum`s allow per property."""
        walked = self._walk(error)
        if walked is None or not isinstance(walked[0], list):
            return []
        allowed: list[Mapping[str, list[Any]]] = []
        for branch in walked[0]:
            schema, resolver = _dereferenced(branch, walked[1], "properties")
            properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
            values: dict[str, list[Any]] = {}
            for key, property_schema in properties.items():
                resolved, _ = _dereferenced(property_schema, resolver, "enum")
                if isinstance(resolved, dict) and "const" in resolved:
                    values[key] = [resolved["const"]]
                elif isinstance(resolved, dict) and isinstance(resolved.get("enum"), list):
                    values[key] = list(resolved["enum"])
            allowed.append(values)
        return allowed

    def _walk(self, error: ValidationError) -> tuple[Any, Resolver[Any], list[Condition]] | None:
        """Follow the error's schema path; return the schema it ends at, its resolver and the `if`s passed on the way.

        Return None when the path cannot be followed, so that a schema this walk does not
        understand leaves messages as jsonschema gave them instead of failing the check.
        """
        parts = list(error.absolute_schema_path)
        value_path = tuple(error.absolute_path)
        node: Any = self.root
        resolver = self.resolver
        depth = 0
        conditions: list[Condition] = []
        index = 0
        try:
            while index < len(parts):
                part = parts[index]
                node, resolver = _dereferenced(node, resolver, part)
                if part in ("then", "else") and isinstance(node, dict) and "if" in node:
                    conditions.append(Condition(node["if"], value_path[:depth], str(part)))
                if part in _CHILD_BY_NAME and index + 1 < len(parts):
                    node = node[part][parts[index + 1]]
                    depth += 1
                    index += 2
                    continue
                if part in _CHILD_ANY:
                    depth += 1
                node = node[part]
                index += 1
        except (KeyError, IndexError, TypeError, Unresolvable):
            return None
        return node, resolver, conditions


def _dereferenced(node: Any, resolver: Resolver[Any], part: Any) -> tuple[Any, Resolver[Any]]:
    """Follow `$ref`s from a schema until it contains `part` or has no `$ref` left."""
    while isinstance(node, dict) and part not in node and "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        node, resolver = resolved.contents, resolved.resolver
    return node, resolver
