"""Load generators of the list-page benchmark: wrk when installed, else an asyncio client on httpx.

Both send GET requests with fixed headers over keep-alive connections to one URL on
127.0.0.1 for a fixed time, and return the request count, the rate, latency percentiles
and the responses that were not 200.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class LoadResult:
    tool: str
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    #: Responses other than 200, plus connection errors and timeouts.
    failures: int


def wrk_version() -> str | None:
    if shutil.which("wrk") is None:
        return None
    completed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    first = (completed.stdout or completed.stderr).splitlines()
    return first[0].strip() if first else "wrk"


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _milliseconds(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if found is None:
        raise ValueError(f"wrk printed a latency that is not a number with a unit: {text!r}")
    return float(found.group(1)) * _UNITS_MS[found.group(2)]


def run_wrk(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> LoadResult:
    """Run wrk with one thread and `concurrency` connections, and read its --latency report."""
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    output = completed.stdout
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed with exit code {completed.returncode}: {completed.stderr.strip() or output}")
    percentiles = {match.group(1): _milliseconds(match.group(2))
                   for match in re.finditer(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)[ \t]*$", output, re.MULTILINE)}
    totals = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if totals is None or rate is None or set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"wrk printed a report this benchmark cannot read:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failures = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        failures += sum(int(value) for value in socket_errors.groups())
    elapsed = _milliseconds(totals.group(2) + totals.group(3)) / 1000
    return LoadResult("wrk", int(totals.group(1)), elapsed, float(rate.group(1)), percentiles["50"], percentiles["99"], failures)


def _percentile(sorted_values: list[float], fraction: float) -> float:
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def _drive(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    failures += 1
                    continue
                latencies.append((time.perf_counter() - sent) * 1000)
                if response.status_code != 200:
                    failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, failures, time.perf_counter() - started


def run_python_client(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> LoadResult:
    """Drive the URL from `concurrency` asyncio tasks; the client's own CPU use shares the machine with the server."""
    latencies, failures, elapsed = asyncio.run(_drive(url, headers, seconds, concurrency))
    if not latencies:
        raise RuntimeError(f"no request to {url} completed in {seconds} s")
    latencies.sort()
    return LoadResult("httpx", len(latencies), elapsed, len(latencies) / elapsed,
                      _percentile(latencies, 0.50), _percentile(latencies, 0.99), failures)


def run_load(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> LoadResult:
    if shutil.which("wrk") is not None:
        return run_wrk(url, headers, seconds, concurrency)
    return run_python_client(url, headers, seconds, concurrency)
