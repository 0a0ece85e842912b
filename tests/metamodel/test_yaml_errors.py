"""Bad YAML of every kind gets one positioned diagnostic with a stable code, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from metamodel import CheckResult
from metamodel.messages import MESSAGES
from metamodel.yamlsource import MAX_BYTES, read_document
from tests.conftest import BASE_APP, REPOSITORY

ITEM = "entities/item.yaml"
GOOD_ITEM = "name: item\nlabel: {zh-CN: 商品, en: Item}\nfields:\n  - name: title\n    type: string\n    label: {zh-CN: 名称, en: Title}\n"

ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
)

# (case, file content, code, line, column, English message)
CASES: list[tuple[str, str | bytes, str, int, int, str]] = [
    (
        "not yaml",
        "name: item\nlabel: {zh-CN: 商品, en: Item\nfields: []\n",
        "yaml.E001",
        2,
        8,
        "invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping, which starts on line 2)",
    ),
    ("tab indentation", "name: item\nlabel:\n\tzh-CN: 商品\n", "yaml.E002", 3, 1, "a tab character is used for indentation"),
    (
        "gbk encoding",
        "name: item\nlabel: {zh-CN: 商品, en: Item}\n".encode("gbk"),
        "yaml.E003",
        2,
        16,
        'the file is not UTF-8 (it looks like "GBK")',
    ),
    ("utf-16 encoding", "name: item\n".encode("utf-16"), "yaml.E003", 1, 1, 'the file is not UTF-8 (it looks like "UTF-16")'),
    ("empty file", "", "yaml.E004", 1, 1, "the file is empty"),
    ("only comments", "# nothing yet\n", "yaml.E004", 1, 1, "the file is empty"),
    (
        "duplicate key",
        "name: item\nname: other\nlabel: {zh-CN: 商品, en: Item}\n",
        "yaml.E005",
        2,
        1,
        'duplicate key "name"; it was first set on line 1',
    ),
    ("alias bomb", ALIAS_BOMB, "yaml.E006", 1, 35, "aliases expand this document to more than 100000 values"),
    ("recursive alias", "a: &a\n  b: *a\n", "yaml.E007", 1, 4, "an alias refers to a node that contains it"),
    ("two documents", "name: item\n---\nname: x\n", "yaml.E008", 2, 1, "the file contains more than one YAML document"),
    (
        "python object tag",
        "name: !!python/object/apply:os.system ['ls']\n",
        "yaml.E009",
        1,
        7,
        'the tag "!!python/object/apply:os.system" is not allowed',
    ),
    ("custom tag", "name: !secret item\n", "yaml.E009", 1, 7, 'the tag "!secret" is not allowed'),
    (
        "infinite number",
        GOOD_ITEM + "  - name: rate\n    type: decimal\n    label: {zh-CN: 费率, en: Rate}\n    max: .inf\n",
        "yaml.E010",
        10,
        10,
        '".inf" is not a finite number',
    ),
    ("deep nesting", "a: " + "[" * 80 + "]" * 80 + "\n", "yaml.E011", 1, 68, "the document nests deeper than 64 levels"),
    (
        "full-width colon",
        "name: item\ntitle：name\nlabel: {zh-CN: 商品, en: Item}\n",
        "yaml.E016",
        2,
        6,
        'the full-width character "：" stands where YAML needs ":"',
    ),
    (
        "full-width space in a key",
        "name: item\n\u3000\u3000label: {zh-CN: 商品, en: Item}\n",
        "yaml.E016",
        2,
        1,
        'the full-width character "\u3000" stands where YAML needs " "',
    ),
    ("list as key", "? [a, b]\n: c\n", "yaml.E012", 1, 3, "a mapping key must be plain text, not a list or mapping"),
    ("merge of a scalar", "name: item\n<<: text\n", "yaml.E013", 2, 1, "'<<' must merge a mapping or a list of mappings"),
]


@pytest.mark.parametrize(("case", "content", "code", "line", "column", "message"), CASES, ids=[case[0] for case in CASES])
def test_bad_yaml_diagnostic(
    check: Callable[..., CheckResult], case: str, content: str | bytes, code: str, line: int, column: int, message: str
) -> None:
    result = check({ITEM: content})

    assert result.model is None
    assert [item.code for item in result.diagnostics] == [code]
    diagnostic = result.diagnostics[0]
    assert diagnostic.file.endswith(ITEM)
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert diagnostic.message("en") == message
    assert diagnostic.hint("en")
    assert diagnostic.message("zh-CN") != message


def test_byte_order_mark_is_warning(check: Callable[..., CheckResult]) -> None:
    result = check({ITEM: b"\xef\xbb\xbf" + GOOD_ITEM.encode("utf-8")})

    assert result.model is not None
    assert [item.code for item in result.warnings] == ["yaml.W001"]
    assert (result.warnings[0].line, result.warnings[0].column) == (1, 1)
    assert result.errors == []


def test_yaml_1_1_booleans_stay_text(check: Callable[..., CheckResult]) -> None:
    result = check({ITEM: GOOD_ITEM + "    required: yes\n"})

    assert [item.code for item in result.diagnostics] == ["schema.E001"]
    assert result.diagnostics[0].message("en") == 'fields[0].required must be true or false, found "yes"'


def test_merge_keys_fill_missing_keys(check: Callable[..., CheckResult]) -> None:
    content = (
        "name: item\nlabel: {zh-CN: 商品, en: Item}\nfields:\n"
        "  - &money {name: price, type: money, label: {zh-CN: 价格, en: Price}, min: 0}\n"
        "  - <<: *money\n    name: cost\n    label: {zh-CN: 成本, en: Cost}\n"
    )
    result = check({ITEM: content})

    assert result.errors == []
    assert result.model is not None
    cost = result.model.entities["item"].fields["cost"]
    assert cost.type == "money"
    assert cost.label.en == "Cost"


def test_leading_zero_number_is_decimal(check: Callable[..., CheckResult]) -> None:
    result = check({ITEM: GOOD_ITEM + "    length: {max: 010}\n"})

    assert result.model is not None
    assert result.model.entities["item"].fields["title"].max_length == 10


def test_every_file_reported_at_once(check: Callable[..., CheckResult]) -> None:
    result = check({ITEM: "name: [\n", "entities/other.yaml": "name: other\nname: again\n", "forms/x.yaml": ""})

    assert sorted(item.code for item in result.errors) == ["yaml.E001", "yaml.E004", "yaml.E005"]


def test_base_app_is_valid(check: Callable[..., CheckResult]) -> None:
    result = check()

    assert result.diagnostics == []
    assert result.model is not None
    assert set(result.model.entities) == {"item"}
    assert BASE_APP


def test_unreadable_file_reported(tmp_path: Path) -> None:
    document, problems = read_document(tmp_path / "missing.yaml", "missing.yaml")

    assert document is None
    assert [problem.code for problem in problems] == ["yaml.E014"]
    assert problems[0].message("en") == 'the file cannot be read: "No such file or directory"'


def test_oversized_file_reported(check: Callable[..., CheckResult]) -> None:
    padding = "# " + "x" * 98 + "\n"
    result = check({ITEM: GOOD_ITEM + padding * (MAX_BYTES // len(padding) + 1)})

    assert [item.code for item in result.diagnostics] == ["yaml.E015"]
    assert result.diagnostics[0].message("en").startswith("the file has ")


def test_every_code_has_a_test() -> None:
    """Each diagnostic code is pinned by some test, except the fallback for schema keywords no schema uses."""
    texts = "\n".join(path.read_text(encoding="utf-8") for path in REPOSITORY.joinpath("tests").rglob("*.py"))
    untested = [code for code in MESSAGES if f'"{code}"' not in texts and code != "schema.E010"]

    assert untested == []
