"""Profile list-page requests in one process and one thread, with the SQL statements each sends.

The application runs under httpx's ASGI transport in the main thread. Starlette normally
hands plain (non-async) handlers to a thread pool, which cProfile would not see, so the
route wrapper's `run_in_threadpool` is replaced by a direct call before the app is built.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import httpx
import starlette.routing
from sqlalchemy import event

from runtime.settings import Settings
from ui.web.app import build_app, open_state

REPOSITORY = Path(__file__).resolve().parent.parent
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


async def _call_inline(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def _area(filename: str, function: str) -> str:
    """Return the part of the stack a profiled function belongs to."""
    if filename == "~":
        return "database driver (C)" if "sqlite3" in function or "psycopg" in function else "Python built-ins"
    for package in ("runtime", "ui", "metamodel"):
        if filename.startswith(str(REPOSITORY / package)):
            return f"metadesk {package}"
    for library in ("sqlalchemy", "jinja2", "starlette", "casbin", "psycopg", "babel", "httpx", "anyio"):
        if f"{os.sep}{library}" in filename:
            return library
    if filename.startswith("<template>") or filename.endswith(".html"):
        return "jinja2 compiled templates"
    return "standard library and other"


def profile_requests(directory: Path, settings: Settings, user_id: str, password: str, path: str, requests: int,
                     headers: dict[str, str] | None = None, dump: Path | None = None) -> None:
    """Sign in, time `requests` GETs of `path`, run as many again under cProfile, and print where the time went and what SQL ran."""
    setattr(starlette.routing, "run_in_threadpool", _call_inline)
    state = open_state(directory, settings)
    app = build_app(directory, settings, state=state)
    app.state.web = state
    statements: Counter[str] = Counter()

    def seen(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements[" ".join(statement.split())[:150]] += 1

    event.listen(state.runtime.engine, "before_cursor_execute", seen)

    async def run() -> cProfile.Profile:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            page = await client.get("/sign-in")
            token = _CSRF.search(page.text)
            if token is None:
                raise RuntimeError("the sign-in page carries no CSRF token")
            signed_in = await client.post("/sign-in", data={"username": user_id, "password": password, "next": "/",
                                                             "csrf_token": token.group(1)})
            if signed_in.status_code != 303:
                raise RuntimeError(f"signing in as {user_id} failed with status {signed_in.status_code}")
            for _ in range(5):  # warm-up: template compilation, statement caches, permission memo
                (await client.get(path, headers=headers)).raise_for_status()
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(requests):
                (await client.get(path, headers=headers)).raise_for_status()
            wall = (time.perf_counter() - started) / requests * 1000
            cpu = (time.process_time() - cpu_started) / requests * 1000
            print(f"\n{requests} requests of {path} in one thread without a profiler: {wall:.1f} ms each, "
                  f"{cpu:.1f} ms of CPU time each")
            statements.clear()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                response = await client.get(path, headers=headers)
                response.raise_for_status()
            profiler.disable()
            return profiler

    try:
        profiler = asyncio.run(run())
    finally:
        event.remove(state.runtime.engine, "before_cursor_execute", seen)
        state.runtime.close()
    _print_profile(profiler, requests, statements)
    if dump is not None:
        profiler.dump_stats(dump)


def _print_profile(profiler: cProfile.Profile, requests: int, statements: Counter[str]) -> None:
    stats = pstats.Stats(profiler)
    # pstats keeps one entry per function: (file, line, name) -> (primitive calls, calls, own time, cumulative time, callers)
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in entries.values())
    print(f"\nprofile of {requests} requests in one thread (cProfile adds overhead to every Python call): "
          f"{total / requests * 1000:.1f} ms each")

    by_area: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in entries.items():
        area = _area(filename, function)
        by_area[area] = by_area.get(area, 0.0) + own
    print("own time by area:")
    for area, own in sorted(by_area.items(), key=lambda item: -item[1]):
        print(f"  {own / total * 100:5.1f}%  {own / requests * 1000:6.2f} ms/request  {area}")

    def label(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        if filename == "~":
            return function
        return f"{Path(filename).parent.name}/{Path(filename).name}:{line} {function}"

    ours = [(key, value) for key, value in entries.items()
            if key[0].startswith(tuple(str(REPOSITORY / package) for package in ("runtime", "ui")))]
    print("metadesk functions by cumulative time:")
    for key, (_, calls, _, cumulative, _) in sorted(ours, key=lambda item: -item[1][3])[:25]:
        print(f"  {cumulative / total * 100:5.1f}%  {cumulative / requests * 1000:6.2f} ms/request  "
              f"{calls / requests:6.1f} calls/request  {label(key)}")
    print("functions by own time:")
    for key, (_, calls, own, _, _) in sorted(entries.items(), key=lambda item: -item[1][2])[:20]:
        print(f"  {own / total * 100:5.1f}%  {own / requests * 1000:6.2f} ms/request  {calls / requests:7.1f} calls/request  {label(key)}")

    print(f"SQL statements per request: {sum(statements.values()) / requests:.1f}")
    for statement, count in statements.most_common():
        print(f"  {count / requests:4.1f}  {statement}")

