"""Time the record service: creates with their audit entries, and one list page over a million rows.

Run with `.venv/bin/python bench/bench_records.py --database sqlite|postgresql [--rows N]`.
The benchmark writes a small application (customers and order lines) to a temporary
folder, migrates it into a fresh database and then measures:

1. creates per second through `RecordService.create`, each in its own transaction with
   its audit entry, for 3 seconds or 5,000 records by default, with a cProfile summary
   when the rate is under the target;
2. the first page of a list filtered on `status` in the entity's default sort (newest
   first) after loading `--rows` order lines straight into the table, with the query
   plan of the SQL the list runs;
3. the same list after adding, to the benchmark database only, an index that matches the
   list's ORDER BY (skip with `--no-try-index`).

SQLite uses a file in the temporary folder. PostgreSQL uses a database named
`md_bench_<random>` that is created through the `postgres` database on 127.0.0.1:5432
and dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import math
import os
import platform
import pstats
import random
import sqlite3
import tempfile
import textwrap
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Engine, create_engine, event, func, insert, select
from sqlalchemy.engine import make_url

from metamodel import load_app
from metamodel.model import AppModel
from runtime.access import Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.database import make_engine
from runtime.migrate import migrate
from runtime.record_query import Condition, ListQuery
from runtime.records import RecordService
from runtime.schema import Schema, build_schema

REPOSITORY = Path(__file__).resolve().parent.parent

#: Server and maintenance database used to create and drop the benchmark's own database.
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

CREATE_TARGET_PER_SECOND = 2_000
#: Records per create_many call in the batch measurement, as an import of a spreadsheet would send them.
BATCH_SIZE = 500
LIST_TARGET_P50_MS = 20.0

STATUSES = ("open", "shipped", "closed")
ORG_UNITS = ("head_office", "north", "south", "east", "west")
CUSTOMERS = 50

BENCH_APP: dict[str, str] = {
    "app.yaml": """
        name: bench_orders
        label: {zh-CN: 订单基准, en: Order benchmark}
    """,
    "entities/customer.yaml": """
        name: customer
        label: {zh-CN: 客户, en: Customer}
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, length: {max: 100}}
    """,
    "entities/order_line.yaml": """
        name: order_line
        label: {zh-CN: 订单行, en: Order line}
        fields:
          - {name: item, type: string, label: {zh-CN: 品名, en: Item}, required: true, length: {max: 100}}
          - {name: amount, type: money, label: {zh-CN: 金额, en: Amount}, required: true, min: 0}
          - {name: status, type: enum, label: {zh-CN: 状态, en: Status}, default: open,
             choices: [{value: open, label: {zh-CN: 待处理, en: Open}},
                       {value: shipped, label: {zh-CN: 已发货, en: Shipped}},
                       {value: closed, label: {zh-CN: 已关闭, en: Closed}}]}
          - {name: due_on, type: date, label: {zh-CN: 到期日, en: Due on}}
          - {name: customer, type: reference, entity: customer, label: {zh-CN: 客户, en: Customer}, required: true}
        list:
          columns: [item, amount, status, due_on]
          filters: [status]
          sort: [-created_at]
    """,
}

ACTOR = Actor(id="bench", name="基准", roles=("clerk",), org_unit="head_office", address="127.0.0.1")

#: The list request the benchmark times: one filter, the entity's default sort, one page.
LIST_QUERY = ListQuery(where=Condition("status", "eq", "open"), limit=20)


# Machine and database facts --------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown memory"


def print_machine(engine: Engine) -> None:
    print(f"machine: {platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, {memory_gib()}")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), SQLite library {sqlite3.sqlite_version}")
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            version = connection.exec_driver_sql("SHOW server_version").scalar()
        print(f"PostgreSQL server {version}")


# Setup -----------------------------------------------------------------------


def write_app(root: Path) -> Path:
    for name, content in BENCH_APP.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


@contextlib.contextmanager
def bench_database(kind: str, folder: Path) -> Iterator[str]:
    """Yield the URL of an empty database; a PostgreSQL one is dropped on exit."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"md_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        print(f"created database {name}")
        try:
            yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"dropped database {name}")
    finally:
        admin.dispose()


class StatementCounter:
    """Counts the statements an engine sends and keeps the last SELECT with its parameters."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.selects = 0
        self.last_select: tuple[str, Any] | None = None
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool) -> None:
        self.count += 1
        if statement.lstrip().upper().startswith("SELECT"):
            self.selects += 1
            self.last_select = (statement, parameters)


# 1. Creates --------------------------------------------------------------------


def create_values(number: int, customer_ids: list[int]) -> dict[str, Any]:
    """Return the input of one order line, as a form would send it."""
    return {
        "item": f"item {number}",
        "amount": f"{(number % 9_000) + 10}.50",
        "status": STATUSES[number % len(STATUSES)],
        "due_on": "2026-12-31",
        "customer": customer_ids[number % len(customer_ids)],
    }


def time_concurrent_creates(records: RecordService, customer_ids: list[int], seconds: float, clients: int) -> tuple[int, float]:
    """Create order lines one per transaction from `clients` threads at once for `seconds`; return count and seconds."""
    counts = [0] * clients
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def client(index: int) -> None:
        start.wait()
        number = index * 10_000_000
        while time.perf_counter() < deadline:
            records.create(ACTOR, "order_line", create_values(number, customer_ids))
            number += 1
            counts[index] += 1

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline = started + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return sum(counts), time.perf_counter() - started


def time_batch_creates(records: RecordService, customer_ids: list[int], seconds: float, batch: int) -> tuple[int, float]:
    """Create order lines with create_many, `batch` per transaction, for `seconds`; return count and seconds."""
    records.create_many(ACTOR, "order_line", [create_values(number, customer_ids) for number in range(batch)])  # warm-up
    created = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        records.create_many(ACTOR, "order_line", [create_values(created + number, customer_ids) for number in range(batch)])
        created += batch
    return created, time.perf_counter() - started


def time_creates(records: RecordService, customer_ids: list[int], counter: StatementCounter, seconds: float,
                 max_records: int) -> tuple[int, float, float]:
    """Create order lines until `seconds` pass or `max_records` exist; return count, seconds and statements per create."""
    for number in range(50):  # warm-up: pool connections, compiled statement caches
        records.create(ACTOR, "order_line", create_values(number, customer_ids))
    statements_before = counter.count
    created = 0
    started = time.perf_counter()
    deadline = started + seconds
    while created < max_records and time.perf_counter() < deadline:
        records.create(ACTOR, "order_line", create_values(created, customer_ids))
        created += 1
    elapsed = time.perf_counter() - started
    return created, elapsed, (counter.count - statements_before) / max(created, 1)


def code_area(filename: str, function: str) -> str:
    """Return the part of the stack a profiled function belongs to."""
    if filename == "~":
        return "database driver (C)" if "sqlite3" in function or "psycopg" in function else "Python built-ins"
    if filename.startswith(str(REPOSITORY / "runtime")):
        return "metadesk runtime"
    if filename.startswith(str(REPOSITORY / "metamodel")):
        return "metadesk metamodel"
    if f"{os.sep}sqlalchemy{os.sep}" in filename:
        return "SQLAlchemy"
    if f"{os.sep}psycopg" in filename:
        return "psycopg, including waiting for the server"
    return "standard library and other"


def profile_creates(records: RecordService, customer_ids: list[int], count: int) -> None:
    """Print where the time of `count` creates goes: by library, by runtime step and by function."""
    profiler = cProfile.Profile()
    profiler.enable()
    for number in range(count):
        records.create(ACTOR, "order_line", create_values(number, customer_ids))
    profiler.disable()
    stats = pstats.Stats(profiler)
    # pstats keeps one entry per function: (file, line, name) -> (primitive calls, calls, own time, cumulative time, callers)
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in entries.values())
    print(f"\nprofile of {count} creates (cProfile adds overhead to every Python call): {total / count * 1000:.2f} ms each")

    by_area: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in entries.items():
        area = code_area(filename, function)
        by_area[area] = by_area.get(area, 0.0) + own
    print("own time by area:")
    for area, own in sorted(by_area.items(), key=lambda item: -item[1]):
        print(f"  {own / total * 100:5.1f}%  {own / count * 1000:6.3f} ms/create  {area}")

    def label(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        return function if filename == "~" else f"{Path(filename).name}:{line} {function}"

    steps = [(key, value) for key, value in entries.items() if key[0].startswith(str(REPOSITORY / "runtime"))]
    print("runtime functions by cumulative time:")
    for key, (_, calls, _, cumulative, _) in sorted(steps, key=lambda item: -item[1][3])[:12]:
        print(f"  {cumulative / total * 100:5.1f}%  {cumulative / count * 1000:6.3f} ms/create  {calls / count:4.1f} calls/create  {label(key)}")
    print("functions by own time:")
    for key, (_, calls, own, _, _) in sorted(entries.items(), key=lambda item: -item[1][2])[:15]:
        print(f"  {own / total * 100:5.1f}%  {own / count * 1000:6.3f} ms/create  {calls / count:5.1f} calls/create  {label(key)}")


# 2. A list page over many rows ---------------------------------------------------


def bulk_load(engine: Engine, schema: Schema, rows: int, customer_ids: list[int], batch: int = 10_000) -> float:
    """Insert `rows` order lines with executemany in batches of `batch`; return the seconds taken.

    This is test data, not a measured path: created_at is spread over the year before now.
    """
    table = schema.entities["order_line"].table
    generator = random.Random(2026)
    now = datetime.datetime.now(datetime.timezone.utc)
    year_seconds = 365 * 24 * 3600
    started = time.perf_counter()
    loaded = 0
    while loaded < rows:
        size = min(batch, rows - loaded)
        chunk = []
        for number in range(loaded, loaded + size):
            created = now - datetime.timedelta(seconds=generator.uniform(0, year_seconds))
            chunk.append({
                "created_at": created,
                "created_by": "loader",
                "updated_at": created,
                "updated_by": "loader",
                "org_unit": generator.choice(ORG_UNITS),
                "version": 1,
                "deleted_at": None,
                "item": f"loaded item {number}",
                "amount": Decimal(generator.randrange(100, 1_000_000)) / 100,
                "status": generator.choice(STATUSES),
                "due_on": (created + datetime.timedelta(days=30)).date(),
                "customer": generator.choice(customer_ids),
            })
        with engine.begin() as connection:
            connection.execute(insert(table), chunk)
        loaded += size
        if loaded % 200_000 == 0 or loaded == rows:
            print(f"  loaded {loaded:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    # Run ANALYZE in a committed transaction: on SQLite, make_engine issues BEGIN on every
    # connection use, even one set to AUTOCOMMIT, so an ANALYZE left uncommitted is rolled back.
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def time_list(records: RecordService, calls: int, warm_up: int = 20) -> tuple[float, float, float, int]:
    """Time `calls` list requests after `warm_up` untimed ones; return p50, p99 and max in ms, and the page size."""
    page_size = 0
    for _ in range(warm_up):
        page_size = len(records.list(ACTOR, "order_line", LIST_QUERY).rows)
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        records.list(ACTOR, "order_line", LIST_QUERY)
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return percentile(durations, 0.50), percentile(durations, 0.99), durations[-1], page_size


def list_statement(records: RecordService, counter: StatementCounter) -> tuple[str, Any]:
    """Run the list once and return the SQL and parameters it sent."""
    before = counter.selects
    records.list(ACTOR, "order_line", LIST_QUERY)
    if counter.selects != before + 1 or counter.last_select is None:
        raise RuntimeError(f"the list sent {counter.selects - before} SELECT statements; expected one")
    return counter.last_select


def query_plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """Return the plan lines of a statement: EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    if engine.dialect.name == "sqlite":
        return [str(row[-1]) for row in rows]
    return [str(row[0]) for row in rows]


def describe_plan(dialect: str, plan: list[str]) -> str:
    """Summarize whether the plan reads through an index and whether it sorts the matching rows."""
    joined = "\n".join(plan)
    if dialect == "sqlite":
        index = next((line for line in plan if "INDEX" in line), None)
        sorts = "USE TEMP B-TREE FOR ORDER BY" in joined
    else:
        index = next((line.strip(" ->") for line in plan if "Index" in line and "Scan" in line), None)
        sorts = "Sort" in joined
    reads = f"reads through an index ({index})" if index else "reads no index (full table scan)"
    order = "then sorts every matching row for the page" if sorts else "returns rows in index order without sorting"
    return f"{reads}; {order}"


def print_plan(engine: Engine, statement: str, parameters: Any, title: str) -> list[str]:
    plan = query_plan(engine, statement, parameters)
    print(f"\n{title}:")
    for line in plan:
        print(f"  {line}")
    print(f"  -> {describe_plan(engine.dialect.name, plan)}")
    return plan


#: An index matching the list's filter, its live-record predicate and its ORDER BY exactly. The list
#: orders by `created_at IS NULL, created_at DESC, id IS NULL, id DESC` (empty values last on both
#: databases), so only an index on those same expressions returns the rows already in order.
CANDIDATE_INDEX_SQL = (
    "CREATE INDEX ix_bench_order_line_status_newest ON order_line "
    "(status, (created_at IS NULL), created_at DESC, (id IS NULL), id DESC) WHERE deleted_at IS NULL"
)


# Main ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--rows", type=int, default=1_000_000, help="order lines to load for the list (default: 1,000,000)")
    parser.add_argument("--create-seconds", type=float, default=3.0, help="time limit of the create run (default: 3)")
    parser.add_argument("--create-max", type=int, default=5_000, help="record limit of the create run (default: 5,000)")
    parser.add_argument("--calls", type=int, default=200, help="timed list requests (default: 200)")
    parser.add_argument("--profile", action="store_true", help="profile creates even when they meet the target")
    parser.add_argument("--clients", type=int, default=4, help="threads creating at once in the concurrent measurement (default: 4)")
    parser.add_argument("--try-index", action=argparse.BooleanOptionalAction, default=True,
                        help="afterwards, add an index matching the list's ORDER BY to the benchmark database "
                             "and time the list again (default: on)")
    arguments = parser.parse_args()
    if arguments.rows < 1 or arguments.calls < 1 or arguments.create_max < 1:
        parser.error("--rows, --calls and --create-max must be at least 1")

    with tempfile.TemporaryDirectory(prefix="md_bench_") as folder, bench_database(arguments.database, Path(folder)) as url:
        engine = make_engine(url)
        try:
            run(engine, Path(folder), arguments)
        finally:
            engine.dispose()


def run(engine: Engine, folder: Path, arguments: argparse.Namespace) -> None:
    print_machine(engine)
    model: AppModel = load_app(write_app(folder / "app"))
    schema = build_schema(model)
    migrate(engine, schema, model, backup_root=folder / "backups")
    records = RecordService(model, schema, engine, access=SystemAccess(), keys=KeyRing.generate())
    counter = StatementCounter(engine)
    customer_ids = [int(records.create(ACTOR, "customer", {"name": f"客户 {number}"})["id"]) for number in range(CUSTOMERS)]

    created, elapsed, statements = time_creates(records, customer_ids, counter, arguments.create_seconds, arguments.create_max)
    rate = created / elapsed
    print(f"\ncreates with audit: {created:,} in {elapsed:.2f} s = {rate:,.0f} creates/s, "
          f"{elapsed / created * 1000:.3f} ms each, {statements:.1f} statements each (target: {CREATE_TARGET_PER_SECOND:,}/s)")
    if arguments.profile:
        profile_creates(records, customer_ids, min(created, 2_000))

    if arguments.clients > 1:
        together, together_elapsed = time_concurrent_creates(records, customer_ids, arguments.create_seconds, arguments.clients)
        print(f"creates with audit from {arguments.clients} concurrent clients, one per transaction: {together:,} in "
              f"{together_elapsed:.2f} s = {together / together_elapsed:,.0f} creates/s (target: {CREATE_TARGET_PER_SECOND:,}/s)")

    batch_created, batch_elapsed = time_batch_creates(records, customer_ids, arguments.create_seconds, BATCH_SIZE)
    print(f"creates with audit in batches of {BATCH_SIZE} (create_many, one transaction each): {batch_created:,} in "
          f"{batch_elapsed:.2f} s = {batch_created / batch_elapsed:,.0f} creates/s (target: {CREATE_TARGET_PER_SECOND:,}/s)")

    print(f"\nloading {arguments.rows:,} order lines (setup, not measured)")
    load_seconds = bulk_load(engine, schema, arguments.rows, customer_ids)
    table = schema.entities["order_line"].table
    with engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(table))
        matching = connection.scalar(select(func.count()).select_from(table).where(table.c.status == "open"))
    print(f"loaded in {load_seconds:.1f} s with ANALYZE; order_line has {total:,} rows, {matching:,} of them open")

    statement, parameters = list_statement(records, counter)
    print("\nlist SQL:")
    print(textwrap.indent(statement.strip(), "  "))
    print(f"  parameters: {parameters!r}")
    print_plan(engine, statement, parameters, "query plan")
    p50, p99, worst, page_size = time_list(records, arguments.calls)
    print(f"\nlist page ({page_size} rows, status = open, newest first) over {total:,} rows, {arguments.calls} calls: "
          f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms (target: p50 under {LIST_TARGET_P50_MS:.0f} ms)")

    if arguments.try_index:
        print(f"\ntrying an extra index in the benchmark database only:\n  {CANDIDATE_INDEX_SQL}")
        with engine.begin() as connection:
            connection.exec_driver_sql(CANDIDATE_INDEX_SQL)
            connection.exec_driver_sql("ANALYZE")
        print_plan(engine, statement, parameters, "query plan with the extra index")
        p50, p99, worst, page_size = time_list(records, arguments.calls)
        print(f"list page with the extra index: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")


if __name__ == "__main__":
    main()
