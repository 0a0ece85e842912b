"""Turn schema-valid documents into model objects, with the checks one document can make alone.

Each `build_<kind>` function takes a document whose data already passed the kind's
JSON Schema, so keys and types are known to be right here. What needs other
documents (references, roles, catalog rows) is checked in crosscheck.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from metamodel import model as m
from metamodel.diagnostics import Diagnostic, DocPath, Text
from metamodel.expressions import Expression, parse_expression
from metamodel.yamlsource import Document

#: The field types each field option applies to.
OPTION_TYPES: dict[str, frozenset[str]] = {
    "choices": frozenset({"enum"}),
    "entity": m.REFERENCE_TYPES,
    "fields": frozenset({"child"}),
    "accept": frozenset({"attachment", "attachments"}),
    "max_size_mb": frozenset({"attachment", "attachments"}),
    "places": frozenset({"decimal", "money", "percent"}),
    "min": m.NUMERIC_TYPES,
    "max": m.NUMERIC_TYPES,
    "length": m.TEXT_TYPES,
    "pattern": m.TEXT_TYPES,
    "pattern_message": m.TEXT_TYPES,
    "searchable": m.TEXT_TYPES | m.IDENTIFIER_TYPES | {"enum"},
}


@dataclass(frozen=True)
class ExpressionSite:
    """An expression with its place in a document, kept until its names are checked against the entity."""

    document: Document
    path: DocPath
    expression: Expression
    #: The entity whose fields the expression may name.
    entity: str


class Builder:
    """Collects the diagnostics and expression sites found while building one application."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.sites: list[ExpressionSite] = []

    def report(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def expression(self, document: Document, path: DocPath, source: str, entity: str) -> Expression | None:
        expression, problems = parse_expression(source)
        for problem in problems:
            line, column = expression_position(document, path, problem.line, problem.offset)
            self.report(Diagnostic(problem.code, document.file, line, column, path, problem.params))
        if expression is not None:
            self.sites.append(ExpressionSite(document, path, expression, entity))
        return expression

    def condition(self, document: Document, path: DocPath, value: Any, entity: str) -> Expression | bool:
        if isinstance(value, bool):
            return value
        return self.expression(document, path, value, entity) or False

    def unique_names(self, document: Document, path: DocPath, items: Iterable[Any], key: str = "name") -> None:
        """Report items of a list that repeat the name of an earlier item."""
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            name = item.get(key) if isinstance(item, dict) else item
            if not isinstance(name, str):
                continue
            item_path = path + (index, key) if isinstance(item, dict) else path + (index,)
            if name in seen:
                self.report(
                    document.diagnostic("name.E003", item_path, found=name, first_line=seen[name])
                )
            else:
                seen[name] = document.position(item_path)[0]


def expression_position(document: Document, path: DocPath, line: int, offset: int) -> tuple[int, int]:
    """Map a line and character offset inside an expression's text to the file."""
    info = document.scalars.get(path)
    if info is None:
        return document.position(path)
    lines = info.raw.split("\n")
    index = sum(len(text) + 1 for text in lines[: line - 1]) + offset
    if index >= len(info.raw) and info.raw:
        # Just past the last character, where a missing operand would go.
        last_line, last_column = document.position_in_scalar(path, len(info.raw) - 1)
        return last_line, last_column + 1
    return document.position_in_scalar(path, index)


def source_of(document: Document, path: DocPath = ()) -> m.Source:
    line, column = document.position(path)
    return m.Source(document.file, line, column)


def label(data: Any) -> m.Label:
    return m.Label(zh_cn=data["zh-CN"], en=data["en"])


def optional_label(data: Any) -> m.Label | None:
    return label(data) if data is not None else None


def decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value))


def build_entity(builder: Builder, document: Document) -> m.Entity:
    data = document.data
    name = data["name"]
    builder.unique_names(document, ("fields",), data["fields"])
    fields: dict[str, m.Field] = {}
    for index, field_data in enumerate(data["fields"]):
        field = build_field(builder, document, ("fields", index), field_data, name)
        fields.setdefault(field.name, field)
        if field.name in m.SYSTEM_FIELDS:
            builder.report(
                document.diagnostic("name.E002", ("fields", index, "name"), found=field.name, expected=list(m.SYSTEM_FIELDS))
            )
    for index, field_data in enumerate(data["fields"]):
        old_name = field_data.get("renamed_from")
        if old_name is not None and old_name in fields:
            builder.report(document.diagnostic("field.E006", ("fields", index, "renamed_from"), found=old_name))

    list_data = data.get("list", {})
    rules = []
    for index, rule in enumerate(data.get("rules", [])):
        check = builder.expression(document, ("rules", index, "check"), rule["check"], name)
        if check is not None:
            rules.append(m.Rule(rule["name"], check, label(rule["message"]), tuple(rule.get("fields", ()))))
    builder.unique_names(document, ("rules",), data.get("rules", []))
    builder.unique_names(document, ("actions",), data.get("actions", []))

    return m.Entity(
        name=name,
        label=label(data["label"]),
        source=source_of(document),
        fields=m.frozen_mapping(fields),
        title=data.get("title"),
        description=optional_label(data.get("description")),
        list=m.ListSpec(
            columns=tuple(list_data.get("columns", ())),
            filters=tuple(list_data.get("filters", ())),
            sort=tuple(list_data.get("sort", ())),
        ),
        indexes=tuple(m.Index(tuple(index["fields"]), index.get("unique", False)) for index in data.get("indexes", [])),
        rules=tuple(rules),
        reason_required=data.get("reason_required", False),
        hooks=m.frozen_mapping({event: tuple(names) for event, names in data.get("hooks", {}).items() if names}),
        actions=tuple(
            m.EntityAction(item["name"], label(item["label"]), item["hook"], optional_label(item.get("confirm")),
                           tuple(item.get("states", ())))
            for item in data.get("actions", [])
        ),
        related=tuple(
            m.RelatedList(item["entity"], item["field"], optional_label(item.get("label")), tuple(item.get("columns", ())),
                          item.get("limit", m.RELATED_LIMIT))
            for item in data.get("related", [])
        ),
    )


def build_field(builder: Builder, document: Document, path: DocPath, data: dict[str, Any], entity: str) -> m.Field:
    field_type = data["type"]
    for option, types in OPTION_TYPES.items():
        if option in data and field_type not in types:
            builder.report(
                document.diagnostic(
                    "field.E001", path + (option,), at_key=True, found=option, type=field_type, expected=sorted(types)
                )
            )

    pattern = data.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            builder.report(document.diagnostic("field.E002", path + ("pattern",), found=pattern, reason=str(exc)))

    low, high = decimal(_number(data.get("min"))), decimal(_number(data.get("max")))
    if low is not None and high is not None and low > high:
        builder.report(document.diagnostic("field.E004", path + ("min",), found=data["min"], expected=data["max"]))

    length_limits = data.get("length", {})
    if "min" in length_limits and "max" in length_limits and length_limits["min"] > length_limits["max"]:
        builder.report(
            document.diagnostic("field.E004", path + ("length", "min"), found=length_limits["min"], expected=length_limits["max"])
        )

    computed = None
    if "computed" in data:
        computed = builder.expression(document, path + ("computed",), data["computed"], entity)
        for option in ("required", "default"):
            value = data.get(option)
            if value is not None and not (option == "required" and value is False):
                builder.report(
                    document.diagnostic("field.E005", path + (option,), at_key=True, found=data["name"], other=option)
                )

    child_fields: list[m.Field] = []
    if field_type == "child":
        builder.unique_names(document, path + ("fields",), data["fields"])
        for index, row_field in enumerate(data["fields"]):
            if row_field["type"] == "child":
                builder.report(
                    document.diagnostic(
                        "field.E001", path + ("fields", index, "type"), found="child", type="child", expected=["entity fields"]
                    )
                )
            child_fields.append(build_field(builder, document, path + ("fields", index), row_field, entity))

    length = data.get("length", {})
    places = data.get("places")
    if places is None and field_type == "money":
        places = 2
    return m.Field(
        name=data["name"],
        type=field_type,
        label=label(data["label"]),
        source=source_of(document, path),
        required=data.get("required", False),
        unique=data.get("unique", False),
        min=low,
        max=high,
        min_length=length.get("min"),
        max_length=length.get("max"),
        pattern=pattern,
        pattern_message=optional_label(data.get("pattern_message")),
        default=m.deep_freeze(data.get("default")),
        read_only=data.get("read_only", False) or "computed_by" in data,
        computed=computed,
        computed_by=data.get("computed_by"),
        masked=data.get("masked", False),
        encrypted=data.get("encrypted", False),
        indexed=data.get("indexed", False),
        searchable=data.get("searchable", False),
        renamed_from=data.get("renamed_from"),
        help=optional_label(data.get("help")),
        places=places,
        choices=tuple(m.Choice(choice["value"], label(choice["label"])) for choice in data.get("choices", [])),
        entity=data.get("entity"),
        fields=tuple(child_fields),
        accept=tuple(data.get("accept", ())),
        max_size_mb=decimal(data.get("max_size_mb")),
    )


def _number(value: Any) -> Any:
    """Return a YAML min or max as a number, or None when it is text that is no number.

    The schema admits text so that "1e6" or "0.35" can be written exactly; anything
    else is left to the min > max check, which then has nothing to compare.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


def build_form(builder: Builder, document: Document) -> m.Form:
    data = document.data
    entity = data["entity"]
    builder.unique_names(document, ("sections",), data["sections"])
    sections = []
    for section_index, section in enumerate(data["sections"]):
        section_path: DocPath = ("sections", section_index)
        fields = []
        for field_index, entry in enumerate(section["fields"]):
            path = section_path + ("fields", field_index)
            if isinstance(entry, str):
                fields.append(m.FormField(entry))
                continue
            fields.append(
                m.FormField(
                    field=entry["field"],
                    widget=entry.get("widget"),
                    span=entry.get("span", 1),
                    visible=builder.condition(document, path + ("visible",), entry.get("visible", True), entity),
                    required=_optional_condition(builder, document, path + ("required",), entry.get("required"), entity),
                    read_only=_optional_condition(builder, document, path + ("read_only",), entry.get("read_only"), entity),
                )
            )
        sections.append(
            m.FormSection(
                name=section["name"],
                label=label(section["label"]),
                columns=section.get("columns", 2),
                fields=tuple(fields),
                visible=builder.condition(document, section_path + ("visible",), section.get("visible", True), entity),
            )
        )
    return m.Form(data["name"], entity, label(data["label"]), source_of(document), tuple(sections))


def _optional_condition(
    builder: Builder, document: Document, path: DocPath, value: Any, entity: str
) -> Expression | bool | None:
    return None if value is None else builder.condition(document, path, value, entity)


def reason_text(en: str, zh_cn: str) -> Text:
    return Text(en, zh_cn)
