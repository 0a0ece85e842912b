"""Hooks seen from the screens: a hook's message on the form, a hook-computed field, and an action button."""

from __future__ import annotations

import re
from typing import Callable

import httpx

from runtime.access import SYSTEM_ACTOR
from tests.conftest import REPOSITORY
from tests.web.conftest import WebApp, csrf_of, serving
from tests.web.forms_support import created_id, submit, system_get

HOOKED = REPOSITORY / "tests" / "apps" / "hooked"
_VERSION = re.compile(r'name="_version" value="(\d+)"')


def office(make_web_app: Callable[..., WebApp]) -> WebApp:
    web_app = make_web_app(HOOKED)
    web_app.add_user("clerk", ("clerk",), "company", name="钱经办")
    web_app.add_user("boss", ("supervisor",), "company", name="周主管")
    return web_app


def test_form_shows_hook_message_on_field(make_web_app: Callable[..., WebApp]) -> None:
    web_app = office(make_web_app)
    response = submit(web_app.client("clerk"), "/records/member/new", {"name": "管理员", "points": "10"})
    assert response.status_code == 422
    assert "该姓名为保留名称，请换一个" in response.text
    assert web_app.runtime.records.list(web_app.add_user("viewer", ("clerk",), "company"), "member").rows == []


def test_hook_computes_level_and_writes_welcome(make_web_app: Callable[..., WebApp]) -> None:
    web_app = office(make_web_app)
    member_id = created_id(submit(web_app.client("clerk"), "/records/member/new", {"name": "张三", "points": "2500"}))
    assert system_get(web_app, "member", member_id)["level"] == 3
    welcome = web_app.runtime.records.list(web_app.add_user("viewer", ("clerk",), "company"), "welcome")
    assert [row["text"] for row in welcome.rows] == ["欢迎 张三"]


def test_action_button_only_for_granted_role(make_web_app: Callable[..., WebApp]) -> None:
    web_app = office(make_web_app)
    member_id = created_id(submit(web_app.client("clerk"), "/records/member/new", {"name": "张三"}))
    url = f"/records/member/{member_id}"
    assert f'action="{url}/actions/freeze"' not in web_app.client("clerk").get(url).text

    boss = web_app.client("boss")
    page = boss.get(url).text
    assert f'action="{url}/actions/freeze"' in page
    assert 'data-confirm="确定冻结该会员？"' in page
    version = _VERSION.search(page)
    assert version is not None
    response = boss.post(f"{url}/actions/freeze", data={"csrf_token": csrf_of(page), "_version": version.group(1)},
                         headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    stored = system_get(web_app, "member", member_id)
    assert (stored["frozen"], stored["note"]) == (True, "由 周主管 冻结")
    history = boss.get(f"{url}?tab=history").text
    assert "冻结" in history

    page = boss.get(url).text
    again = boss.post(f"{url}/actions/freeze", data={"csrf_token": csrf_of(page), "_version": str(stored["version"])},
                      headers={"HX-Request": "true"})
    assert again.status_code == 422
    assert "该会员已被冻结" in again.text

    denied = web_app.client("clerk")
    clerk_page = denied.get(url).text
    refused = denied.post(f"{url}/actions/freeze", data={"csrf_token": csrf_of(clerk_page), "_version": str(stored["version"])},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert system_get(web_app, "member", member_id)["version"] == stored["version"]


def test_action_through_api(make_web_app: Callable[..., WebApp]) -> None:
    web_app = office(make_web_app)
    member_id = created_id(submit(web_app.client("clerk"), "/records/member/new", {"name": "李四"}))
    tokens = {user: web_app.state.accounts.create_token(SYSTEM_ACTOR, user, "tests") for user in ("clerk", "boss")}
    with serving(web_app.app) as live, httpx.Client(base_url=live.url, trust_env=False, timeout=30) as client:
        def post(user: str, path: str, body: dict[str, object]) -> httpx.Response:
            return client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[user]}"})

        version = system_get(web_app, "member", member_id)["version"]
        done = post("boss", f"/api/member/{member_id}/actions/freeze", {"version": version, "comment": "核查"})
        assert done.status_code == 200, done.text
        assert done.json()["frozen"] is True
        assert done.headers["ETag"] == f'"{version + 1}"'

        again = post("boss", f"/api/member/{member_id}/actions/freeze", {"version": version + 1})
        assert again.status_code == 422
        assert "该会员已被冻结" in again.text
        assert post("clerk", f"/api/member/{member_id}/actions/freeze", {"version": version + 1}).status_code == 403
        unknown = post("boss", f"/api/member/{member_id}/actions/thaw", {"version": version + 1})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_action"
        document = client.get("/api/openapi.json").json()
        assert "post" in document["paths"][f"/api/member/{{id}}/actions/freeze"]


def test_delete_stopped_by_hook_shows_message(make_web_app: Callable[..., WebApp]) -> None:
    web_app = office(make_web_app)
    member_id = created_id(submit(web_app.client("clerk"), "/records/member/new", {"name": "王五"}))
    # The after_delete hook keeps a member whose note is "keep"; the screen shows its message, not an error page.
    client = web_app.client("boss")
    stored = system_get(web_app, "member", member_id)
    web_app.runtime.records.update(SYSTEM_ACTOR, "member", member_id, {"note": "keep"}, version=stored["version"])
    page = client.get(f"/records/member/{member_id}").text
    version = _VERSION.search(page)
    assert version is not None
    response = client.post(f"/records/member/{member_id}/delete", data={"csrf_token": csrf_of(page), "_version": version.group(1)},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422, response.text
    assert "备注为 keep 的会员不能删除" in response.text
    assert system_get(web_app, "member", member_id)["deleted_at"] is None
