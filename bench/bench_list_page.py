"""Serve the list page of loan applications over HTTP and measure its latency and rate beside its raw SQL.

Run with `.venv/bin/python bench/bench_list_page.py --database sqlite|postgresql [--rows N]
[--seconds S] [--concurrency C[,C...]]`. The benchmark:

1. makes a fresh data folder and database (PostgreSQL: `md_bench_<random>` on 127.0.0.1:5432,
   dropped at the end) and migrates configs/guarantee. It creates the banks, products,
   dealers, customers and vehicles the applications point to through the record service,
   then inserts `--rows` loan applications straight into the table (list_page_data.py);
2. creates a user with the admin role at head office (data scope: all) and a password;
3. times the SQL of the page below, of its bounded count and of the exact count, run
   directly on one connection, and prints their query plans;
4. starts `metadesk serve configs/guarantee --workers 2` on a free port of 127.0.0.1 with
   the same METADESK_* environment, and signs in over HTTP for a session cookie;
5. drives GET /records/loan_application?term_months=36 (about a third of the rows, newest
   first, 20 rows, the total counted up to 10,000) with wrk, or an httpx client when wrk
   is missing, first as a whole page and then as the HTMX fragment (HX-Request: true), at
   each number of connections given. It prints the rate, p50 and p99 latency, and the
   server's CPU time per request.

With `--profile N` it also runs N page requests in this process under cProfile and prints
where the time goes and which SQL statements each request sends.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from bench_records import bench_database, percentile, print_machine, query_plan
from list_page_data import ENTITY, FILTER_TERM, add_reader, bulk_load, create_references
from list_page_load import run_load, wrk_version
from list_page_profile import profile_requests
from sqlalchemy import Engine, event, func, select
from starlette.datastructures import MultiDict

from runtime.app import Runtime
from runtime.migrate import migrate
from runtime.settings import Settings
from ui.web.lists_filters import COUNT_LIMIT, read_list

REPOSITORY = Path(__file__).resolve().parent.parent
GUARANTEE = REPOSITORY / "configs" / "guarantee"
USER_ID = "bench_admin"
#: The list address the benchmark requests: one filter, the entity's default sort (newest first).
LIST_PATH = f"/records/{ENTITY}?term_months={FILTER_TERM}"
SESSION_COOKIE = "metadesk_session"
TARGET_PER_SECOND = 100.0
TARGET_P50_MS = 40.0
#: Time limit of the timed runs of one raw SQL statement, in seconds.
SQL_SECONDS = 20.0
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def print_versions() -> None:
    names = ("sqlalchemy", "starlette", "uvicorn", "jinja2", "jinja2-fragments", "psycopg")
    print("packages: " + ", ".join(f"{name} {metadata.version(name)}" for name in names))
    print(f"load generator: {wrk_version() or 'httpx ' + metadata.version('httpx') + ' (wrk is not installed)'}")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The raw SQL of the page ---------------------------------------------------------


def captured_statements(engine: Engine, action: Any) -> list[tuple[str, Any]]:
    """Run `action` and return every statement it sent, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def listener(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def captured_selects(engine: Engine, action: Any) -> list[tuple[str, Any]]:
    """Run `action` and return the SELECT statements it sent that read the listed entity's table."""
    return [(statement, parameters) for statement, parameters in captured_statements(engine, action)
            if statement.lstrip().upper().startswith("SELECT") and f"FROM {ENTITY}" in statement]


def time_statement(engine: Engine, statement: str, parameters: Any, runs: int) -> tuple[float, float, int]:
    """Run a statement up to `runs` times on one connection after 3 untimed runs; return p50 and p99 in ms and the runs.

    A slow statement stops after SQL_SECONDS of timed runs, with at least 5 runs.
    """
    durations: list[float] = []
    with engine.connect() as connection:
        for _ in range(3):
            connection.exec_driver_sql(statement, parameters).all()
        deadline = time.perf_counter() + SQL_SECONDS
        while len(durations) < runs and (len(durations) < 5 or time.perf_counter() < deadline):
            started = time.perf_counter()
            connection.exec_driver_sql(statement, parameters).all()
            durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return percentile(durations, 0.50), percentile(durations, 0.99), len(durations)


def time_raw_sql(runtime: Runtime, runs: int) -> None:
    """Time the page query, the bounded count and the exact count that the list page runs for the benchmark user."""
    records = runtime.records_for_users()
    accounts = runtime.accounts()
    user = accounts.user(USER_ID)
    if user is None:
        raise RuntimeError(f"the benchmark user {USER_ID} does not exist")
    actor = accounts.actor(user)
    entity = runtime.model.entities[ENTITY]
    listed = read_list(records, actor, entity, MultiDict([("term_months", str(FILTER_TERM))]), actor.lang)
    page_selects = captured_selects(runtime.engine, lambda: records.list(actor, ENTITY, listed.query))
    count_selects = captured_selects(runtime.engine, lambda: records.count(actor, ENTITY, listed.query))
    if len(page_selects) != 2 or len(count_selects) != 1:
        raise RuntimeError(f"expected 2 SELECTs for the list and 1 for the count, got {len(page_selects)} and {len(count_selects)}")
    named = [("page query (21 rows, newest first)", page_selects[0]),
             (f"bounded count (stops after {COUNT_LIMIT + 1:,} rows)", page_selects[1]),
             ("exact count", count_selects[0])]
    print(f"\nraw SQL on one connection, up to {runs} runs each after 3 untimed:")
    for title, (statement, parameters) in named:
        p50, p99, done = time_statement(runtime.engine, statement, parameters, runs)
        print(f"  {title}: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({done} runs)")
        print(f"    {' '.join(statement.split())}")
        plan = query_plan(runtime.engine, statement, parameters)
        print(f"    plan: {' / '.join(line.strip() for line in plan)}")


# The server ------------------------------------------------------------------------


def start_server(environment: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    # `python -m ui.cli` is the `metadesk` command; run from the repository, it serves this checkout's code.
    command = [sys.executable, "-m", "ui.cli", "serve", str(GUARANTEE), "--workers", "2", "--port", str(port)]
    print(f"\nstarting: metadesk serve {GUARANTEE.relative_to(REPOSITORY)} --workers 2 --port {port} (log: {log})")
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=environment, cwd=REPOSITORY, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped with exit code {server.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"the server did not respond on 127.0.0.1:{port} within 60 s; see {log}")


def process_tree_cpu(root: int) -> float:
    """Return the CPU seconds (user and system) used so far by a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in brackets may contain spaces, so the fields are counted after its closing bracket.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / ticks
    total, pending = 0.0, [root]
    while pending:
        pid = pending.pop()
        total += times.get(pid, 0.0)
        pending.extend(children.get(pid, []))
    return total


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def sign_in(base: str, password: str) -> str:
    """Sign in as the benchmark user over HTTP and return the session cookie's value."""
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        token = _CSRF.search(client.get("/sign-in").text)
        if token is None:
            raise RuntimeError("the sign-in page carries no CSRF token")
        response = client.post("/sign-in", data={"username": USER_ID, "password": password, "next": "/",
                                                  "csrf_token": token.group(1)})
        if response.status_code != 303 or SESSION_COOKIE not in client.cookies:
            raise RuntimeError(f"signing in failed with status {response.status_code}")
        return str(client.cookies[SESSION_COOKIE])


def check_page(base: str, headers: dict[str, str]) -> str:
    """Request the page once and return a description of it; raise if it is not the expected list."""
    response = httpx.get(base + LIST_PATH, headers=headers, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"GET {LIST_PATH} returned {response.status_code}")
    rows = response.text.count('<input type="checkbox" name="selected"')
    total = re.search(r'<span id="list-total" class="list-total">\s*(.*?)\s*<(?:a|/span)', response.text, re.DOTALL)
    total_text = re.sub(r"<[^>]+>", "", total.group(1)).strip() if total else "?"
    if rows != 20:
        raise RuntimeError(f"GET {LIST_PATH} showed {rows} rows, expected 20")
    return f"{len(response.content):,} bytes, {rows} rows, total shown as {total_text!r}"


def measure(title: str, server: subprocess.Popen[bytes], url: str, headers: dict[str, str], seconds: float,
            concurrency: int) -> None:
    """Run the load generator against `url` and print the rate, the latency and the server's CPU time per request."""
    cpu_before = process_tree_cpu(server.pid)
    result = run_load(url, headers, seconds, concurrency)
    cpu_per_request = (process_tree_cpu(server.pid) - cpu_before) / max(result.requests, 1) * 1000
    met = result.per_second >= TARGET_PER_SECOND and result.p50_ms < TARGET_P50_MS
    print(f"{title}: {result.per_second:.1f} requests/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
          f"server CPU {cpu_per_request:.1f} ms/request ({result.requests:,} requests in {result.seconds:.1f} s by "
          f"{result.tool}, {result.failures} failed; target {TARGET_PER_SECOND:.0f}/s with p50 under "
          f"{TARGET_P50_MS:.0f} ms: {'met' if met else 'missed'})", flush=True)


def measure_http(environment: dict[str, str], folder: Path, password: str, arguments: argparse.Namespace) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(environment, port, folder / "server.log")
    try:
        cookie = {"Cookie": f"{SESSION_COOKIE}={sign_in(base, password)}"}
        fragment = {**cookie, "HX-Request": "true"}
        print(f"whole page: {check_page(base, cookie)}")
        print(f"fragment: {check_page(base, fragment)}")
        # Warm both workers: template compilation, statement caches, connection pools.
        run_load(base + LIST_PATH, cookie, 3, max(arguments.concurrency))
        for concurrency in arguments.concurrency:
            print(f"\nload average before the runs: {load_average()}")
            print(f"GET {LIST_PATH}, {concurrency} connections, {arguments.seconds:.0f} s each:")
            measure("  whole page", server, base + LIST_PATH, cookie, arguments.seconds, concurrency)
            measure("  HTMX fragment", server, base + LIST_PATH, fragment, arguments.seconds, concurrency)
            print(f"load average after the runs: {load_average()}")
    finally:
        stop_server(server)


# Main ----------------------------------------------------------------------------------


def concurrency_list(text: str) -> list[int]:
    """Parse "4" or "4,8" into connection counts."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of connections such as 4, or several such as 4,8, not {text!r}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--rows", type=int, default=1_000_000, help="loan applications to load (default: 1,000,000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each load run in seconds (default: 20)")
    parser.add_argument("--concurrency", type=concurrency_list, default=[4],
                        help="open connections of the load generator, or several separated by commas for one run "
                             "each (default: 4, so that at 100 requests/s each request waits for about 4 others)")
    parser.add_argument("--sql-runs", type=int, default=200, help="timed runs of each raw SQL statement (default: 200)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N page requests in this process with cProfile (default: 0, no profile)")
    arguments = parser.parse_args()
    if arguments.rows < 1 or arguments.seconds < 1 or min(arguments.concurrency) < 1 or arguments.sql_runs < 1:
        parser.error("--rows, --seconds, --concurrency and --sql-runs must be at least 1")

    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    with tempfile.TemporaryDirectory(prefix="md_bench_") as temporary, \
            bench_database(arguments.database, Path(temporary)) as url:
        folder = Path(temporary)
        run(folder, url, arguments)


def run(folder: Path, url: str, arguments: argparse.Namespace) -> None:
    settings = Settings(data_dir=folder / "data", database_url=url, redis_url=None, secret_key=secrets.token_urlsafe(32))
    environment = {**os.environ, "METADESK_DATA_DIR": str(settings.data_dir), "METADESK_DATABASE_URL": url,
                   "METADESK_SECRET_KEY": str(settings.secret_key)}
    password = "Bench#" + secrets.token_hex(8)
    runtime = Runtime.open(GUARANTEE, settings)
    try:
        print_machine(runtime.engine)
        print_versions()
        print(f"platform: {platform.platform()}")
        migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
        references = create_references(runtime)
        print(f"created through the runtime: {len(references.dealers)} dealers, {len(references.customers)} customers, "
              f"{len(references.vehicles)} vehicles, {len(references.products)} products with one sample application each")
        print(f"\nloading {arguments.rows:,} loan applications (setup, not measured)")
        load_seconds = bulk_load(runtime, references, arguments.rows)
        table = runtime.schema.entities[ENTITY].table
        with runtime.engine.connect() as connection:
            total = connection.scalar(select(func.count()).select_from(table))
            matching = connection.scalar(select(func.count()).select_from(table).where(table.c.term_months == FILTER_TERM))
        print(f"loaded in {load_seconds:.0f} s with ANALYZE: {total:,} applications, {matching:,} with term_months = {FILTER_TERM}")
        add_reader(runtime, USER_ID, password, "admin", "head_office")
        time_raw_sql(runtime, arguments.sql_runs)
    finally:
        runtime.close()

    measure_http(environment, folder, password, arguments)
    if arguments.profile:
        profile_requests(GUARANTEE, settings, USER_ID, password, LIST_PATH, arguments.profile)


if __name__ == "__main__":
    main()
