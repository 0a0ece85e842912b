"""The jobs page /admin/jobs: the background tasks and YAML schedules, their latest runs, and "Run now".

Every endpoint needs the "jobs" action on the "system" resource (not "administer"). Run now
enqueues a schedule's task once the audit entry that records the request has committed.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.cron import Cron, CronError
from runtime.database import WRITE_OPTION
from runtime.hooks import registry
from runtime.job_log import STATUSES, JobRun
from runtime.jobs import Jobs, enqueue_after_commit
from runtime.schedules import MANUAL, task_name
from ui.web.admin_support import ADMIN_ACTION, SECTIONS, Endpoint, admin_page
from ui.web.i18n import label, pick
from ui.web.state import actor_of, lang_of, web

JOBS_ACTION = "jobs"

#: Runs shown on the page.
RUN_LIMIT = 100

#: The built-in tasks of runtime/jobs.py, with their cron expression and labels.
BUILT_IN: tuple[tuple[str, str, m.Label], ...] = (
    ("flow_timers", "* * * * *", m.Label("流程时限检查（提醒、升级、超时）", "Flow timers (reminders, escalations, expiries)")),
)

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "queued": ("Queued", "排队中"),
    "running": ("Running", "运行中"),
    "succeeded": ("Succeeded", "成功"),
    "skipped": ("Skipped", "已跳过"),
    "failed": ("Failed", "失败"),
    "retrying": ("Retrying", "等待重试"),
    "locked": ("Locked", "被锁跳过"),
    "expired": ("Expired", "已过期"),
}

STATUS_BADGES = {"succeeded": "state-ok", "failed": "state-off", "expired": "state-off", "retrying": "state-warn",
                 "locked": "state-warn", "skipped": "state-warn"}

_jobs_lock = threading.Lock()


def jobs_only(endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint so that it responds 403 unless the actor has the "jobs" action on the system."""

    async def guarded(request: Request) -> Response:
        if not web(request).permissions.allows(actor_of(request), JOBS_ACTION, m.SYSTEM_RESOURCE):
            raise HTTPException(403, pick(lang_of(request), "The jobs page needs the jobs permission on the system.",
                                          "任务调度页面需要“任务调度”权限。"))
        return await endpoint(request)

    guarded.__name__ = endpoint.__name__
    guarded.__doc__ = endpoint.__doc__
    return guarded


def jobs_of(request: Request) -> Jobs:
    """Return the application's queue with its tasks, built on first use unless the app was given one."""
    state = request.app.state
    with _jobs_lock:
        jobs: Jobs | None = getattr(state, "jobs", None)
        if jobs is None:
            jobs = Jobs(web(request).runtime)
            state.jobs = jobs
        return jobs


@dataclass(frozen=True)
class TaskRow:
    name: str
    task: str
    label: str
    cron: str
    #: The cron expression in words, or None where it is shown as written.
    words: str | None
    enabled: bool
    next_run: datetime.datetime | None
    hook: str | None
    hook_registered: bool
    last: JobRun | None
    #: Whether the row is a YAML schedule that Run now can start.
    runnable: bool


def _task_rows(request: Request, jobs: Jobs) -> list[TaskRow]:
    lang = lang_of(request)
    runtime = jobs.runtime
    zone = runtime.records.timezone
    now = runtime.records.clock()
    latest = jobs.log.latest_by_task()
    known_hooks = set(registry.names())
    rows = []
    for name, cron_text, name_label in BUILT_IN:
        every = Cron.parse(cron_text)
        rows.append(TaskRow(name, name, label(name_label, lang), every.text, every.describe(lang), True,
                            every.next_after(now, zone), None, True, latest.get(name), False))
    for schedule in runtime.model.schedules.values():
        task = task_name(schedule.name)
        registered = schedule.name in jobs.schedules
        try:
            cron: Cron | None = Cron.parse(schedule.cron)
        except CronError:
            # Such a schedule has no task (runtime/schedules.py): its cron is shown as written.
            cron = None
        next_run = cron.next_after(now, zone) if cron is not None and registered else None
        rows.append(TaskRow(schedule.name, task, label(schedule.label, lang), schedule.cron, cron.describe(lang) if cron else None,
                            schedule.enabled, next_run, schedule.hook, schedule.hook in known_hooks, latest.get(task), registered))
    return rows


def _page_context(request: Request, *, error: str | None = None) -> dict[str, Any]:
    lang = lang_of(request)
    state = web(request)
    jobs = jobs_of(request)
    status = request.query_params.get("status", "").strip()
    errors = {"run": error} if error else {}
    if status and status not in STATUSES:
        errors["status"] = pick(lang, f"Unknown status {status!r}; use one of: {', '.join(STATUSES)}.",
                                f"未知的状态 {status!r}；请使用：{', '.join(STATUSES)}。")
        status = ""
    done = request.query_params.get("done")
    queued = request.query_params.get("schedule", "")
    labels = {name: pick(lang, en, zh) for name, (en, zh) in STATUS_LABELS.items()}
    administers = state.permissions.allows(actor_of(request), ADMIN_ACTION, m.SYSTEM_RESOURCE)
    return {
        "title": pick(lang, "Jobs and schedules", "任务调度"),
        # Users who hold "jobs" without "administer" see no links to the pages they cannot open.
        "sections": SECTIONS if administers else (),
        "tasks": _task_rows(request, jobs),
        "runs": jobs.log.recent(limit=RUN_LIMIT, status=status or None),
        "status": status,
        "statuses": STATUSES,
        "status_labels": labels,
        "status_badges": STATUS_BADGES,
        "retention_days": jobs.log.retention_days,
        "timezone": str(state.model.app.settings.get("timezone") or "UTC"),
        "errors": errors,
        "notice": pick(lang, f"The schedule {queued} was queued to run now.", f"已将定时任务 {queued} 加入队列，立即运行。")
        if done == "queued" and queued else None,
    }


async def jobs_page(request: Request) -> Response:
    context = _page_context(request)
    return admin_page(request, "admin_jobs.html", context, status=422 if context["errors"] else 200)


async def run_now(request: Request) -> Response:
    """Enqueue a schedule's task at once, audited as the user's request."""
    state = web(request)
    lang = lang_of(request)
    actor = actor_of(request)
    jobs = jobs_of(request)
    name = request.path_params["name"]
    task = jobs.schedules.get(name)
    if task is None:
        known = ", ".join(sorted(jobs.schedules)) or pick(lang, "none", "无")
        message = pick(lang, f"There is no enabled schedule named {name!r}; enabled schedules: {known}.",
                       f"没有名为 {name!r} 的已启用定时任务；已启用的定时任务：{known}。")
        return admin_page(request, "admin_jobs.html", _page_context(request, error=message), status=422)

    # A hook that is not registered still gets its run queued: the job log then shows why it failed.
    schedule = state.model.schedules[name]
    runtime = state.runtime
    with runtime.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
        state.records.audit.append(connection, at=runtime.records.clock(), actor=actor.id, address=actor.address,
                                   action="run_schedule", entity="job", record_id=None,
                                   changes={"schedule": [None, name], "hook": [None, schedule.hook]})
        enqueue_after_commit(connection, task, MANUAL)
    return RedirectResponse("/admin/jobs?" + urlencode({"done": "queued", "schedule": name}), status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/jobs", jobs_only(jobs_page), methods=["GET"]),
        Route("/admin/jobs/{name}/run", jobs_only(run_now), methods=["POST"]),
    ]
