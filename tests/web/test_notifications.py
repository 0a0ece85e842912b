"""Notifications on the home page: an SLA reminder shown in the user's language, linked to its record, and marked read."""

from __future__ import annotations

import datetime
from typing import Callable

from runtime.flow_sweep import sweep
from tests.conftest import REPOSITORY
from tests.web.conftest import WebApp, csrf_of

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"


def reminded_app(make_web_app: Callable[..., WebApp]) -> tuple[WebApp, int]:
    """Return the expense app with a claim whose approval reminder the manager has been sent."""
    web_app = make_web_app(APPROVALS)
    clerk = web_app.add_user("qian", ("clerk",), "east", name="钱经办")
    web_app.add_user("li", ("manager",), "east", name="李经理")
    records = web_app.state.records
    draft = records.create(clerk, "expense", {"title": "培训费", "amount": "1200", "procedure": "single"})
    records.transition(clerk, "expense", draft["id"], "submit", version=draft["version"])
    records.clock = lambda: datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=21)
    assert sweep(records).reminders == 1
    return web_app, int(draft["id"])


def test_reminder_shown_with_record_link(make_web_app: Callable[..., WebApp]) -> None:
    web_app, record_id = reminded_app(make_web_app)
    page = web_app.client("li").get("/")
    assert page.status_code == 200
    assert f'<a href="/records/expense/{record_id}">提醒：费用申请 {record_id} 的“同意”须在' in page.text

    english = web_app.client("li", lang="en").get("/")
    assert f"Reminder: “Approve” on Expense claim {record_id} is due by" in english.text


def test_reminder_marked_read(make_web_app: Callable[..., WebApp]) -> None:
    web_app, _ = reminded_app(make_web_app)
    client = web_app.client("li")
    page = client.get("/")
    response = client.post("/notifications/read", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert "没有新通知。" in client.get("/").text


def test_others_see_no_reminder(make_web_app: Callable[..., WebApp]) -> None:
    web_app, _ = reminded_app(make_web_app)
    page = web_app.client("qian").get("/")
    assert "没有新通知。" in page.text
