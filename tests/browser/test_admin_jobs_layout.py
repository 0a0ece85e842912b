"""The jobs page /admin/jobs with long names, errors and host names: the tables fit the window.

The HTML tests check the classes and titles the page's styles rely on. The browser tests
open the page in Debian's Chromium, served by uvicorn on 127.0.0.1, and measure the tables.
"""

from __future__ import annotations

import datetime
import html
import re
from pathlib import Path
from typing import Callable, Iterator

import pytest
from huey.api import Huey
from playwright.sync_api import Page
from sqlalchemy import insert

from runtime.jobs import Jobs
from tests.runtime.job_support import make_queue, schedule_app, schedule_yaml
from tests.web.conftest import WebApp
from tests.web.test_admin import AdminClient

SCHEDULE = "nightly_reconciliation_of_expense_claims_with_bank_statements"
HOOK = "finance_department_reconciliation.reconcile_expense_claims_against_bank_statements"
TASK = f"schedule:{SCHEDULE}"
HOST = "worker-" + "a1b2c3d4" * 10
PID = 4242
#: A failure whose message contains a long address without spaces, as connection errors often do.
ERROR = ("ConnectionError: no answer from https://statements.bank.example/api/v2/accounts/6222020200112233445/"
         + "statements/2026-12-05T02:00:00+08:00/" + "page-of-transactions-" * 8 + "after 30 s")
ERROR_ZH = "连接银行流水接口超时：" + ERROR.split(": ", 1)[1]


@pytest.fixture
def web_app(make_web_app: Callable[..., WebApp], tmp_path: Path) -> WebApp:
    """The approvals app with one schedule whose name and hook are long, and an administrator "root"."""
    directory = schedule_app(tmp_path, {SCHEDULE: schedule_yaml(SCHEDULE, "0 2 * * *", HOOK)})
    web_app = make_web_app(directory)
    web_app.add_user("root", ("admin",), "company")
    return web_app


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    huey = make_queue(tmp_path)
    yield huey
    huey.flush()


@pytest.fixture
def jobs(web_app: WebApp, queue: Huey) -> Jobs:
    """The app's queue, on the test's own queue, with one failed run of the schedule in the log."""
    jobs = Jobs(web_app.runtime, queue)
    web_app.app.state.jobs = jobs
    now = datetime.datetime.now(datetime.timezone.utc)
    with web_app.runtime.engine.begin() as connection:
        connection.execute(insert(jobs.log.table).values(
            task=TASK, task_id="run-1", attempt=1, status="failed", recorded_at=now, queued_at=now, started_at=now,
            finished_at=now, duration_ms=30_000, error=ERROR, error_zh=ERROR_ZH, host=HOST, pid=PID,
        ))
    return jobs


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_long_values_marked_for_wrapping(web_app: WebApp, jobs: Jobs, lang: str) -> None:
    page = AdminClient(web_app, lang=lang).get("/admin/jobs").text

    assert '<table class="grid compact job-table" id="job-tasks">' in page
    assert '<table class="grid compact job-table" id="job-runs">' in page
    task = page.split(f'<tr data-task="{TASK}">')[1].split("</tr>")[0]
    assert f'<td class="job-name"><code>{TASK}</code>' in task
    assert f"<code>{HOOK}</code>" in task
    run = page.split('<tr data-status="failed">')[1].split("</tr>")[0]
    error = re.search(r'<td class="job-error">(.*?)</td>', run, re.S)
    assert error is not None
    assert html.unescape(error.group(1)) == (ERROR if lang == "en" else ERROR_ZH)
    # The host name is cut to the column's width, and its title keeps it whole.
    assert f'<td class="job-consumer"><span class="help" title="{HOST}:{PID}">{HOST}:{PID}</span></td>' in run


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_tables_fit_the_window(web_app: WebApp, jobs: Jobs, signed_in_page: Callable[..., Page], lang: str) -> None:
    page = signed_in_page("root", lang=lang)

    page.goto("/admin/jobs")

    assert page.locator("#job-runs tbody tr").count() == 1
    widths = page.evaluate("""() => ({
        page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
        tables: [...document.querySelectorAll('table.job-table')].map(table => [table.id, table.parentElement.scrollWidth,
                                                                              table.parentElement.clientWidth]),
        error: (cell => [cell.scrollWidth, cell.clientWidth])(document.querySelector('#job-runs td.job-error')),
        host: (span => [span.scrollWidth, span.clientWidth])(document.querySelector('#job-runs td.job-consumer span')),
    })""")
    assert widths["page"][0] <= widths["page"][1], "the page scrolls sideways"
    assert [table for table, _, _ in widths["tables"]] == ["job-tasks", "job-runs"]
    for table, scrolled, shown in widths["tables"]:
        assert scrolled <= shown, f"the table {table} is wider than its card: {scrolled} > {shown} pixels"
    assert widths["error"][0] <= widths["error"][1], "the error text is cut instead of wrapped"
    assert widths["host"][0] > widths["host"][1], "the host name is not cut to the column"
