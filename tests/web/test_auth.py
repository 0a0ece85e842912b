"""Sign-in, sessions, CSRF, security headers and the screen language."""

from __future__ import annotations

import time

from tests.web.conftest import PASSWORD, WebApp, csrf_of


def test_pages_redirect_to_sign_in_and_back(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client()

    response = client.get("/records/customer?q=张")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Frecords%2Fcustomer%3Fq%3D%E5%BC%A0"

    page = client.get(response.headers["location"])
    assert 'name="next" value="/records/customer?q=张"' in page.text
    signed_in = client.post("/sign-in", data={"username": "clerk", "password": PASSWORD,
                                              "next": "/records/customer?q=张", "csrf_token": csrf_of(page.text)})
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/records/customer?q=%E5%BC%A0"


def test_sign_in_never_follows_another_host(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client()
    for target in ("https://example.invalid/", "//example.invalid/x", "/\\example.invalid"):
        page = client.get("/sign-in")
        response = client.post("/sign-in", data={"username": "clerk", "password": PASSWORD, "next": target,
                                                  "csrf_token": csrf_of(page.text)})
        assert response.headers["location"] == "/", target
        client.post("/sign-out", data={"csrf_token": csrf_of(client.get("/").text)})


def test_failed_sign_in_message_is_generic(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client()
    answers = []
    for username, password in (("clerk", "wrong-password"), ("nobody", PASSWORD)):
        page = client.get("/sign-in")
        response = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": csrf_of(page.text)})
        assert response.status_code == 400
        answers.append(response.text.split('role="alert">')[1].split("<")[0])
    assert answers[0] == answers[1] == "用户名或密码错误。连续失败 5 次后账号将被暂时锁定。"
    assert 'value="nobody"' in response.text


def test_account_locks_after_repeated_failures(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client()
    for _ in range(5):
        page = client.get("/sign-in")
        client.post("/sign-in", data={"username": "clerk", "password": "wrong", "csrf_token": csrf_of(page.text)})
    page = client.get("/sign-in")
    response = client.post("/sign-in", data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert response.status_code == 400
    assert web_app.state.accounts.sign_in("clerk", PASSWORD).outcome == "locked"


def test_unsafe_request_without_csrf_rejected(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client("clerk")
    refused = client.post("/sign-out")
    assert refused.status_code == 403
    assert "页面已过期" in refused.text
    assert client.post("/sign-out", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/sign-out", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.get("/").status_code == 200

    token = web_app.csrf(client)
    assert client.post("/sign-out", headers={"X-CSRF-Token": token}).status_code == 303
    assert client.get("/").status_code == 303


def test_session_ends_after_idle_timeout(web_app: WebApp, monkeypatch: object) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client("clerk")
    assert client.get("/").status_code == 200

    later = time.time() + 31 * 60
    import ui.web.auth as auth_module

    monkeypatch.setattr(auth_module.time, "time", lambda: later)  # type: ignore[attr-defined]
    response = client.get("/inbox")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Finbox&expired=1"
    assert "会话已过期" in client.get(response.headers["location"]).text

    htmx = client.get("/inbox", headers={"HX-Request": "true"})
    assert htmx.status_code == 204
    assert htmx.headers["HX-Redirect"].startswith("/sign-in?next=")


def test_activity_keeps_session_alive(web_app: WebApp, monkeypatch: object) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client("clerk")
    import ui.web.auth as auth_module

    start = time.time()
    # A request every 20 minutes over an hour keeps a 30-minute session open.
    for minutes in (20, 40, 60):
        monkeypatch.setattr(auth_module.time, "time", lambda: start + minutes * 60)  # type: ignore[attr-defined]
        assert client.get("/inbox").status_code == 200, minutes
    # Requests within a minute of the last write leave the cookie as it is.
    monkeypatch.setattr(auth_module.time, "time", lambda: start + 60 * 60 + 30)  # type: ignore[attr-defined]
    assert "set-cookie" not in client.get("/inbox").headers


def test_password_change_ends_existing_sessions(web_app: WebApp) -> None:
    from runtime.access import SYSTEM_ACTOR

    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client("clerk")
    assert client.get("/").status_code == 200
    web_app.state.accounts.set_password(SYSTEM_ACTOR, "clerk", "Another#2026pw")
    assert client.get("/").status_code == 303


def test_security_headers_and_cookie_flags(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client()
    page = client.get("/sign-in")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_language_choice_is_kept_for_the_user(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    client = web_app.client("clerk")
    home = client.get("/")
    assert "退出登录" in home.text
    assert '<html lang="zh-CN">' in home.text

    client.post("/language", data={"lang": "en", "next": "/", "csrf_token": csrf_of(home.text)})
    assert "Sign out" in client.get("/").text

    again = web_app.client("clerk")
    assert '<html lang="en">' in again.get("/").text
    bad = client.post("/language", data={"lang": "fr", "csrf_token": csrf_of(home.text)})
    assert bad.status_code == 400


def test_sign_in_language_choice_saved(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    web_app.state.accounts.set_language("clerk", "en")

    picked = web_app.client("clerk", lang="zh-CN")
    assert '<html lang="zh-CN">' in picked.get("/").text
    assert '<html lang="zh-CN">' in web_app.client("clerk").get("/").text


def test_leftover_language_yields_to_preference(web_app: WebApp) -> None:
    web_app.add_user("first", ("head_office_viewer",), "head_office")
    web_app.add_user("second", ("head_office_viewer",), "head_office")
    web_app.state.accounts.set_language("first", "en")
    web_app.state.accounts.set_language("second", "zh-CN")
    client = web_app.client("first")
    assert '<html lang="en">' in client.get("/").text
    client.post("/sign-out", data={"csrf_token": csrf_of(client.get("/").text)})

    page = client.get("/sign-in")
    client.post("/sign-in", data={"username": "second", "password": PASSWORD, "next": "/", "csrf_token": csrf_of(page.text)})
    assert '<html lang="zh-CN">' in client.get("/").text


def test_menus_show_only_what_the_user_may_read(web_app: WebApp) -> None:
    web_app.add_user("dealer", ("dealer_staff",), "dealer_bj_yizhuang")
    web_app.add_user("root", ("admin",), "head_office")
    dealer_home = web_app.client("dealer").get("/").text
    admin_home = web_app.client("root").get("/").text
    assert 'href="/records/loan_application"' in dealer_home
    assert 'href="/admin"' not in dealer_home
    assert 'href="/admin"' in admin_home


def test_not_found_page_in_user_language(web_app: WebApp) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    page = web_app.client("clerk").get("/no-such-page")
    assert page.status_code == 404
    assert "页面不存在" in page.text
    assert "Not Found" not in page.text
