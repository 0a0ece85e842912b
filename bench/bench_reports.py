"""Time a report over a million loan applications, and the time and peak memory of a large list export.

Run with `.venv/bin/python bench/bench_reports.py --database sqlite|postgresql [--rows N]
[--export-rows N] [--runs N]`. The benchmark:

1. copies configs/guarantee to a temporary folder and adds the report BENCH_REPORT to it:
   loan applications counted and their loan amounts summed by month of creation and by dealer;
2. migrates it into a fresh database (SQLite: a file in the temporary folder; PostgreSQL:
   `md_bench_<random>` on 127.0.0.1:5432, dropped at the end), creates the referenced records
   through the record service and inserts `--rows` loan applications straight into the table
   (list_page_data.py);
3. runs the report through ReportRunner as a head-office viewer (data scope: all rows) and as a
   dealer manager of one dealer unit (data scope: that unit, about half the rows). For each it
   prints the SQL the report sends, its query plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN
   ANALYZE on PostgreSQL), and the median and best of `--runs` timed runs after one warm-up;
4. exports the list of the dealers with the most applications, as few as make at least
   `--export-rows` rows, to Excel and then to CSV. Each export runs in its own subprocess
   (export_memory.py) through ExportJobs.run, the path of a background export job, and reports
   its peak resident set size, the resident set size before the export, the time and the rows
   per second. The peak during the export is read after resetting the subprocess's peak, and
   the peak of the whole subprocess, startup included, is printed beside it (export_memory.py
   describes how).

Targets: the report under 1 s (the median), the export's peak resident set size under 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

from bench_list_page import captured_statements
from bench_records import bench_database, print_machine
from list_page_data import ENTITY, DEALER_UNITS, add_reader, bulk_load, create_references
from sqlalchemy import Engine, func, select

from runtime.app import Runtime
from runtime.migrate import migrate
from runtime.reports import ReportRunner
from runtime.settings import Settings

REPOSITORY = Path(__file__).resolve().parent.parent
GUARANTEE = REPOSITORY / "configs" / "guarantee"
EXPORT_SCRIPT = Path(__file__).resolve().parent / "export_memory.py"

REPORT_NAME = "bench_by_month_and_dealer"
BENCH_REPORT = f"""\
name: {REPORT_NAME}
label: {{zh-CN: 月度经销商业务量（基准测试）, en: Applications by month and dealer (benchmark)}}
source: {ENTITY}
dimensions:
  - field: created_at
    bucket: month
    label: {{zh-CN: 月份, en: Month}}
  - field: dealer
    label: {{zh-CN: 经销商, en: Dealer}}
measures:
  - name: application_count
    label: {{zh-CN: 申请笔数, en: Applications}}
    aggregate: count
  - name: total_loan_amount
    label: {{zh-CN: 贷款金额合计（元）, en: Total loan amount (CNY)}}
    aggregate: sum
    field: loan_amount
sort: [created_at]
"""

#: Users of the report: (id, role, org unit, description of the data scope).
ALL_ROWS_USER = ("bench_head_office", "head_office_viewer", "head_office", "all rows")
UNIT_USER = ("bench_dealer", "dealer_manager", DEALER_UNITS[0], f"unit {DEALER_UNITS[0]} only")
#: The export runs as the head-office viewer, who has the read and export actions on every application.
EXPORT_USER = ALL_ROWS_USER[0]

REPORT_TARGET_SECONDS = 1.0
EXPORT_TARGET_PEAK_MB = 200.0


def verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def write_app(folder: Path) -> Path:
    """Copy configs/guarantee into `folder` and add the benchmark report; return the copy's path."""
    app = folder / "app"
    shutil.copytree(GUARANTEE, app)
    (app / "reports" / f"{REPORT_NAME}.yaml").write_text(BENCH_REPORT, encoding="utf-8")
    return app


# The report --------------------------------------------------------------------------------


def query_plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """Return the plan of a statement: EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE (which runs it) on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return [f"{'  ' * (int(row[1]) > 0)}{row[-1]}" for row in rows]
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
    return [str(row[0]) for row in rows]


def time_report(run: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Run the report once untimed, then `runs` times; return the median and best in seconds."""
    run()
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), min(durations)


def measure_report(runtime: Runtime, user_id: str, scope: str, runs: int) -> tuple[str, float, bool]:
    """Print the report's SQL, plan and timings for one user; return a summary line's title, the median and whether it met the target."""
    records = runtime.records_for_users()
    accounts = runtime.accounts()
    user = accounts.user(user_id)
    if user is None:
        raise RuntimeError(f"the benchmark user {user_id} does not exist")
    actor = accounts.actor(user)
    runner = ReportRunner(records)
    title = f"report {REPORT_NAME} as {user_id} ({actor.roles[0]} at {actor.org_unit}, scope: {scope})"
    print(f"\n{title}")

    results: list[Any] = []
    statements = captured_statements(runtime.engine, lambda: results.append(runner.run(actor, REPORT_NAME)))
    result = results[0]
    # The report counts the rows of the user's list, so both counts agree unless the scope went missing from one.
    in_scope = records.count(actor, ENTITY)
    counted = int(result.total.values["application_count"])
    if counted != in_scope:
        raise RuntimeError(f"the report counted {counted:,} applications, but {in_scope:,} lie in the user's scope")
    print(f"  {len(result.rows)} groups, {counted:,} applications, loan amount {result.total.values['total_loan_amount']:,} in total")

    print(f"  the run sent {len(statements)} statements:")
    for statement, parameters in statements:
        print(textwrap.indent(statement.strip(), "    "))
        print(f"    parameters: {parameters!r}")
        if f"FROM {ENTITY}" in statement and "GROUP BY" in statement.upper():
            print("    query plan:")
            for line in query_plan(runtime.engine, statement, parameters):
                print(f"      {line}")

    median, best = time_report(lambda: runner.run(actor, REPORT_NAME), runs)
    met = median < REPORT_TARGET_SECONDS
    print(f"  {runs} timed runs after one warm-up: median {median * 1000:.0f} ms, best {best * 1000:.0f} ms "
          f"(target: under {REPORT_TARGET_SECONDS:.0f} s) {verdict(met)}")
    return title, median, met


# The export --------------------------------------------------------------------------------


def export_dealers(runtime: Runtime, export_rows: int) -> tuple[list[int], int]:
    """Return the dealers with the most applications, as few as contain at least `export_rows`, and their applications."""
    table = runtime.schema.entities[ENTITY].table
    count = func.count().label("applications")
    query = (select(table.c.dealer, count).where(table.c.deleted_at.is_(None))
             .group_by(table.c.dealer).order_by(count.desc(), table.c.dealer))
    with runtime.engine.connect() as connection:
        counts = connection.execute(query).all()
    chosen: list[int] = []
    total = 0
    for dealer, applications in counts:
        if total >= export_rows:
            break
        chosen.append(int(dealer))
        total += int(applications)
    if total < export_rows:
        raise RuntimeError(f"only {total:,} applications were loaded, fewer than --export-rows {export_rows:,}")
    return chosen, total


def measure_export(environment: dict[str, str], app: Path, file_format: str, query: str, expected: int) -> dict[str, Any]:
    """Run one export in a subprocess of its own and return what it measured."""
    command = [sys.executable, str(EXPORT_SCRIPT), "--app", str(app), "--user", EXPORT_USER, "--entity", ENTITY,
               "--format", file_format, "--query", query]
    finished = subprocess.run(command, env=environment, cwd=REPOSITORY, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"the {file_format} export failed with exit code {finished.returncode}:\n{finished.stderr}")
    measured: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    if measured["rows_written"] != expected:
        raise RuntimeError(f"the {file_format} export wrote {measured['rows_written']:,} rows, expected {expected:,}")
    return measured


def print_export(file_format: str, measured: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Print one export's figures; return its summary lines: the export's own peak and the whole process's peak."""
    peak_mb = measured["peak_kib"] / 1024
    process_peak_mb = max(measured["startup_peak_kib"], measured["peak_kib"]) / 1024
    rows = measured["rows_written"]
    seconds = measured["seconds"]
    print(f"\nexport to {file_format} as {EXPORT_USER}: {rows:,} rows, {measured['file_bytes'] / 1024 / 1024:.1f} MB file, "
          f"{seconds:.1f} s = {rows / seconds:,.0f} rows/s")
    print(f"  resident set before the export {measured['resident_before_kib'] / 1024:.0f} MB; "
          f"peak resident set during the export {peak_mb:.0f} MB "
          f"(target: under {EXPORT_TARGET_PEAK_MB:.0f} MB) {verdict(peak_mb < EXPORT_TARGET_PEAK_MB)}")
    print(f"  peak resident set of the whole process, startup included: {process_peak_mb:.0f} MB "
          f"{verdict(process_peak_mb < EXPORT_TARGET_PEAK_MB)} (ru_maxrss {measured['maxrss_kib'] / 1024:.0f} MB, "
          "which on Linux can include the parent's resident set at the fork)")
    target = f"target under {EXPORT_TARGET_PEAK_MB:.0f} MB"
    return [
        (f"export of {rows:,} rows to {file_format}, peak resident set during the export", f"{peak_mb:.0f} MB, {target}",
         peak_mb < EXPORT_TARGET_PEAK_MB),
        (f"export of {rows:,} rows to {file_format}, peak resident set of the whole process",
         f"{process_peak_mb:.0f} MB, {target}", process_peak_mb < EXPORT_TARGET_PEAK_MB),
    ]


# Main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--rows", type=int, default=1_000_000, help="loan applications to load (default: 1,000,000)")
    parser.add_argument("--export-rows", type=int, default=100_000,
                        help="minimum rows of the export, taken as the applications of whole dealers (default: 100,000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the report for each user (default: 5)")
    arguments = parser.parse_args()
    if min(arguments.rows, arguments.export_rows, arguments.runs) < 1:
        parser.error("--rows, --export-rows and --runs must be at least 1")
    if arguments.export_rows > arguments.rows:
        parser.error(f"--export-rows ({arguments.export_rows:,}) must not exceed --rows ({arguments.rows:,})")

    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    with tempfile.TemporaryDirectory(prefix="md_bench_") as temporary, \
            bench_database(arguments.database, Path(temporary)) as url:
        run(Path(temporary), url, arguments)


def run(folder: Path, url: str, arguments: argparse.Namespace) -> None:
    app = write_app(folder)
    settings = Settings(data_dir=folder / "data", database_url=url, redis_url=None, secret_key=secrets.token_urlsafe(32))
    environment = {**os.environ, "METADESK_DATA_DIR": str(settings.data_dir), "METADESK_DATABASE_URL": url,
                   "METADESK_SECRET_KEY": str(settings.secret_key)}
    summary: list[tuple[str, str, bool]] = []
    runtime = Runtime.open(app, settings)
    try:
        print_machine(runtime.engine)
        migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
        references = create_references(runtime)
        print(f"\nloading {arguments.rows:,} loan applications (setup, not measured)")
        load_seconds = bulk_load(runtime, references, arguments.rows)
        print(f"loaded in {load_seconds:.0f} s with ANALYZE")
        for user_id, role, unit, _ in (ALL_ROWS_USER, UNIT_USER):
            add_reader(runtime, user_id, "Bench#" + secrets.token_hex(8), role, unit)

        for user_id, _, _, scope in (ALL_ROWS_USER, UNIT_USER):
            title, median, met = measure_report(runtime, user_id, scope, arguments.runs)
            summary.append((title, f"median {median * 1000:.0f} ms, target under {REPORT_TARGET_SECONDS:.0f} s", met))
        dealers, expected = export_dealers(runtime, arguments.export_rows)
    finally:
        runtime.close()

    query = "&".join(f"dealer={dealer}" for dealer in dealers)
    print(f"\nexport: the list of loan applications filtered to {len(dealers)} dealers ({query}), {expected:,} rows, "
          "each format in a subprocess of its own through ExportJobs.run")
    for file_format in ("xlsx", "csv"):
        summary.extend(print_export(file_format, measure_export(environment, app, file_format, query, expected)))

    print("\nsummary:")
    for title, figure, met in summary:
        print(f"  {verdict(met)}  {title}: {figure}")


if __name__ == "__main__":
    main()
