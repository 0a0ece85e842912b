"""Fixtures for web tests: a migrated application served in-process or on a real port of 127.0.0.1.

`web_app` opens an application folder on the test's database (SQLite, or PostgreSQL when
METADESK_DATABASE_URL is set) and returns a `WebApp` that makes users and signed-in
clients. `live_server` runs the same application under uvicorn on 127.0.0.1 for the
browser tests.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import uvicorn
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.testclient import TestClient

from metamodel import load_app
from metamodel.model import AppModel
from runtime import accounts
from runtime import app as runtime_app
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.app import Runtime
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.settings import Settings
from tests.conftest import REPOSITORY
from ui.web.app import build_app, open_state
from ui.web.state import WebState

GUARANTEE = REPOSITORY / "configs" / "guarantee"
PASSWORD = "Test#2026pass"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture(autouse=True)
def fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash test passwords with argon2's cheapest settings: the default ones take a third of a second each."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


_MODELS: dict[tuple[str, tuple[tuple[str, int, int], ...]], AppModel] = {}


def _cached_load_app(directory: str | Path) -> AppModel:
    """Load an application once per content of its folder; models are immutable, so tests may share one."""
    root = Path(directory).resolve()
    files = tuple(sorted((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in root.rglob("*") if path.is_file()))
    key = (str(root), files)
    if key not in _MODELS:
        _MODELS[key] = load_app(root)
    return _MODELS[key]


@pytest.fixture(autouse=True)
def shared_app_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reuse loaded applications across web tests: loading the guarantee app takes most of a second."""
    monkeypatch.setattr(runtime_app, "load_app", _cached_load_app)


def csrf_of(html: str) -> str:
    """Return the CSRF token a page carries."""
    found = _CSRF.search(html)
    if found is None:
        raise AssertionError("the page carries no CSRF token")
    return found.group(1)


@dataclass
class WebApp:
    directory: Path
    settings: Settings
    state: WebState
    app: Starlette
    clients: list[TestClient] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        return self.state.runtime

    def add_user(self, user_id: str, roles: tuple[str, ...], unit: str, *, name: str | None = None,
                 password: str = PASSWORD) -> Actor:
        """Create a user with roles in one unit and a password; return its actor."""
        admin = PermissionAdmin(self.state.permissions)
        admin.add_user(SYSTEM_ACTOR, user_id, user_id, name or user_id, unit)
        for role in roles:
            admin.assign(SYSTEM_ACTOR, user_id, role, unit)
        self.state.accounts.set_password(SYSTEM_ACTOR, user_id, password)
        user = self.state.accounts.user(user_id)
        assert user is not None
        return self.state.accounts.actor(user)

    def client(self, user_id: str | None = None, *, password: str = PASSWORD, lang: str | None = None) -> TestClient:
        """Return a client of the app, signed in as `user_id` when given."""
        client = TestClient(self.app, base_url="http://127.0.0.1", follow_redirects=False)
        client.__enter__()
        self.clients.append(client)
        if lang:
            page = client.get("/sign-in")
            client.post("/language", data={"lang": lang, "csrf_token": csrf_of(page.text), "next": "/sign-in"})
        if user_id is not None:
            page = client.get("/sign-in")
            response = client.post("/sign-in", data={"username": user_id, "password": password, "next": "/",
                                                      "csrf_token": csrf_of(page.text)})
            assert response.status_code == 303, response.text
        return client

    def csrf(self, client: TestClient) -> str:
        return csrf_of(client.get("/").text)

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)
        self.state.runtime.close()


@pytest.fixture
def make_web_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., WebApp]]:
    opened: list[WebApp] = []

    def make(directory: Path = GUARANTEE) -> WebApp:
        settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None, secret_key="test-secret")
        runtime = Runtime.open(directory, settings)
        migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
        runtime.close()
        state = open_state(directory, settings)
        web_app = WebApp(directory, settings, state, build_app(directory, settings, state=state))
        opened.append(web_app)
        return web_app

    yield make
    for web_app in opened:
        web_app.close()


@pytest.fixture
def web_app(make_web_app: Callable[..., WebApp]) -> WebApp:
    """The guarantee application, migrated and ready; no users yet."""
    return make_web_app()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    server: Any
    thread: threading.Thread


@contextmanager
def serving(app: Starlette) -> Iterator[LiveServer]:
    """Serve `app` under uvicorn on a free port of 127.0.0.1 for the block, then stop it."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start on 127.0.0.1")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(web_app: WebApp) -> Iterator[LiveServer]:
    """The guarantee application under uvicorn on a free port of 127.0.0.1."""
    with serving(web_app.app) as server:
        yield server
