"""Build the seed hints of seed.yaml, with the checks the document can make alone.

A field hint names at most one generator. Whether the named units, roles, entities and
fields exist, and whether a generator fits the field's type, is checked in crosscheck_seed.py.
"""

from __future__ import annotations

import datetime
import string
from decimal import Decimal
from typing import Any

from metamodel import model as m
from metamodel.build import Builder, source_of
from metamodel.diagnostics import DocPath, Text
from metamodel.expressions import Expression
from metamodel.yamlsource import Document

#: The keys of a field hint that choose how its value is made; a hint may use one.
GENERATOR_KEYS: tuple[str, ...] = ("value", "range", "choices", "faker", "format")

#: The names a seed hint's format string may use.
FORMAT_NAMES: tuple[str, ...] = ("n", "year")


def build_seed(builder: Builder, document: Document) -> m.Seed:
    data = document.data
    entities = {
        name: _build_entity(builder, document, ("entities", name), name, item or {})
        for name, item in (data.get("entities") or {}).items()
    }
    return m.Seed(
        source=source_of(document),
        owners=tuple(data.get("owners") or ()),
        users=m.frozen_mapping(dict(data.get("users") or {})),
        entities=m.frozen_mapping(entities),
    )


def _build_entity(builder: Builder, document: Document, path: DocPath, name: str, data: dict[str, Any]) -> m.SeedEntity:
    fields = {
        field: _build_field(builder, document, path + ("fields", field), name, field, hint)
        for field, hint in (data.get("fields") or {}).items()
    }
    steps = {transition: _build_step(transition, item or {}) for transition, item in (data.get("steps") or {}).items()}
    return m.SeedEntity(name, data.get("count"), tuple(data.get("owners") or ()), m.frozen_mapping(fields),
                        tuple(data.get("states") or ()), m.frozen_mapping(steps))


def _build_step(transition: str, data: dict[str, Any]) -> m.SeedStep:
    created = tuple(
        m.SeedCreate(item["entity"], item["link"], m.frozen_mapping(dict(item.get("values") or {})), tuple(item.get("actions") or ()))
        for item in data.get("create") or ()
    )
    return m.SeedStep(transition, created, tuple(data.get("actions") or ()), tuple(data.get("hooks") or ()))


def _build_field(builder: Builder, document: Document, path: DocPath, entity: str, field: str, data: dict[str, Any]) -> m.SeedField:
    generators = [key for key in GENERATOR_KEYS if key in data]
    if len(generators) > 1:
        builder.report(document.diagnostic("seed.E002", path + (generators[1],), at_key=True, found=generators[1], expected=generators[0]))
    if "step" in data and "range" not in data:
        builder.report(document.diagnostic("seed.E008", path + ("step",), at_key=True))
    if data.get("in_turn") and "choices" not in data:
        builder.report(document.diagnostic("seed.E009", path + ("in_turn",), at_key=True))

    value = builder.expression(document, path + ("value",), data["value"], entity) if "value" in data else None
    bounds = None
    if "range" in data:
        low, high = (_bound(builder, document, path + ("range", index), entity, item) for index, item in enumerate(data["range"]))
        if isinstance(low, Decimal) and isinstance(high, Decimal) and low > high:
            builder.report(document.diagnostic("seed.E006", path + ("range",), found=data["range"][0], expected=data["range"][1]))
        if low is not None and high is not None:
            bounds = (low, high)
    text_format = data.get("format")
    if text_format is not None:
        problem = format_problem(text_format)
        if problem is not None:
            builder.report(document.diagnostic("seed.E007", path + ("format",), found=text_format, reason=problem))
    prefix = data.get("prefix")
    when = builder.expression(document, path + ("when",), data["when"], entity) if "when" in data else None
    probability = data.get("probability")
    step = data.get("step")
    return m.SeedField(
        field=field,
        value=value,
        range=bounds,
        step=Decimal(str(step)) if step is not None else None,
        choices=tuple(data.get("choices") or ()),
        faker=data.get("faker"),
        format=text_format,
        probability=Decimal(str(probability)) if probability is not None else None,
        in_turn=bool(data.get("in_turn", False)),
        distinct=bool(data.get("distinct", False)),
        prefix=(prefix,) if isinstance(prefix, str) else tuple(prefix or ()),
        when=when,
    )


def _bound(builder: Builder, document: Document, path: DocPath, entity: str, value: Any) -> Decimal | Expression | None:
    if isinstance(value, str):
        return builder.expression(document, path, value, entity)
    return Decimal(str(value))


def format_problem(text: str) -> Text | None:
    """Return why a hint's format string cannot be filled with {n} and {year}, or None when it can."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as error:
        return Text(str(error), str(error))
    unknown = [name for name in names if name not in FORMAT_NAMES]
    if unknown:
        return Text(f"the unknown name {{{unknown[0]}}}; use {{n}} or {{year}}", f"未知名称 {{{unknown[0]}}}；请使用 {{n}} 或 {{year}}")
    try:
        text.format(n=1, year=datetime.date.today().year)
    except (ValueError, TypeError) as error:
        return Text(str(error), str(error))
    return None
