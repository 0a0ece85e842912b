"""Large list exports as background jobs: queued from the list, written as the user, shown with progress, downloaded by the user only.

Tasks run through `Huey.execute`, the consumer's own path, or through an embedded consumer,
on the test's queue: SQLite, or Redis when METADESK_REDIS_URL is set.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from huey.api import Huey
from sqlalchemy import inspect

from runtime import export_jobs
from runtime.access import SYSTEM_ACTOR
from runtime.export_jobs import TABLE_NAME, ExportJob, ExportJobs
from runtime.jobs import EmbeddedWorker, Jobs
from runtime.migrate import migrate
from runtime.migrate_plan import plan_migration
from runtime.permission_admin import PermissionAdmin
from tests.runtime.job_support import fixed_clock, make_queue, run_queued, runs
from tests.web.conftest import WebApp, fast_password_hashes, make_web_app, shared_app_models  # noqa: F401
from tests.web.export_support import EAST_CODES, PAYMENTS, csv_rows, export_entries, ledger_app, list_codes, sheet_rows
from ui.web import lists_export

PAYMENTS_URL = "/records/payment"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    huey = make_queue(tmp_path)
    yield huey
    huey.flush()


@pytest.fixture
def ledger(make_web_app: Callable[..., WebApp], tmp_path: Path) -> WebApp:
    """The ledger app, where more than two matching records make an export a background job."""
    web_app = ledger_app(make_web_app, tmp_path)
    web_app.runtime.settings = dataclasses.replace(web_app.runtime.settings, export_job_rows=2)
    return web_app


@pytest.fixture
def jobs(ledger: WebApp, queue: Huey) -> Jobs:
    jobs = Jobs(ledger.runtime, queue)
    ledger.app.state.jobs = jobs
    return jobs


def started_job(client: Any, path: str, params: dict[str, str] | None = None) -> int:
    """Request an export that becomes a job; return the job's id from the redirect."""
    response = client.get(path, params=params)
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/exports\?job=(\d+)", response.headers["location"])
    assert found is not None, response.headers["location"]
    return int(found.group(1))


def job_of(jobs: Jobs, job_id: int) -> ExportJob:
    job = jobs.exports.job(job_id)
    assert job is not None
    return job


def test_large_export_queued_then_written(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    client = ledger.client("east_clerk")

    job_id = started_job(client, f"{PAYMENTS_URL}/export.xlsx")

    queued = job_of(jobs, job_id)
    assert (queued.status, queued.user_id, queued.format, queued.file_name) == (
        "queued", "east_clerk", "xlsx", f"付款单-{datetime.date.today().isoformat()}.xlsx")
    assert export_entries(ledger) == []
    waiting = client.get(f"/exports?job={job_id}")
    assert "排队中" in waiting.text
    assert 'hx-trigger="every 2s"' in waiting.text
    assert f'data-export="{job_id}" data-status="queued" class="highlighted"' in waiting.text

    assert run_queued(queue) == 1

    done = job_of(jobs, job_id)
    assert (done.status, done.rows_written, done.rows_total, done.percent) == ("done", 3, 3, 100)
    assert (ledger.settings.data_dir / "exports" / f"{job_id}.xlsx").is_file()
    page = client.get("/exports")
    assert "已完成" in page.text
    assert "hx-trigger" not in page.text
    assert f'href="/exports/{job_id}/download"' in page.text
    [entry] = export_entries(ledger)
    assert (entry["actor"], entry["changes"]["format"], entry["changes"]["rows"]) == ("east_clerk", "xlsx", 3)
    assert [run.status for run in runs(jobs, "export_file")] == ["succeeded"]


def test_job_file_agrees_with_list_scope_and_masks(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    client = ledger.client("east_clerk")
    listed = client.get(PAYMENTS_URL)
    job_id = started_job(client, f"{PAYMENTS_URL}/export.xlsx")
    run_queued(queue)

    downloaded = client.get(f"/exports/{job_id}/download")

    assert downloaded.status_code == 200
    assert downloaded.headers["content-type"] == lists_export.MEDIA_TYPES["xlsx"]
    assert "filename*=UTF-8''%E4%BB%98%E6%AC%BE%E5%8D%95-" in downloaded.headers["content-disposition"]
    rows = sheet_rows(downloaded.content)
    assert [row[0] for row in rows[1:]] == list_codes(listed.text) == EAST_CODES
    ids = [row[1] for row in rows[1:]]
    clear = {payee for _, unit, payee, *_ in PAYMENTS if unit == "east"}
    assert not set(ids) & clear
    for masked in ids:
        assert masked in listed.text


def test_csv_job_equals_streamed_csv(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    client = ledger.client("head")
    params = {"sort": "-amount"}
    job_id = started_job(client, f"{PAYMENTS_URL}/export.csv", params)
    run_queued(queue)
    from_job = client.get(f"/exports/{job_id}/download")

    ledger.runtime.settings = dataclasses.replace(ledger.runtime.settings, export_job_rows=100)
    streamed = client.get(f"{PAYMENTS_URL}/export.csv", params=params)

    assert streamed.status_code == 200
    assert from_job.content == streamed.content
    assert len(csv_rows(from_job.content)) == len(PAYMENTS) + 1


def test_only_owner_downloads(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    job_id = started_job(ledger.client("east_clerk"), f"{PAYMENTS_URL}/export.xlsx")
    run_queued(queue)

    for other in ("west_clerk", "head"):
        client = ledger.client(other)
        refused = client.get(f"/exports/{job_id}/download")
        assert refused.status_code == 404
        assert "不属于您" in refused.text
        assert f'data-export="{job_id}"' not in client.get("/exports").text
    assert ledger.client("east_clerk").get(f"/exports/{job_id}/download").status_code == 200


def test_progress_recorded_per_page(ledger: WebApp, jobs: Jobs, queue: Huey, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists_export, "MAX_LIMIT", 2)
    recorded: list[dict[str, Any]] = []
    original = ExportJobs._update

    def recording(self: ExportJobs, job_id: int, **values: Any) -> None:
        recorded.append(values)
        original(self, job_id, **values)

    monkeypatch.setattr(ExportJobs, "_update", recording)
    job_id = started_job(ledger.client("head"), f"{PAYMENTS_URL}/export.csv")
    run_queued(queue)

    assert [values["rows_total"] for values in recorded if "rows_total" in values] == [5]
    assert [values["rows_written"] for values in recorded if "rows_written" in values] == [2, 4, 5, 5]
    assert job_of(jobs, job_id).status == "done"


def test_progress_shown_while_running(ledger: WebApp, jobs: Jobs) -> None:
    client = ledger.client("head", lang="en")
    job_id = started_job(client, f"{PAYMENTS_URL}/export.xlsx")
    jobs.exports._update(job_id, status="running", rows_total=5, rows_written=2)

    fragment = client.get(f"/exports?job={job_id}", headers=HTMX)

    assert fragment.text.lstrip().startswith('<div id="exports" hx-get="/exports?job=')
    assert "Running" in fragment.text
    assert '<progress max="100" value="40"' in fragment.text
    assert "2 / 5 rows" in fragment.text
    assert "<h1>" not in fragment.text


def test_failure_shown_with_reason(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    client = ledger.client("east_clerk")
    job_id = started_job(client, f"{PAYMENTS_URL}/export.xlsx")
    PermissionAdmin(ledger.state.permissions).unassign(SYSTEM_ACTOR, "east_clerk", "clerk", "east")

    run_queued(queue)

    failed = job_of(jobs, job_id)
    assert failed.status == "failed"
    assert failed.error == "You may no longer export Payment records, so the file was not written."
    assert failed.error_zh == "您已无权导出付款单，文件未生成。"
    assert not (ledger.settings.data_dir / "exports" / f"{job_id}.xlsx").exists()
    assert export_entries(ledger) == []
    page = client.get("/exports")
    assert "失败" in page.text
    assert "您已无权导出付款单，文件未生成。" in page.text
    assert client.get(f"/exports/{job_id}/download").status_code == 404
    assert [run.status for run in runs(jobs, "export_file")] == ["failed"]


def test_inactive_user_job_fails(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    job_id = started_job(ledger.client("head"), f"{PAYMENTS_URL}/export.csv")
    users = ledger.runtime.schema.access.users
    with ledger.runtime.engine.begin() as connection:
        connection.execute(users.update().where(users.c.id == "head").values(active=False))

    run_queued(queue)

    failed = job_of(jobs, job_id)
    assert (failed.status, failed.error, failed.error_zh) == ("failed", "The user head is no longer active.", "用户 head 已停用。")


def test_unregistered_source_fails(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    actor = ledger.state.accounts.actor(ledger.state.accounts.user("head") or {})
    job = jobs.exports.submit(actor, "payment", "missing", "csv", {}, "付款单.csv")

    run_queued(queue)

    failed = job_of(jobs, job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.startswith("No export source 'missing' is registered in the worker process.")
    assert export_entries(ledger) == []


def test_write_error_fails_without_file(ledger: WebApp, jobs: Jobs, queue: Huey, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_jobs, "write_xlsx", full_disk)
    job_id = started_job(ledger.client("head"), f"{PAYMENTS_URL}/export.xlsx")

    run_queued(queue)

    failed = job_of(jobs, job_id)
    assert (failed.status, failed.error) == ("failed", "The file could not be written (OSError). The server log has the details.")
    assert failed.error_zh == "文件写入失败（OSError），详情见服务器日志。"
    assert not (ledger.settings.data_dir / "exports" / f"{job_id}.xlsx").exists()


def test_job_runs_once(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    job_id = started_job(ledger.client("head"), f"{PAYMENTS_URL}/export.csv")
    run_queued(queue)

    finished = job_of(jobs, job_id)
    jobs.exports.run(job_id)

    assert job_of(jobs, job_id) == finished
    assert len(export_entries(ledger)) == 1


def test_small_export_streams_without_job(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    streamed = ledger.client("east_clerk").get(f"{PAYMENTS_URL}/export.xlsx", params={"amount.min": "100"})

    assert streamed.status_code == 200
    assert [row[0] for row in sheet_rows(streamed.content)[1:]] == ["P-001", "P-003"]
    assert run_queued(queue) == 0
    assert jobs.exports.of_user("east_clerk") == []


def test_embedded_consumer_writes_file(ledger: WebApp, jobs: Jobs) -> None:
    job_id = started_job(ledger.client("head"), f"{PAYMENTS_URL}/export.xlsx")
    worker = EmbeddedWorker(jobs)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while job_of(jobs, job_id).status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert job_of(jobs, job_id).status == "done"
    assert len(sheet_rows((ledger.settings.data_dir / "exports" / f"{job_id}.xlsx").read_bytes())) == len(PAYMENTS) + 1


def test_cleanup_removes_expired_files(ledger: WebApp, jobs: Jobs, queue: Huey) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    move = fixed_clock(ledger.runtime, now)
    old = started_job(ledger.client("head"), f"{PAYMENTS_URL}/export.xlsx")
    run_queued(queue)
    move(now + datetime.timedelta(days=6))
    recent = started_job(ledger.client("head"), f"{PAYMENTS_URL}/export.csv")
    run_queued(queue)
    folder = ledger.settings.data_dir / "exports"
    # Files of no job, as a worker stopped in mid-write leaves them: one as old as the first job, one a day old.
    stray_old, stray_new = folder / "998.xlsx.part", folder / "999.xlsx.part"
    for stray, written in ((stray_old, now), (stray_new, now + datetime.timedelta(days=6))):
        stray.write_bytes(b"left by a stopped worker")
        os.utime(stray, (written.timestamp(), written.timestamp()))
    move(now + datetime.timedelta(days=7, minutes=1))

    # The flow timer sweep runs the cleanup, at most once an hour.
    jobs.sweep_flow_timers()

    assert jobs.exports.job(old) is None
    assert not (folder / f"{old}.xlsx").exists()
    assert job_of(jobs, recent).status == "done"
    assert (folder / f"{recent}.csv").is_file()
    assert not stray_old.exists()
    assert stray_new.exists()
    assert ledger.client("head").get(f"/exports/{old}/download").status_code == 404


def test_migrate_creates_and_keeps_table(ledger: WebApp) -> None:
    runtime = ledger.runtime

    assert inspect(runtime.engine).has_table(TABLE_NAME)
    migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
    with runtime.engine.connect() as connection:
        plan = plan_migration(connection, runtime.schema, runtime.model)
    assert [step for step in plan.steps if step.table == TABLE_NAME] == []
    assert inspect(runtime.engine).has_table(TABLE_NAME)
