"""Read one YAML file into plain Python data, keeping the position of every node.

The reader is strict where YAML is treacherous and forgiving where editors are:
- Only the YAML 1.2 core schema resolves plain scalars, so `no`, `on` and `12:30`
  stay strings and `010` stays the integer 10. Dates stay strings.
- Tags other than the core ones (`!!python/object` and the like) are rejected.
- Duplicate keys, recursive aliases and alias expansion beyond MAX_NODES are errors.
- A UTF-8 byte-order mark is accepted with a warning; any other encoding is an error
  that names the line of the first undecodable byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from metamodel.diagnostics import Diagnostic, DocPath, Text

#: Values one document may expand to, aliases counted at every use.
MAX_NODES = 100_000
#: Deepest nesting of mappings and sequences accepted.
MAX_DEPTH = 64
#: Largest file read, in bytes.
MAX_BYTES = 5 * 1024 * 1024

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
STR_TAG = "tag:yaml.org,2002:str"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"
MERGE_TAG = "tag:yaml.org,2002:merge"


class CoreSchemaLoader(_BaseLoader):  # type: ignore[misc]
    """A safe loader that resolves plain scalars by the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


CoreSchemaLoader.add_implicit_resolver(
    BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
CoreSchemaLoader.add_implicit_resolver(
    NULL_TAG, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
CoreSchemaLoader.add_implicit_resolver(
    INT_TAG, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
CoreSchemaLoader.add_implicit_resolver(
    FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
CoreSchemaLoader.add_implicit_resolver(MERGE_TAG, re.compile(r"^<<$"), ["<"])


@dataclass(frozen=True)
class ScalarInfo:
    """The start position and style of a scalar, for positions inside its text."""

    line: int
    column: int
    style: str | None
    raw: str
    end_line: int = 0
    end_column: int = 0


@dataclass
class Document:
    """The plain data of one YAML file with the position of each value and key."""

    file: str
    data: Any
    #: The file's text, for mapping positions inside a scalar back to the file.
    text: str = ""
    values: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    scalars: dict[DocPath, ScalarInfo] = field(default_factory=dict)

    def position(self, path: DocPath) -> tuple[int, int]:
        """Return the line and column of the value at `path`, or of its nearest ancestor."""
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def key_position(self, path: DocPath) -> tuple[int, int]:
        """Return the position of the key that names the value at `path`."""
        return self.keys.get(path) or self.position(path)

    def diagnostic(
        self, code: str, path: DocPath, *, at_key: bool = False, **params: Any
    ) -> Diagnostic:
        line, column = self.key_position(path) if at_key else self.position(path)
        return Diagnostic(code, self.file, line, column, path, params)

    def raw(self, path: DocPath) -> str | None:
        info = self.scalars.get(path)
        return info.raw if info else None

    def position_in_scalar(self, path: DocPath, index: int) -> tuple[int, int]:
        """Return the file position of character `index` of the scalar's value.

        The value's characters are matched in order against the scalar's source, so that
        quotes, escapes, block indicators and folded line breaks are stepped over.
        """
        info = self.scalars.get(path)
        if info is None:
            return self.position(path)
        lines = self.text.split("\n")
        source: list[tuple[str, int, int]] = []
        for line_number in range(info.line, min(info.end_line, len(lines)) + 1):
            line = lines[line_number - 1]
            first = info.column - 1 if line_number == info.line else 0
            last = info.end_column - 1 if line_number == info.end_line else len(line)
            for column in range(first, min(last, len(line))):
                source.append((line[column], line_number, column + 1))
            if line_number != info.end_line:
                source.append(("\n", line_number, len(line) + 1))

        cursor = 0
        if info.style in ("|", ">"):
            while cursor < len(source) and source[cursor][0] != "\n":
                cursor += 1  # the block header, such as "|-"
        for position, character in enumerate(info.raw):
            while cursor < len(source) and not _same(source[cursor][0], character):
                cursor += 1
            if cursor >= len(source):
                break
            if position == index:
                return source[cursor][1], source[cursor][2]
            cursor += 1
        return info.line, info.column


class _Stop(Exception):
    """Ends conversion of a document after an error that makes the rest meaningless."""


class _Converter:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.errors: list[Diagnostic] = []
        self.visits = 0
        self.active: set[int] = set()

    def error(self, code: str, node: Node, path: DocPath, **params: Any) -> None:
        mark = node.start_mark
        self.errors.append(
            Diagnostic(code, self.document.file, mark.line + 1, mark.column + 1, path, params)
        )

    def convert(self, node: Node, path: DocPath, depth: int = 0) -> Any:
        self.visits += 1
        if self.visits > MAX_NODES:
            self.error("yaml.E006", node, path, expected=MAX_NODES)
            raise _Stop
        if depth > MAX_DEPTH:
            self.error("yaml.E011", node, path, expected=MAX_DEPTH)
            raise _Stop
        if id(node) in self.active:
            self.error("yaml.E007", node, path)
            raise _Stop

        mark = node.start_mark
        self.document.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, ScalarNode):
            return self.convert_scalar(node, path)

        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self.check_tag(node, path, SEQ_TAG)
                return [self.convert(item, path + (index,), depth + 1) for index, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            self.check_tag(node, path, MAP_TAG)
            return self.convert_mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def check_tag(self, node: Node, path: DocPath, expected: str) -> None:
        if node.tag != expected:
            self.error("yaml.E009", node, path, found=_written_tag(node.tag))

    def convert_scalar(self, node: ScalarNode, path: DocPath) -> Any:
        mark = node.start_mark
        end = node.end_mark
        self.document.scalars[path] = ScalarInfo(
            mark.line + 1, mark.column + 1, node.style, node.value, end.line + 1, end.column + 1
        )
        text = node.value
        if node.tag == STR_TAG:
            return text
        if node.tag == NULL_TAG:
            return None
        if node.tag == BOOL_TAG:
            return text.lower() == "true"
        if node.tag == INT_TAG:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text, 10)
        if node.tag == FLOAT_TAG:
            if "inf" in text.lower() or "nan" in text.lower():
                self.error("yaml.E010", node, path, found=text)
                return None
            return float(text)
        self.error("yaml.E009", node, path, found=_written_tag(node.tag))
        return text

    def convert_mapping(self, node: MappingNode, path: DocPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merges.append((key_node, value_node))
                continue
            if not isinstance(key_node, ScalarNode):
                self.error("yaml.E012", key_node, path)
                continue
            key = key_node.value
            full_width = next((index for index, character in enumerate(key) if character in _FULL_WIDTH), None)
            if full_width is not None and key_node.style in (None, ""):
                mark = key_node.start_mark
                self.errors.append(
                    Diagnostic(
                        "yaml.E016", self.document.file, mark.line + 1, mark.column + 1 + full_width, path + (key,),
                        {"found": key[full_width], "expected": _FULL_WIDTH[key[full_width]]},
                    )
                )
            if key in result:
                first_line, _ = self.document.keys[path + (key,)]
                self.error("yaml.E005", key_node, path + (key,), found=key, first_line=first_line)
                continue
            mark = key_node.start_mark
            self.document.keys[path + (key,)] = (mark.line + 1, mark.column + 1)
            result[key] = self.convert(value_node, path + (key,), depth + 1)

        # Merged mappings fill only the keys the mapping does not state itself.
        for key_node, value_node in merges:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.error("yaml.E013", key_node, path)
                    continue
                merged = self.convert(source, path, depth)
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


def _same(source: str, value: str) -> bool:
    """Match a value character with a source one; folding turns line breaks into spaces."""
    if value in (" ", "\n"):
        return source in (" ", "\n", "\t")
    return source == value


def _written_tag(tag: str) -> str:
    """Show a resolved tag the way it is written in YAML, `!!python/object` rather than its URI."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def read_document(path: Path, display: str) -> tuple[Document | None, list[Diagnostic]]:
    """Read and parse one YAML file; return its document or None, and every problem found."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Diagnostic("yaml.E014", display, 1, 1, (), {"found": exc.strerror or str(exc)})]
    if len(data) > MAX_BYTES:
        return None, [Diagnostic("yaml.E015", display, 1, 1, (), {"found": len(data), "expected": MAX_BYTES})]

    problems: list[Diagnostic] = []
    text, encoding_problem = _decode(data, display)
    if encoding_problem is not None:
        if encoding_problem.severity == "error":
            return None, [encoding_problem]
        problems.append(encoding_problem)
    assert text is not None

    loader = CoreSchemaLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return None, problems + [_syntax_error(exc, text, display)]
    except RecursionError:
        return None, problems + [Diagnostic("yaml.E011", display, 1, 1, (), {"expected": MAX_DEPTH})]
    finally:
        loader.dispose()

    if root is None:
        return None, problems + [Diagnostic("yaml.E004", display, 1, 1, (), {})]

    document = Document(display, None, text)
    converter = _Converter(document)
    try:
        document.data = converter.convert(root, ())
    except _Stop:
        return None, problems + converter.errors
    problems.extend(converter.errors)
    return document, problems


def _decode(data: bytes, display: str) -> tuple[str | None, Diagnostic | None]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, Diagnostic("yaml.E003", display, 1, 1, (), {"found": "UTF-16"})
    warning = None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        warning = Diagnostic("yaml.W001", display, 1, 1, (), {})
    try:
        return data.decode("utf-8"), warning
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        try:
            data.decode("gb18030")
            found = "GBK"
        except UnicodeDecodeError:
            found = "unknown"
        return None, Diagnostic("yaml.E003", display, line, column, (), {"found": found})


#: libyaml's problem texts with a Chinese version that also names the usual cause.
_PROBLEMS_ZH: dict[str, str] = {
    "mapping values are not allowed in this context": "此处不允许出现映射值（常见原因：冒号后缺少空格、值里有未加引号的冒号，或缩进不对）",
    "did not find expected key": "没有找到预期的键（常见原因：缩进不一致）",
    "could not find expected ':'": "没有找到预期的冒号 ':'",
    "did not find expected ',' or '}'": "没有找到预期的 ',' 或 '}'",
    "did not find expected ',' or ']'": "没有找到预期的 ',' 或 ']'",
    "found character that cannot start any token": "出现了不能作为开头的字符",
    "found unexpected end of stream": "文件意外结束（常见原因：引号没有闭合）",
    "did not find expected <document start>": "没有找到预期的文档开头（常见原因：缩进不一致）",
    "found undefined alias": "引用了未定义的别名",
    "did not find expected alphabetic or numeric character": "没有找到预期的字母或数字",
    "did not find expected '-' indicator": "没有找到预期的列表标记 '-'",
    "block sequence entries are not allowed in this context": "此处不允许出现列表项 '-'",
    "found unknown escape character": "引号内有未知的转义字符",
    "found unexpected ':'": "出现了意外的冒号 ':'",
}

#: libyaml's context texts in Chinese.
_CONTEXTS_ZH: dict[str, str] = {
    "while parsing a flow mapping": "读取 {...} 映射时",
    "while parsing a flow sequence": "读取 [...] 列表时",
    "while parsing a block mapping": "读取映射时",
    "while parsing a block collection": "读取列表时",
    "while scanning a simple key": "读取键时",
    "while scanning a quoted scalar": "读取引号内的文本时",
    "while scanning a plain scalar": "读取文本时",
    "while scanning an alias": "读取别名时",
    "while scanning an anchor": "读取锚点时",
}

#: Full-width characters that Chinese keyboards type in place of YAML's punctuation.
_FULL_WIDTH = {"：": ":", "，": ",", "\u3000": " ", "【": "[", "】": "]", "｛": "{", "｝": "}", "“": '"', "”": '"', "－": "-"}


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, display: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    # An unclosed quote or bracket is found far from where it opened; point at the opening.
    context = (exc.context or "").strip()
    if exc.context_mark is not None and context.startswith(("while scanning a quoted scalar", "while parsing a flow")):
        mark = exc.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    problem_zh = _PROBLEMS_ZH.get(problem, problem)
    if exc.problem and exc.context and exc.context_mark is not None:
        context_line = exc.context_mark.line + 1
        problem += f" ({context}, which starts on line {context_line})"
        problem_zh += f"（{_CONTEXTS_ZH.get(context, context)}，从第 {context_line} 行开始）"

    if "expected a single document" in context or "single document" in problem:
        return Diagnostic("yaml.E008", display, line, column, (), {})

    lines = text.splitlines()
    full_width = _full_width_near(lines, line, exc.context_mark.line + 1 if exc.context_mark else line)
    if full_width is not None:
        found_line, found_column, character = full_width
        return Diagnostic(
            "yaml.E016", display, found_line, found_column, (), {"found": character, "expected": _FULL_WIDTH[character]}
        )

    # A tab anywhere in the indentation of the failing line is the usual cause.
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    indentation = source_line[: len(source_line) - len(source_line.lstrip(" \t"))]
    if "\t" in indentation or (0 <= column - 1 < len(source_line) and source_line[column - 1] == "\t"):
        tab_column = source_line.index("\t") + 1
        return Diagnostic("yaml.E002", display, line, tab_column, (), {})
    if isinstance(exc, yaml.constructor.ConstructorError):
        return Diagnostic("yaml.E009", display, line, column, (), {"found": problem})
    return Diagnostic("yaml.E001", display, line, column, (), {"reason": Text(problem, problem_zh)})


def _full_width_near(lines: list[str], line: int, context_line: int) -> tuple[int, int, str] | None:
    """Find a full-width punctuation mark outside quotes on the failing line or the one before it."""
    for number in sorted({line, line - 1, context_line}):
        if not 0 < number <= len(lines):
            continue
        quoted = False
        for index, character in enumerate(lines[number - 1]):
            if character in "'\"":
                quoted = not quoted
            elif character == "#" and not quoted:
                break
            elif character in _FULL_WIDTH and not quoted:
                return number, index + 1, character
    return None
