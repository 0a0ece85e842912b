"""The jobs page /admin/jobs: tasks and schedules, the latest runs with a status filter, and Run now."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from huey.api import Huey

from runtime.access import SYSTEM_ACTOR
from runtime.jobs import Jobs
from runtime.permission_admin import PermissionAdmin
from tests.runtime.job_support import make_queue, run_queued
from tests.web.conftest import GUARANTEE, WebApp
from tests.web.test_admin import AdminClient, shown


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    huey = make_queue(tmp_path)
    yield huey
    huey.flush()


@pytest.fixture
def jobs(web_app: WebApp, queue: Huey) -> Jobs:
    """The app's queue, on the test's own queue rather than in the data folder."""
    jobs = Jobs(web_app.runtime, queue)
    web_app.app.state.jobs = jobs
    return jobs


def run_rows(page: str) -> list[str]:
    return re.findall(r'<tr data-status="([a-z]+)">', page)


@pytest.mark.parametrize(("lang", "phrases"), [
    ("zh-CN", ["任务调度", "每日逾期计算", "每天 02:00", "guarantee.compute_overdue", "立即运行", "流程时限检查", "每分钟",
               "时间均为 Asia/Shanghai 时区", "没有运行记录", "运行记录保留 30 天"]),
    ("en", ["Jobs and schedules", "Daily overdue computation", "every day at 02:00", "Run now",
            "Flow timers", "every minute", "Times are in the time zone Asia/Shanghai", "No runs recorded", "Runs are kept for 30 days"]),
])
def test_page_lists_tasks_and_schedules(web_app: WebApp, jobs: Jobs, lang: str, phrases: list[str]) -> None:
    root = AdminClient(web_app, lang=lang)
    page = root.get("/admin/jobs")
    assert page.status_code == 200
    text = shown(page)
    for phrase in phrases:
        assert phrase in text, phrase
    assert re.findall(r'<tr data-task="([^"]+)">', page.text) == ["flow_timers", "schedule:daily_overdue"]
    assert '<form method="post" action="/admin/jobs/daily_overdue/run"' in page.text
    # The next run of the daily schedule is at 02:00 in Shanghai.
    row = page.text.split('data-task="schedule:daily_overdue"')[1].split("</tr>")[0]
    assert re.search(r"02:00:00|上午2:00:00|凌晨2:00:00|2:00:00\sAM", row), row


def test_menu_links_the_jobs_page(web_app: WebApp, jobs: Jobs) -> None:
    root = AdminClient(web_app)
    assert 'href="/admin/jobs"' in root.get("/").text


def test_jobs_page_needs_the_jobs_permission(web_app: WebApp, jobs: Jobs) -> None:
    root = AdminClient(web_app)
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    clerk = web_app.client("clerk")
    token = web_app.csrf(clerk)
    assert 'href="/admin/jobs"' not in clerk.get("/").text

    page = clerk.get("/admin/jobs")
    assert page.status_code == 403
    assert "任务调度页面需要“任务调度”权限。" in page.text
    posted = clerk.post("/admin/jobs/daily_overdue/run", data={}, headers={"X-CSRF-Token": token})
    assert posted.status_code == 403
    assert len(jobs.huey) == 0
    assert root.audit("clerk") == []

    # The jobs action alone opens the page, without the links to the pages that need "administer".
    PermissionAdmin(web_app.state.permissions).grant(SYSTEM_ACTOR, "head_office_viewer", "system", "jobs")
    page = clerk.get("/admin/jobs")
    assert page.status_code == 200
    assert 'href="/admin/users"' not in page.text
    assert 'href="/admin/jobs"' in clerk.get("/").text
    assert 'href="/admin/jobs"' in root.get("/admin").text


def test_run_now_enqueues_audits_and_shows_the_run(web_app: WebApp, jobs: Jobs) -> None:
    root = AdminClient(web_app)
    posted = root.post("/admin/jobs/daily_overdue/run", {})
    assert posted.status_code == 303
    assert posted.headers["location"] == "/admin/jobs?done=queued&schedule=daily_overdue"
    assert [task.name for task in jobs.huey.pending()] == ["schedule:daily_overdue"]
    assert root.audit() == [("run_schedule", {"schedule": [None, "daily_overdue"], "hook": [None, "guarantee.compute_overdue"]})]
    notice = shown(root.get(posted.headers["location"]))
    assert "已将定时任务 daily_overdue 加入队列，立即运行。" in notice
    assert run_rows(notice) == ["queued"]

    # The guarantee app's overdue hook runs over an empty book and succeeds.
    assert run_queued(jobs.huey) == 1
    page = shown(root.get("/admin/jobs"))
    assert run_rows(page) == ["succeeded"]
    assert run_rows(root.get("/admin/jobs?status=failed").text) == []
    assert run_rows(root.get("/admin/jobs?status=succeeded").text) == ["succeeded"]


def test_run_now_needs_the_csrf_token(web_app: WebApp, jobs: Jobs) -> None:
    root = AdminClient(web_app)
    refused = root.client.post("/admin/jobs/daily_overdue/run", data={})
    assert refused.status_code == 403
    assert len(jobs.huey) == 0
    assert root.audit() == []


def test_run_now_of_an_unknown_schedule(web_app: WebApp, jobs: Jobs) -> None:
    root = AdminClient(web_app)
    refused = root.post("/admin/jobs/monthly_close/run", {})
    assert refused.status_code == 422
    assert "没有名为 'monthly_close' 的已启用定时任务；已启用的定时任务：daily_overdue。" in shown(refused)
    assert len(jobs.huey) == 0
    assert root.audit() == []


def test_unknown_status_filter(web_app: WebApp, jobs: Jobs) -> None:
    page: Any = AdminClient(web_app).get("/admin/jobs?status=done")
    assert page.status_code == 422
    assert "未知的状态 'done'；请使用：queued, running, succeeded, skipped, failed, retrying, locked, expired。" in shown(page)


def test_unregistered_hook_shown_and_its_run_fails(make_web_app: Callable[..., WebApp], queue: Huey, tmp_path: Path) -> None:
    app = tmp_path / "guarantee"
    shutil.copytree(GUARANTEE, app, ignore=shutil.ignore_patterns("__pycache__"))
    schedule = app / "schedules" / "daily_overdue.yaml"
    schedule.write_text(schedule.read_text(encoding="utf-8").replace("guarantee.compute_overdue", "guarantee.not_written"),
                        encoding="utf-8")
    web_app = make_web_app(app)
    web_app.app.state.jobs = jobs = Jobs(web_app.runtime, queue)
    root = AdminClient(web_app)
    page = shown(root.get("/admin/jobs"))
    assert "guarantee.not_written" in page
    assert "未注册" in page

    root.post("/admin/jobs/daily_overdue/run", {})
    assert run_queued(jobs.huey) == 1
    page = shown(root.get("/admin/jobs"))
    assert run_rows(page) == ["failed"]
    assert "定时任务 daily_overdue 调用的钩子 guarantee.not_written 尚未注册" in page
    english = shown(AdminClient(web_app, lang="en").get("/admin/jobs?status=failed"))
    assert "not registered" in english
    assert "the schedule daily_overdue calls the hook guarantee.not_written, which is not registered" in english
