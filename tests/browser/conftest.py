"""Browser tests: Debian's Chromium driven by Playwright against the app served by uvicorn on 127.0.0.1.

The browser is /usr/bin/chromium from Debian's package (`make browser-deps` installs it with
CJK fonts); Playwright's own browser download is never used. Without that file the tests
skip when the user cannot install packages, and fail as root, where the set-up should have
installed it.

`signed_in_page(user_id)` returns a page signed in as a user that the test made with
`web_app.add_user`; `shoot(page, name)` saves a screenshot under test-output/browser/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import REPOSITORY
from tests.web.conftest import PASSWORD, LiveServer, WebApp, live_server, make_web_app, web_app  # noqa: F401 - fixtures

CHROMIUM = Path("/usr/bin/chromium")
#: Screenshots of each test, in a folder git ignores.
ARTIFACTS = REPOSITORY / "test-output" / "browser"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's Chromium through Playwright (needs /usr/bin/chromium)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.geteuid() == 0:
            pytest.fail(f"{CHROMIUM} is missing; run `make browser-deps` (apt-get install chromium fonts-noto-cjk)")
        pytest.skip(f"{CHROMIUM} is missing and installing it needs root: run `sudo make browser-deps`")
    with sync_playwright() as playwright:
        # Chromium's sandbox refuses to start as root, which is how CI runs.
        arguments = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=arguments)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[[], Page]]:  # noqa: F811 - fixture argument
    """Return a function that opens a page in a fresh browser context (its own cookies) on the live server."""
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="zh-CN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Return a function that saves a full-page screenshot under test-output/browser/<test>/<name>.png."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def save(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Fill and send the sign-in form of the page's current sign-in screen."""
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form.sign-in button[type=submit].primary").click()


@pytest.fixture
def signed_in_page(new_page: Callable[[], Page]) -> Callable[..., Page]:
    """Return a function that opens a page signed in as a user of web_app, in the language given."""

    def open_signed_in(user_id: str, *, password: str = PASSWORD, lang: str | None = None) -> Page:
        page = new_page()
        page.goto("/sign-in")
        if lang is not None:
            page.locator(f".language-links button[value='{lang}']").click()
            expect(page.locator("html")).to_have_attribute("lang", lang)
        sign_in(page, user_id, password)
        expect(page.locator("header.topbar")).to_be_visible()
        return page

    return open_signed_in
