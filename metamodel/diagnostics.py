"""Diagnostics: the positioned errors and warnings that loading an application produces."""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from metamodel.messages import MESSAGES, SUGGESTION

#: A path inside a YAML document: mapping keys and sequence indexes from the root.
DocPath = tuple[str | int, ...]

LANGUAGES = ("zh-CN", "en")

#: Params shown as YAML values, with quotes around text; the others are inserted as they are.
QUOTED_PARAMS = frozenset({"found", "expected", "suggestion"})


@dataclass(frozen=True)
class Text:
    """A message param that reads differently in each language, such as a nested reason."""

    en: str
    zh_cn: str

    def __str__(self) -> str:
        return self.en


def show_value(value: Any) -> str:
    """Render a value found in YAML or expected by a check, as a user would write it."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return ", ".join(show_value(item) for item in value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def format_path(path: DocPath, lang: str = "en") -> str:
    """Format a document path like `fields[2].type`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or ("(document)" if lang == "en" else "（文档）")


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in an application, with its position and the way to fix it.

    `params` fills the message and hint templates of `code` in messages.py;
    its keys "found" and "expected" are the value seen and the value wanted.
    """

    code: str
    file: str
    line: int
    column: int
    path: DocPath = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return "warning" if ".W" in self.code else "error"

    @property
    def found(self) -> Any:
        return self.params.get("found")

    @property
    def expected(self) -> Any:
        return self.params.get("expected")

    def _render(self, template: str, lang: str) -> str:
        values = {key: _show_param(key, value, lang) for key, value in self.params.items()}
        values.setdefault("path", format_path(self.path, lang))
        return template.format(**values)

    def message(self, lang: str = "en") -> str:
        entry = MESSAGES[self.code]
        return self._render(entry.en if lang == "en" else entry.zh_cn, lang)

    def hint(self, lang: str = "en") -> str:
        entry = MESSAGES[self.code]
        hint = self._render(entry.hint_en if lang == "en" else entry.hint_zh_cn, lang)
        if self.params.get("suggestion"):
            hint = self._render(SUGGESTION.en if lang == "en" else SUGGESTION.zh_cn, lang) + hint
        return hint

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def as_text(self, lang: str = "en") -> str:
        """Format as `file:line:col: CODE message`, with the hint on a second, indented line."""
        hint_word = "hint" if lang == "en" else "提示"
        return f"{self.location()}: {self.code} {self.message(lang)}\n    {hint_word}: {self.hint(lang)}"

    def as_json(self, lang: str = "en") -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": format_path(self.path),
            "found": _jsonable(self.found),
            "expected": _jsonable(self.expected),
            "message": self.message(lang),
            "hint": self.hint(lang),
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)


def _show_param(key: str, value: Any, lang: str) -> str:
    if isinstance(value, Text):
        return value.en if lang == "en" else value.zh_cn
    if key in QUOTED_PARAMS:
        return show_value(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Text):
        return value.en
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


class ConfigError(Exception):
    """Raised by `load_app` when an application has errors; `diagnostics` lists every one of them."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        errors = [item for item in self.diagnostics if item.severity == "error"]
        first = errors[0].as_text() if errors else ""
        super().__init__(f"{len(errors)} error(s) in the application; the first: {first}")


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """Choose zh-CN or en from METADESK_LANG, then LC_ALL, LC_MESSAGES and LANG.

    Simplified Chinese is the default: English is chosen only when a setting names it.
    """
    environ = os.environ if environ is None else environ
    for name in ("METADESK_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "en" if value.lower().startswith("en") else "zh-CN"
    return "zh-CN"


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to a misspelt word, if one is close enough."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None
