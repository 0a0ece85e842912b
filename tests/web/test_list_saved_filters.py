"""Saving a list's filters under a name: a rejected name is explained beside the name box, with what was typed kept.

A name the user already has is not saved over silently: the form asks first and offers a
"替换" (Replace it) button. Replacing then tells that the earlier filter was replaced.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from runtime import saved_filters
from tests.web.conftest import WebApp
from tests.web.test_lists import HTMX, LOANS, Seeded, seed

SAVE = f"{LOANS}/saved-filters"


@pytest.fixture
def seeded(web_app: WebApp) -> Seeded:
    return seed(web_app)


def name_box(text: str) -> str:
    """Return the saved-filter form: the name box, its buttons and what is shown beside them."""
    found = re.search(r'<form class="list-save".*?</form>', text, re.S)
    assert found is not None, "the page has no saved-filter form"
    return html.unescape(found.group(0))


def error_beside_box(text: str) -> str | None:
    found = re.search(r'<span id="list-save-error" class="error" role="alert">(.*?)</span>', name_box(text), re.S)
    return found.group(1) if found else None


def typed_name(text: str) -> str:
    found = re.search(r'<input type="text" name="name" value="([^"]*)"', name_box(text))
    assert found is not None
    return found.group(1)


def saved_links(text: str) -> list[str]:
    return re.findall(r'<a href="/records/loan_application\?([^"]*)">([^<]*)</a>\s*<form', text)


def htmx_client(seeded: Seeded, lang: str | None = None) -> tuple[Any, dict[str, str]]:
    client = seeded.client("admin", lang=lang)
    return client, {**HTMX, "X-CSRF-Token": seeded.web_app.csrf(client)}


@pytest.mark.parametrize(("name", "chinese"), [
    ("", "请输入筛选条件的名称。"),
    ("   ", "请输入筛选条件的名称。"),
    ("长" * 101, "名称有 101 个字符，最多 100 个。"),
])
def test_bad_name_explained_beside_box(seeded: Seeded, name: str, chinese: str) -> None:
    client, headers = htmx_client(seeded)
    response = client.post(SAVE, data={"name": name, "query": "state=draft"}, headers=headers)

    assert response.status_code == 200
    assert error_beside_box(response.text) == chinese
    assert typed_name(response.text) == html.escape(name)
    assert 'aria-invalid="true" aria-describedby="list-save-error"' in name_box(response.text)
    assert saved_links(response.text) == []


def test_name_box_lets_the_server_explain(seeded: Seeded) -> None:
    """A required or maxlength name box makes the browser drop an HTMX request without a word, or cut the name."""
    box = name_box(seeded.client("admin").get(LOANS).text)
    name_input = re.search(r'<input type="text" name="name"[^>]*>', box)

    assert name_input is not None
    assert "required" not in name_input.group(0)
    assert "maxlength" not in name_input.group(0)


def test_bad_name_in_english(seeded: Seeded) -> None:
    client, headers = htmx_client(seeded, lang="en")
    response = client.post(SAVE, data={"name": "", "query": "state=draft"}, headers=headers)

    assert error_beside_box(response.text) == "Enter a name for the filter."


def test_duplicate_name_asks_before_replacing(seeded: Seeded) -> None:
    client, headers = htmx_client(seeded)
    first = client.post(SAVE, data={"name": "草稿", "query": "state=draft"}, headers=headers)
    again = client.post(SAVE, data={"name": " 草稿 ", "query": "state=submitted"}, headers=headers)

    assert "已保存筛选条件“草稿”。" in name_box(first.text)
    assert error_beside_box(again.text) == "您已有名为“草稿”的筛选条件；要用当前的筛选条件替换它，还是换一个名称？"
    assert typed_name(again.text) == " 草稿 "
    assert '<button type="submit" name="replace" value="1" class="list-save-replace">替换</button>' in name_box(again.text)
    # Nothing changed yet: the earlier filter keeps its query.
    assert saved_links(again.text) == [("state=draft", "草稿")]

    replaced = client.post(SAVE, data={"name": " 草稿 ", "query": "state=submitted", "replace": "1"}, headers=headers)

    assert error_beside_box(replaced.text) is None
    assert "已用当前的筛选条件替换筛选条件“草稿”。" in name_box(replaced.text)
    assert saved_links(replaced.text) == [("state=submitted", "草稿")]
    assert typed_name(replaced.text) == ""


def test_duplicate_name_in_english(seeded: Seeded) -> None:
    client, headers = htmx_client(seeded, lang="en")
    client.post(SAVE, data={"name": "Big", "query": "loan_amount.min=120000"}, headers=headers)
    again = client.post(SAVE, data={"name": "Big", "query": "loan_amount.min=125000"}, headers=headers)
    replaced = client.post(SAVE, data={"name": "Big", "query": "loan_amount.min=125000", "replace": "1"}, headers=headers)

    assert error_beside_box(again.text) == ("You already have a saved filter named Big; replace it with the current filters, "
                                            "or choose another name.")
    assert ">Replace it</button>" in name_box(again.text)
    assert "Replaced the saved filter Big with the current filters." in name_box(replaced.text)


def test_too_many_filters_explained(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saved_filters, "MAX_PER_ENTITY", 1)
    client, headers = htmx_client(seeded)
    client.post(SAVE, data={"name": "一", "query": "state=draft"}, headers=headers)
    rejected = client.post(SAVE, data={"name": "二", "query": "state=submitted"}, headers=headers)

    assert error_beside_box(rejected.text) == "此处已保存 1 个筛选条件；请先删除一个再保存。"
    assert typed_name(rejected.text) == "二"


def test_plain_form_error_after_redirect(seeded: Seeded) -> None:
    web_app = seeded.web_app
    client = seeded.client("admin")
    token = web_app.csrf(client)
    saved = client.post(SAVE, data={"name": "草稿", "query": "state=draft", "csrf_token": token})
    assert "已保存筛选条件“草稿”。" in client.get(saved.headers["location"]).text

    rejected = client.post(SAVE, data={"name": "草稿", "query": "state=submitted&after=xyz", "csrf_token": token})

    assert rejected.status_code == 303
    assert rejected.headers["location"] == f"{LOANS}?state=submitted"
    shown = client.get(rejected.headers["location"])
    assert error_beside_box(shown.text) == "您已有名为“草稿”的筛选条件；要用当前的筛选条件替换它，还是换一个名称？"
    assert typed_name(shown.text) == "草稿"
    assert 'name="replace" value="1"' in name_box(shown.text)
    assert 'class="list-notice' not in shown.text
    # Shown once: a reload has an empty box again.
    assert error_beside_box(client.get(rejected.headers["location"]).text) is None

    replaced = client.post(SAVE, data={"name": "草稿", "query": "state=submitted", "replace": "1", "csrf_token": token})
    assert "已用当前的筛选条件替换筛选条件“草稿”。" in client.get(replaced.headers["location"]).text
