"""Schema errors inside anyOf/oneOf alternatives and if/then/else branches, on a schema written for these tests.

The product's schemas use if/then/else on flow approvals, report measures, templates and
entity fields. This schema puts the same constructs in one small document, together with
a oneOf whose alternatives differ by a const key, which the product's schemas do not use yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from metamodel.diagnostics import Diagnostic
from metamodel.schemas import diagnose
from metamodel.yamlsource import read_document

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "sample.schema.json",
    "type": "object",
    "properties": {
        # A shape whose kind selects the alternative: a circle has a radius, and a box has a width and a height.
        "shape": {
            "oneOf": [
                {"type": "string"},
                {"$ref": "#/$defs/circle"},
                {"type": "object", "properties": {"kind": {"const": "box"}, "width": {"type": "integer"}, "height": {"type": "integer"}},
                 "required": ["kind", "width", "height"], "additionalProperties": False},
            ]
        },
        # A delivery needs an address when it is sent and must not have one when it is collected.
        "delivery": {
            "type": "object",
            "properties": {"method": {"enum": ["send", "collect"]}, "address": {"type": "string"}, "shop": {"type": "string"}},
            "required": ["method"],
            "additionalProperties": False,
            "allOf": [
                {"if": {"properties": {"method": {"const": "send"}}, "required": ["method"]},
                 "then": {"required": ["address"]},
                 "else": {"not": {"anyOf": [{"required": ["address"]}]}}}
            ],
        },
        "note": {"type": "object", "not": {"anyOf": [{"required": ["draft"]}]}},
    },
    "$defs": {
        "circle": {"type": "object", "properties": {"kind": {"const": "circle"}, "radius": {"type": "number"}},
                   "required": ["kind", "radius"], "additionalProperties": False}
    },
}


def diagnostics(tmp_path: Path, text: str) -> list[Diagnostic]:
    path = tmp_path / "sample.yaml"
    path.write_text(text, encoding="utf-8")
    document, problems = read_document(path, "sample.yaml")
    assert document is not None, problems
    return diagnose(Draft202012Validator(SCHEMA), "sample", document)


def test_sample_schema_is_valid() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_unknown_kind_lists_every_alternative(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "shape: {kind: cirle, radius: 2}\n")

    assert [(item.code, item.line, item.column) for item in found] == [("schema.E004", 1, 15)]
    assert found[0].message("en") == 'shape.kind must be one of "circle", "box", found "cirle"'
    assert found[0].hint("en") == 'Did you mean "circle"? Use one of the listed values.'


def test_known_kind_reports_inside_its_alternative(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "shape: {kind: box, width: 2, height: tall}\n")

    assert [item.code for item in found] == ["schema.E001"]
    assert found[0].message("en") == 'shape.height must be an integer, found "tall"'


def test_alternative_through_a_reference(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "shape: {kind: circle}\n")

    assert [item.code for item in found] == ["schema.E003"]
    assert found[0].message("en") == 'shape is missing the required key "radius"'


def test_wrong_type_for_every_alternative(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "shape: 3\n")

    assert [item.code for item in found] == ["schema.E001"]
    assert found[0].message("en") == 'shape must be a mapping or text, found "3"'


def test_branch_of_a_valid_condition(tmp_path: Path) -> None:
    sent = diagnostics(tmp_path, "delivery: {method: send}\n")
    collected = diagnostics(tmp_path, "delivery: {method: collect, address: Main Street 1}\n")

    assert [item.message("en") for item in sent] == ['delivery is missing the required key "address"']
    assert [(item.code, item.line, item.column) for item in collected] == [("schema.E013", 1, 29)]
    assert collected[0].message("en") == 'delivery.address may not be given when method is "collect"'
    assert collected[0].message("zh-CN") == 'method 为 "collect" 时不能填写 delivery.address'


def test_branch_of_an_invalid_condition_is_left_out(tmp_path: Path) -> None:
    # "sent" fails the enum, so the else branch that forbids the address reports nothing.
    found = diagnostics(tmp_path, "delivery: {method: sent, address: Main Street 1}\n")

    assert [item.code for item in found] == ["schema.E004"]
    assert found[0].message("en") == 'delivery.method must be one of "send", "collect", found "sent"'


def test_branch_of_a_missing_condition_is_left_out(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "delivery: {address: Main Street 1}\n")

    assert [item.message("en") for item in found] == ['delivery is missing the required key "method"']


def test_forbidden_key_outside_a_condition(tmp_path: Path) -> None:
    found = diagnostics(tmp_path, "note: {draft: true}\n")

    assert [item.code for item in found] == ["schema.E013"]
    assert found[0].message("en") == "note.draft may not be given here"
    assert found[0].message("zh-CN") == "此处不能填写 note.draft"
    assert found[0].hint("en") == "Remove it."
