"""Run one list export job against an already loaded database and print its time and memory as JSON.

bench_reports.py starts this script in a subprocess of its own, so that the peak resident set
size covers only what an export worker loads and the export itself, and not the data load or
the report runs of the parent. The database, data folder and secret come from the METADESK_*
environment variables that `metadesk worker` reads.

The peaks are VmHWM of /proc/self/status, the peak resident set size of the process's memory
since exec: first of the startup, then of the export alone after resetting VmHWM with
/proc/self/clear_refs (Linux 4.0 and later). resource.getrusage ru_maxrss is returned too, but
on Linux it also counts the parent's resident set size at the fork that started this process,
which no reset clears.

The export goes through ExportJobs.run with the "list" source the web screens register, the
path of a background export. That path covers the job row, the audit entry, the keyset pages of
the record service as the user, the list's columns and formats, the progress update after each
page, and runtime/spreadsheets.py writing the file.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from runtime.app import Runtime
from runtime.export_jobs import ExportJobs
from runtime.settings import Settings
from ui.web.lists_export import LIST_SOURCE


def status_kib(name: str) -> int:
    """Return one memory figure of this process in KiB from /proc/self/status, such as VmRSS or VmHWM."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {name} line; this measurement needs Linux")


def maxrss_kib() -> int:
    """Return ru_maxrss of this process in KiB (its unit on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> None:
    """Reset VmHWM, the peak resident set size of this process's memory, to its current size."""
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")


def run_export(app: Path, user_id: str, entity: str, file_format: str, query: str) -> dict[str, Any]:
    runtime = Runtime.open(app, Settings.from_environment())
    try:
        # The benchmark runs the job at once in this process, so nothing is queued.
        def enqueue(_connection: Connection, _job_id: int) -> None:
            return None

        exports = ExportJobs(runtime, runtime.records_for_users, enqueue)
        accounts = runtime.accounts()
        user = accounts.user(user_id)
        if user is None:
            raise RuntimeError(f"the export user {user_id} does not exist in the benchmark database")
        job = exports.submit(accounts.actor(user), entity, LIST_SOURCE, file_format, {"query": query},
                             f"{entity}.{file_format}")

        resident_before = status_kib("VmRSS")
        startup_peak = status_kib("VmHWM")
        reset_peak()
        if status_kib("VmHWM") > status_kib("VmRSS") + 1024:
            raise RuntimeError("resetting VmHWM through /proc/self/clear_refs had no effect")
        started = time.perf_counter()
        exports.run(job.id)
        seconds = time.perf_counter() - started
        peak = status_kib("VmHWM")
        maxrss = maxrss_kib()

        finished = exports.job(job.id)
        if finished is None or finished.status != "done":
            raise RuntimeError(f"export job {job.id} ended as {finished.status if finished else 'missing'}")
        return {
            "rows_written": finished.rows_written,
            "rows_total": finished.rows_total,
            "file_bytes": finished.file_size,
            "seconds": seconds,
            "resident_before_kib": resident_before,
            "startup_peak_kib": startup_peak,
            "peak_kib": peak,
            "maxrss_kib": maxrss,
        }
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, required=True, help="application folder the database was migrated from")
    parser.add_argument("--user", required=True, help="id of the user who exports")
    parser.add_argument("--entity", required=True, help="entity whose list is exported")
    parser.add_argument("--format", choices=("xlsx", "csv"), required=True, help="file format")
    parser.add_argument("--query", default="", help="list address query string, such as dealer=3&dealer=7")
    arguments = parser.parse_args()
    print(json.dumps(run_export(arguments.app, arguments.user, arguments.entity, arguments.format, arguments.query)))


if __name__ == "__main__":
    main()
