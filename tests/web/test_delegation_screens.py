"""The delegation pages: a user's own, and any user's from the admin users page; errors beside their fields.

The tests of the input checks post through uvicorn on a free port of 127.0.0.1. Today is
2026-12-02 in the app's time zone.
"""

from __future__ import annotations

import html as html_text
import re
from typing import Any, Callable, Iterator

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.conftest import REPOSITORY
from tests.runtime.test_approvals import Clock
from tests.web.conftest import PASSWORD, WebApp, csrf_of, serving

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"
_ERROR = re.compile(r'<div class="error" id="delegation-(\w+)-error" aria-live="polite">(.*?)</div>\n', re.S)


_CLIENTS: dict[tuple[int, str, str | None], TestClient] = {}


def client_of(web_app: WebApp, user: str, lang: str | None = None) -> TestClient:
    """Return one signed-in client per app, user and language, so that pages and posts share a session."""
    key = (id(web_app), user, lang)
    if key not in _CLIENTS:
        _CLIENTS[key] = web_app.client(user, lang=lang)
    return _CLIENTS[key]


def expense_office(make_web_app: Callable[..., WebApp]) -> WebApp:
    _CLIENTS.clear()
    web_app = make_web_app(APPROVALS)
    web_app.state.records.clock = Clock()
    web_app.add_user("m2", ("member",), "company", name="委员二")
    web_app.add_user("deputy", (), "company", name="代办人")
    web_app.add_user("root", ("admin",), "company", name="管理员")
    return web_app


def field_errors(html: str) -> dict[str, str]:
    """Return the messages shown beside each field of the delegation form."""
    return {name: html_text.unescape(re.sub(r"<[^>]+>", " ", body).strip()) for name, body in _ERROR.findall(html) if body.strip()}


def post(web_app: WebApp, user: str, path: str, data: dict[str, str], lang: str | None = None) -> tuple[str, Any]:
    client = client_of(web_app, user, lang)
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text, client.post(path, data={"csrf_token": csrf_of(page.text), **data})


def audit_actions(web_app: WebApp) -> list[str]:
    audit = web_app.runtime.schema.audit
    with web_app.runtime.engine.connect() as connection:
        return list(connection.scalars(select(audit.c.action).where(audit.c.entity == "delegation").order_by(audit.c.id)))


def test_give_list_and_revoke_my_delegation(make_web_app: Callable[..., WebApp]) -> None:
    web_app = expense_office(make_web_app)
    page, response = post(web_app, "m2", "/delegations", {"delegate": "deputy", "role": "member", "starts_on": "2026-12-01",
                                                          "ends_on": "2026-12-09", "reason": "出差"})
    assert "<h1>我的委托</h1>" in page
    assert '<option value="member">委员</option>' in page
    assert 'value="2026-12-02"' in page, "the dates start at today"
    assert response.status_code == 303
    assert response.headers["location"] == "/delegations?done=created"

    client = client_of(web_app, "m2")
    mine = client.get("/delegations?done=created").text
    assert "委托已保存。" in mine
    given = mine.split("我委托给他人的")[1].split("他人委托给我的")[0]
    assert "代办人 (deputy)" in given
    assert "<td>委员</td>" in given
    assert "出差" in given
    assert "进行中" in given
    revoke = re.search(r'action="(/delegations/\d+/revoke)"', given)
    assert revoke is not None

    deputy_page = client_of(web_app, "deputy").get("/delegations").text
    received = deputy_page.split("他人委托给我的")[1]
    assert "委员二 (m2)" in received
    assert "/revoke" not in received, "only whoever gave a delegation revokes it"
    denied = client_of(web_app, "deputy").post(revoke.group(1), data={"csrf_token": csrf_of(deputy_page)})
    assert denied.status_code == 403

    revoked = client.post(revoke.group(1), data={"csrf_token": csrf_of(mine)})
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/delegations?done=revoked"
    after = client.get("/delegations?done=revoked").text
    assert "委托已撤销。" in after
    assert "没有委托给他人的事项。" in after
    assert audit_actions(web_app) == ["delegate", "revoke_delegation"]


def test_errors_beside_each_field_in_the_user_language(make_web_app: Callable[..., WebApp]) -> None:
    web_app = expense_office(make_web_app)
    _, missing = post(web_app, "m2", "/delegations", {"delegate": "", "starts_on": "", "ends_on": "12/09/2026"})
    assert missing.status_code == 422
    assert field_errors(missing.text) == {
        "delegate": "请填写代办人的用户编号或登录名。", "starts_on": "请选择开始日期。",
        "ends_on": "请按 2026-12-01 的格式填写结束日期，而不是 '12/09/2026'。",
    }
    assert 'value="12/09/2026"' in missing.text, "what was typed comes back"

    _, several = post(web_app, "m2", "/delegations", {"delegate": "", "starts_on": "2026-12-09", "ends_on": "2026-12-05"})
    assert several.status_code == 422
    assert field_errors(several.text) == {"delegate": "请填写代办人的用户编号或登录名。", "ends_on": "结束日期早于开始日期，请选择更晚的结束日期。"}

    _, wrong = post(web_app, "m2", "/delegations", {"delegate": "m2", "role": "manager", "starts_on": "2026-12-09",
                                                    "ends_on": "2026-12-05", "reason": "年假"})
    assert wrong.status_code == 422
    assert field_errors(wrong.text) == {
        "delegate": "不能委托给本人，请选择其他用户。", "role": "委员二 没有“经理”角色，请从“委员”中选择。",
        "ends_on": "结束日期早于开始日期，请选择更晚的结束日期。",
    }
    assert ">年假</textarea>" in wrong.text

    _, english = post(web_app, "m2", "/delegations", {"delegate": "nobody", "starts_on": "2026-12-01", "ends_on": "2026-12-02"},
                      lang="en")
    assert english.status_code == 422
    assert field_errors(english.text) == {"delegate": "No active user 'nobody'."}
    assert "<h1>My delegations</h1>" in english.text
    assert audit_actions(web_app) == []


def test_admin_delegates_for_any_user(make_web_app: Callable[..., WebApp]) -> None:
    web_app = expense_office(make_web_app)
    user_page = client_of(web_app, "root").get("/admin/users/m2").text
    assert 'href="/admin/users/m2/delegations"' in user_page

    page, response = post(web_app, "root", "/admin/users/m2/delegations", {"delegate": "deputy", "starts_on": "2026-12-01",
                                                                           "ends_on": "2026-12-03"})
    assert "委员二 的委托" in page
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users/m2/delegations?done=created"
    listed = client_of(web_app, "root").get("/admin/users/m2/delegations").text
    given = listed.split("委托给他人的")[1]
    assert "代办人 (deputy)" in given
    assert "全部角色" in given
    assert "委员二 (m2)" in client_of(web_app, "deputy").get("/delegations").text

    revoke = re.search(r'action="(/admin/users/m2/delegations/\d+/revoke)"', listed)
    assert revoke is not None
    assert client_of(web_app, "root").post(revoke.group(1), data={"csrf_token": csrf_of(listed)}).status_code == 303
    assert "没有他人委托的事项。" in client_of(web_app, "deputy").get("/delegations").text

    # Others may not open another user's delegations.
    assert client_of(web_app, "m2").get("/admin/users/deputy/delegations").status_code == 403
    assert client_of(web_app, "root").get("/admin/users/nobody/delegations").status_code == 404


def test_menu_lists_delegations_after_the_inbox(web_app: WebApp) -> None:
    web_app.add_user("clerk1", ("dealer_staff",), "dealer_bj_yizhuang")
    page = web_app.client("clerk1").get("/delegations").text
    links = re.findall(r'<a href="(/[^"]*)"(?: class="active" aria-current="page")?>', page.split('<nav class="sidebar"')[1])
    assert links[links.index("/inbox") + 1] == "/delegations"
    assert '<a href="/delegations" class="active" aria-current="page">我的委托</a>' in page


# Input checks, through a real HTTP server ----------------------------------------------------


class Served:
    """The expense app under uvicorn on 127.0.0.1, with one signed-in HTTP client per user and language."""

    def __init__(self, web_app: WebApp, url: str) -> None:
        self.web_app = web_app
        self.url = url
        self.clients: dict[tuple[str, str | None], httpx.Client] = {}

    def client(self, user: str, lang: str | None = None) -> httpx.Client:
        if (user, lang) in self.clients:
            return self.clients[(user, lang)]
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)
        if lang:
            page = client.get("/sign-in")
            client.post("/language", data={"lang": lang, "csrf_token": csrf_of(page.text), "next": "/sign-in"})
        page = client.get("/sign-in")
        signed_in = client.post("/sign-in", data={"username": user, "password": PASSWORD, "next": "/",
                                                  "csrf_token": csrf_of(page.text)})
        assert signed_in.status_code == 303, signed_in.text
        self.clients[(user, lang)] = client
        return client

    def post(self, user: str, path: str, data: dict[str, str], lang: str | None = None) -> httpx.Response:
        client = self.client(user, lang)
        page = client.get(path)
        assert page.status_code == 200, page.text
        return client.post(path, data={"csrf_token": csrf_of(page.text), **data})

    def stored(self) -> int:
        table = self.web_app.runtime.schema.flows.delegations
        with self.web_app.runtime.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def served(make_web_app: Callable[..., WebApp]) -> Iterator[Served]:
    web_app = expense_office(make_web_app)
    with serving(web_app.app) as live:
        result = Served(web_app, live.url)
        try:
            yield result
        finally:
            for client in result.clients.values():
                client.close()


def test_past_last_day_rejected(served: Served) -> None:
    response = served.post("m2", "/delegations", {"delegate": "deputy", "starts_on": "2026-11-20", "ends_on": "2026-12-01"})
    assert response.status_code == 422
    assert field_errors(response.text) == {"ends_on": "结束日期 2026-12-01 已经过去，请选择今天（2026-12-02）或之后的日期。"}
    assert 'value="2026-12-01"' in response.text, "what was typed comes back"

    english = served.post("m2", "/delegations", {"delegate": "deputy", "starts_on": "2026-11-20", "ends_on": "2026-12-01"},
                          lang="en")
    assert english.status_code == 422
    assert field_errors(english.text) == {"ends_on": "The last day 2026-12-01 is in the past. Choose today (2026-12-02) or a later day."}
    assert served.stored() == 0
    assert audit_actions(served.web_app) == []


def test_overlapping_delegation_rejected(served: Served) -> None:
    first = served.post("m2", "/delegations", {"delegate": "deputy", "role": "member", "starts_on": "2026-12-01",
                                               "ends_on": "2026-12-09"})
    assert first.status_code == 303

    again = served.post("m2", "/delegations", {"delegate": "deputy", "role": "member", "starts_on": "2026-12-05",
                                               "ends_on": "2026-12-12"})
    assert again.status_code == 422
    assert field_errors(again.text) == {"role": (
        "所选日期与 2026-12-01 至 2026-12-09 委托给 代办人 (deputy) 的“委员”角色委托重叠，同一角色同一时间只能有一位代办人。"
        "请选择该期间以外的日期，或先撤销该委托。")}

    # An administrator delegating for m2 to someone else meets the same rule, in English.
    other = served.post("root", "/admin/users/m2/delegations", {"delegate": "root", "starts_on": "2026-12-09", "ends_on": "2026-12-10"},
                        lang="en")
    assert other.status_code == 422
    assert field_errors(other.text) == {"role": (
        'These days overlap the delegation of the role "Committee member" to 代办人 (deputy) from 2026-12-01 to 2026-12-09, '
        "and a role has one acting user at a time. Choose days outside that range or revoke that delegation first.")}

    after = served.post("m2", "/delegations", {"delegate": "root", "role": "member", "starts_on": "2026-12-10",
                                               "ends_on": "2026-12-12"})
    assert after.status_code == 303
    assert served.stored() == 2
    assert audit_actions(served.web_app) == ["delegate", "delegate"]


def test_range_over_one_year_rejected(served: Served) -> None:
    decades = served.post("m2", "/delegations", {"delegate": "deputy", "starts_on": "2026-12-02", "ends_on": "2060-01-01"})
    assert decades.status_code == 422
    assert field_errors(decades.text) == {"ends_on": "委托期限最长 1 年，请选择 2027-12-01 或之前的结束日期。"}

    far = served.post("m2", "/delegations", {"delegate": "deputy", "starts_on": "9999-01-01", "ends_on": "9999-12-31"}, lang="en")
    assert far.status_code == 422
    assert field_errors(far.text) == {
        "starts_on": "The first day 9999-01-01 is more than 1 year ahead. Choose a first day on or before 2027-12-02."}
    assert served.stored() == 0


def test_long_reason_rejected(served: Served) -> None:
    page = served.client("m2").get("/delegations").text
    assert 'maxlength="500"' in page
    assert "最多 500 个字符。" in page

    reason = "出差" * 251
    response = served.post("m2", "/delegations", {"delegate": "deputy", "starts_on": "2026-12-02", "ends_on": "2026-12-03",
                                                  "reason": reason})
    assert response.status_code == 422
    assert field_errors(response.text) == {"reason": "委托原因有 502 个字符，超过上限 500 个，请缩短。"}
    assert f">{reason}</textarea>" in response.text
    assert served.stored() == 0

    accepted = served.post("m2", "/delegations", {"delegate": "deputy", "starts_on": "2026-12-02", "ends_on": "2026-12-03",
                                                  "reason": reason[:500]})
    assert accepted.status_code == 303
    assert served.stored() == 1


def test_role_not_held_shown_by_label(served: Served) -> None:
    english = served.post("m2", "/delegations", {"delegate": "deputy", "role": "manager", "starts_on": "2026-12-02",
                                                 "ends_on": "2026-12-03"}, lang="en")
    assert english.status_code == 422
    assert field_errors(english.text) == {"role": '委员二 does not hold the role "Manager". Choose one of: "Committee member".'}
    assert "manager" not in field_errors(english.text)["role"]
    assert served.stored() == 0
