"""Helpers for the form and detail page tests: read a page's form as a browser would submit it, and valid identifiers."""

from __future__ import annotations

import re
import struct
import zlib
from html.parser import HTMLParser
from typing import Any

import stdnum.cn.ric
import stdnum.cn.uscc
import stdnum.luhn
from starlette.testclient import TestClient

from runtime.access import SYSTEM_ACTOR
from vininfo import Vin

#: The form every create and edit page carries.
RECORD_FORM = "record-form"
HTMX = {"HX-Request": "true"}


class _FormReader(HTMLParser):
    """Collects the values one form would submit: checked boxes only, selected options, no file inputs."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.in_template = 0
        self.action: str | None = None
        self.pairs: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._first_option: str | None = None
        self._option_value: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and attributes.get("id") == self.form_id:
            self.inside = True
            self.action = attributes.get("action")
            return
        if not self.inside:
            return
        if tag == "template":
            self.in_template += 1
        if self.in_template or "form" in attributes:
            return
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text")
            if kind == "file" or (kind in ("checkbox", "radio") and "checked" not in attributes):
                return
            self.pairs.append((name, attributes.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_value, self._first_option = name, None, None
        elif tag == "option" and self._select is not None:
            value = attributes.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in attributes:
                self._select_value = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "template":
            self.in_template -= 1
        elif tag == "form" and not self.in_template:
            self.inside = False
        elif tag == "select" and self._select is not None:
            chosen = self._select_value if self._select_value is not None else self._first_option
            self.pairs.append((self._select, chosen or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.pairs.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


class PageForm:
    """The values a page's form submits, to change and post as a user would."""

    def __init__(self, pairs: list[tuple[str, str]], action: str | None) -> None:
        self.pairs = pairs
        self.action = action

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.pairs if key == name), None)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def set(self, name: str, value: str | list[str]) -> None:
        """Replace every value of `name`; a field not yet on the form is added as its control would post it."""
        values = value if isinstance(value, list) else [value]
        position = next((index for index, (key, _) in enumerate(self.pairs) if key == name), len(self.pairs))
        self.pairs = [pair for pair in self.pairs if pair[0] != name]
        self.pairs[position:position] = [(name, item) for item in values]

    def update(self, changes: dict[str, str | list[str]]) -> None:
        for name, value in changes.items():
            self.set(name, value)

    def remove(self, name: str) -> None:
        self.pairs = [pair for pair in self.pairs if pair[0] != name]

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in self.pairs:
            if key in data:
                data[key] = data[key] + [value] if isinstance(data[key], list) else [data[key], value]
            else:
                data[key] = value
        return data


def read_form(html: str, form_id: str = RECORD_FORM) -> PageForm:
    reader = _FormReader(form_id)
    reader.feed(html)
    if reader.action is None:
        raise AssertionError(f"the page has no form {form_id!r}")
    return PageForm(reader.pairs, reader.action)


def submit(
    client: TestClient, page_url: str, changes: dict[str, str | list[str]] | None = None, *,
    files: dict[str, Any] | None = None, remove: tuple[str, ...] = (), headers: dict[str, str] | None = None,
) -> Any:
    """Open a form page, change some values, and submit it the way the browser would."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    form = read_form(page.text)
    for name in remove:
        form.remove(name)
    form.update(changes or {})
    return client.post(str(form.action), data=form.as_dict(), files=files, headers=headers)


def created_id(response: Any) -> int:
    """Return the id of the record a successful form save redirected to."""
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/records/[a-z_]+/(\d+)", response.headers["location"])
    assert found is not None, response.headers["location"]
    return int(found.group(1))


def system_get(web_app: Any, entity: str, record_id: int) -> dict[str, Any]:
    """Return a record as stored, unmasked, through the system's own record service."""
    return dict(web_app.runtime.records.get(SYSTEM_ACTOR, entity, record_id))


def field_html(html: str, dom_id: str) -> str:
    """Return the markup of one field of a page, from its wrapper to the next field."""
    start = html.index(f'id="{dom_id}"')
    following = re.compile(r'<div id="field-|<section id="|</form>')
    found = following.search(html, start + len(dom_id) + 4)
    return html[start: found.start() if found else len(html)]


def error_of(html: str, dom_id: str) -> str:
    found = re.search(rf'<div class="error" id="err-{re.escape(dom_id)}"[^>]*>(.*?)</div>\s*</', html, re.S)
    if found is None:
        raise AssertionError(f"no error container for {dom_id}")
    return re.sub(r"<[^>]+>", " ", found.group(1)).strip()


def resident_id(serial: int) -> str:
    prefix = f"11010519900505{serial:03d}"
    return prefix + stdnum.cn.ric.calc_check_digit(prefix + "0")


def wrong_check_digit(number: str) -> str:
    """Return an identifier with its last character, the check digit, replaced by a wrong one."""
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def uscc(serial: int) -> str:
    first = f"91110000{600037300 + serial:09d}"
    return first + stdnum.cn.uscc.calc_check_digit(first)


def vin(serial: int) -> str:
    base = f"LSVAU2180N218{serial:04d}"
    return next(candidate for candidate in (base[:8] + check + base[9:] for check in "0123456789X")
                if Vin(candidate).verify_checksum(check_year=False))


def bank_card(serial: int) -> str:
    first = f"62220215{serial:010d}"
    return first + stdnum.luhn.calc_check_digit(first)


def png_bytes() -> bytes:
    """A valid one-pixel PNG image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
