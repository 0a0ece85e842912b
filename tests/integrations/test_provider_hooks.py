"""A hook that calls `context.providers["identity_check"]` while an applicant is saved, from the form and the JSON API."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from integrations import signing
from runtime.access import SYSTEM_ACTOR
from tests.conftest import REPOSITORY
from tests.integrations.conftest import KEY_ID, SECRET, id_number
from tests.integrations.mock_provider import MockProvider, Reply
from tests.web.conftest import WebApp
from tests.web.forms_support import created_id, submit, system_get

HOOKED = REPOSITORY / "tests" / "apps" / "hooked"
MATCH = {"request_id": "idc-1", "result": "match", "reason": None}


def office(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch, url: str | None) -> WebApp:
    if url is None:
        monkeypatch.delenv("METADESK_IDENTITY_CHECK_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("METADESK_IDENTITY_CHECK_BASE_URL", url)
    monkeypatch.setenv("METADESK_IDENTITY_CHECK_KEY_ID", KEY_ID)
    monkeypatch.setenv("METADESK_IDENTITY_CHECK_SECRET", SECRET)
    web_app = make_web_app(HOOKED)
    web_app.add_user("clerk", ("clerk",), "company", name="钱经办")
    return web_app


def applicants(web_app: WebApp) -> list[dict[str, Any]]:
    return [dict(row) for row in web_app.runtime.records.list(SYSTEM_ACTOR, "applicant").rows]


def new_applicant(**changes: str) -> dict[str, str | list[str]]:
    return {"name": "张三", "id_number": id_number(123), "phone": "13800138000", **changes}


def test_save_runs_identity_check(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch,
                                  mock_provider: MockProvider) -> None:
    web_app = office(make_web_app, monkeypatch, mock_provider.url)
    mock_provider.program(Reply(200, MATCH))

    applicant_id = created_id(submit(web_app.client("clerk"), "/records/applicant/new", new_applicant()))

    stored = system_get(web_app, "applicant", applicant_id)
    assert (stored["verified"], stored["check_id"]) == (True, "idc-1")
    assert len(mock_provider.requests) == 1
    request = mock_provider.requests[0]
    assert request.json() == {"name": "张三", "id_number": id_number(123), "phone": "13800138000"}
    signing.verify(request.headers, SECRET, "POST", request.path, request.body)


def test_provider_failure_stops_create(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch,
                                       mock_provider: MockProvider) -> None:
    web_app = office(make_web_app, monkeypatch, mock_provider.url)
    mock_provider.program(Reply(503, {}))

    response = submit(web_app.client("clerk"), "/records/applicant/new", new_applicant())

    assert response.status_code == 422
    assert "实名认证服务返回 HTTP 503，请稍后重试" in response.text
    # The integration's YAML allows one retry.
    assert len(mock_provider.requests) == 2
    assert applicants(web_app) == []


def test_provider_failure_keeps_record(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch,
                                       mock_provider: MockProvider) -> None:
    web_app = office(make_web_app, monkeypatch, mock_provider.url)
    clerk = web_app.client("clerk")
    mock_provider.program(Reply(200, MATCH))
    applicant_id = created_id(submit(clerk, "/records/applicant/new", new_applicant()))
    before = system_get(web_app, "applicant", applicant_id)

    mock_provider.program(Reply(400, {"message": "手机号格式不受支持"}))
    response = submit(clerk, f"/records/applicant/{applicant_id}/edit", {"phone": "13900139000"})

    assert response.status_code == 422
    assert "实名认证服务拒绝了请求（HTTP 400）：手机号格式不受支持" in response.text
    assert len(mock_provider.requests) == 1
    after = system_get(web_app, "applicant", applicant_id)
    assert (after["phone"], after["version"], after["updated_at"]) == (before["phone"], before["version"], before["updated_at"])


def test_provider_timeout_stops_create(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch,
                                       mock_provider: MockProvider) -> None:
    web_app = office(make_web_app, monkeypatch, mock_provider.url)
    # The integration's YAML waits 1 s per attempt.
    mock_provider.program(Reply(200, MATCH, delay_seconds=2.0))

    response = submit(web_app.client("clerk"), "/records/applicant/new", new_applicant())

    assert response.status_code == 422
    assert "实名认证服务响应超时，请稍后重试" in response.text
    assert applicants(web_app) == []


def test_mismatch_shown_on_field(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch,
                                 mock_provider: MockProvider) -> None:
    web_app = office(make_web_app, monkeypatch, mock_provider.url)
    mock_provider.program(Reply(200, {"request_id": "idc-2", "result": "mismatch", "reason": "name_mismatch"}))
    response = submit(web_app.client("clerk"), "/records/applicant/new", new_applicant())
    assert response.status_code == 422
    assert "姓名与身份证号不一致" in response.text
    assert applicants(web_app) == []


def test_provider_not_configured(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch) -> None:
    web_app = office(make_web_app, monkeypatch, None)
    response = submit(web_app.client("clerk"), "/records/applicant/new", new_applicant())
    assert response.status_code == 422
    # The missing variable is the administrator's to set: users read that they should ask one, and the log names it.
    assert "所用的服务尚未配置；请联系管理员" in response.text
    assert "METADESK_IDENTITY_CHECK_BASE_URL" not in response.text
    assert applicants(web_app) == []


def test_api_failure_in_english(make_web_app: Callable[..., WebApp], monkeypatch: pytest.MonkeyPatch,
                                mock_provider: MockProvider) -> None:
    web_app = office(make_web_app, monkeypatch, mock_provider.url)
    token = web_app.state.accounts.create_token(SYSTEM_ACTOR, "clerk", "tests")
    mock_provider.program(Reply(503, {}))
    client = web_app.client()
    response = client.post("/api/applicant", json=new_applicant(),
                           headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert response.status_code == 422, response.text
    messages = [item["message"] for item in response.json()["error"]["fields"]]
    assert messages == ["The identity check service answered HTTP 503; try again later"]
    assert applicants(web_app) == []
