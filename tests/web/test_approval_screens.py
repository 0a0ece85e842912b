"""The detail page of a record in an approval step: who has signed, who has not, signing and adding an approver."""

from __future__ import annotations

import re
from typing import Callable

from runtime.delegations import Delegations, local_today
from runtime.flows import expire
from tests.conftest import REPOSITORY
from tests.web.conftest import WebApp, csrf_of

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"
_VERSION = re.compile(r'name="_version" value="(\d+)"')


def version_of(html: str) -> str:
    found = _VERSION.search(html)
    assert found is not None, "the page carries no record version"
    return found.group(1)


def countersign_app(make_web_app: Callable[..., WebApp]) -> tuple[WebApp, int]:
    web_app = make_web_app(APPROVALS)
    clerk = web_app.add_user("qian", ("clerk",), "east", name="钱经办")
    for user, name in (("m1", "委员一"), ("m2", "委员二"), ("m3", "委员三")):
        web_app.add_user(user, ("member",), "company", name=name)
    web_app.add_user("chen", ("director",), "company", name="陈总监")
    records = web_app.state.records
    draft = records.create(clerk, "expense", {"title": "年会场地", "amount": "30000", "procedure": "all"})
    records.transition(clerk, "expense", draft["id"], "submit", version=draft["version"])
    return web_app, int(draft["id"])


def test_progress_shows_signed_and_waiting(make_web_app: Callable[..., WebApp]) -> None:
    web_app, record_id = countersign_app(make_web_app)
    client = web_app.client("m1")
    page = client.get(f"/records/expense/{record_id}")
    assert page.status_code == 200
    assert "已签 0 / 3" in page.text
    assert "待签: 委员一、委员二、委员三" in page.text

    response = client.post(f"/records/expense/{record_id}/transitions/approve",
                           data={"csrf_token": csrf_of(page.text), "_version": version_of(page.text), "comment": "同意"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    assert "已签 1 / 3" in response.text
    assert "待签: 委员二、委员三" in response.text
    assert "同意" in response.text


def test_add_approver_from_detail_page(make_web_app: Callable[..., WebApp]) -> None:
    web_app, record_id = countersign_app(make_web_app)
    client = web_app.client("m2")
    page = client.get(f"/records/expense/{record_id}")
    assert 'name="approver"' in page.text

    response = client.post(f"/records/expense/{record_id}/approvals/approve/approvers",
                           data={"csrf_token": csrf_of(page.text), "_version": version_of(page.text), "approver": "chen"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text
    assert "已签 0 / 4" in response.text
    assert "陈总监" in response.text

    unknown = client.post(f"/records/expense/{record_id}/approvals/approve/approvers",
                          data={"csrf_token": csrf_of(page.text), "_version": version_of(response.text), "approver": "nobody"},
                          headers={"HX-Request": "true"})
    assert unknown.status_code == 422
    assert "加签人: 没有启用的用户 &#39;nobody&#39;，请选择其他审批人" in unknown.text


def test_clerk_sees_no_add_approver_form(make_web_app: Callable[..., WebApp]) -> None:
    web_app, record_id = countersign_app(make_web_app)
    page = web_app.client("qian").get(f"/records/expense/{record_id}")
    assert page.status_code == 200
    assert "已签 0 / 3" in page.text
    assert 'name="approver"' not in page.text


def test_history_names_signer_and_delegator(make_web_app: Callable[..., WebApp]) -> None:
    web_app, record_id = countersign_app(make_web_app)
    web_app.add_user("deputy", (), "company", name="代理人")
    records = web_app.state.records
    member = web_app.state.accounts.actor(web_app.state.accounts.user("m1") or {})
    # The application's own day, which in China starts eight hours before UTC's.
    today = local_today(records)
    Delegations(records).create(member, "m1", "deputy", today, today)
    deputy = web_app.state.accounts.actor(web_app.state.accounts.user("deputy") or {})
    record = records.get(member, "expense", record_id)
    records.transition(deputy, "expense", record_id, "approve", version=record["version"], comment="代为签署")

    page = web_app.client("m1").get(f"/records/expense/{record_id}?tab=history")
    assert page.status_code == 200
    assert "签署“同意”" in page.text
    assert "<td>代办对象</td><td></td><td>委员一</td>" in page.text
    assert "<td>签署进度</td><td></td><td>1/3</td>" in page.text
    assert "代理人" in page.text
    assert "委员一（代签人 代理人）" in web_app.client("m1").get(f"/records/expense/{record_id}").text
    assert "委员一 (signed by 代理人)" in web_app.client("m1", lang="en").get(f"/records/expense/{record_id}").text


def test_approve_offered_only_to_who_may_still_sign(make_web_app: Callable[..., WebApp]) -> None:
    web_app, record_id = countersign_app(make_web_app)
    records = web_app.state.records
    member = web_app.state.accounts.actor(web_app.state.accounts.user("m1") or {})
    record = records.get(member, "expense", record_id)
    records.transition(member, "expense", record_id, "approve", version=record["version"])

    signed = web_app.client("m1").get(f"/records/expense/{record_id}")
    assert "已签 1 / 3" in signed.text
    assert "/transitions/approve" not in signed.text
    waiting = web_app.client("m2").get(f"/records/expense/{record_id}")
    assert "/transitions/approve" in waiting.text
    # The clerk submitted it: after a signature there is nothing left to withdraw.
    assert "/transitions/withdraw" not in web_app.client("qian").get(f"/records/expense/{record_id}").text


def test_unreachable_quorum_is_shown(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(APPROVALS)
    clerk = web_app.add_user("qian", ("clerk",), "east", name="钱经办")
    web_app.add_user("m1", ("member",), "company", name="委员一")
    records = web_app.state.records
    draft = records.create(clerk, "expense", {"title": "年会场地", "amount": "30000", "procedure": "quorum"})
    records.transition(clerk, "expense", draft["id"], "submit", version=draft["version"])

    page = web_app.client("m1").get(f"/records/expense/{draft['id']}")
    assert "已签 0 / 2" in page.text
    assert "本级需要 2 人签署，但只有 1 人有权签署。" in page.text
    english = web_app.client("m1", lang="en").get(f"/records/expense/{draft['id']}")
    assert "This level needs 2 signatures but only 1 approver(s) may sign it." in english.text


def test_history_marks_expiry_by_the_system(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(APPROVALS)
    clerk = web_app.add_user("qian", ("clerk",), "east", name="钱经办")
    records = web_app.state.records
    draft = records.create(clerk, "expense", {"title": "年会场地", "amount": "800", "procedure": "single"})
    records.transition(clerk, "expense", draft["id"], "submit", version=draft["version"])
    entity = web_app.state.model.entities["expense"]
    with records._write() as connection:
        assert expire(records, connection, entity, int(draft["id"]), "reject", records.clock())

    page = web_app.client("qian").get(f"/records/expense/{draft['id']}?tab=history")
    assert "<td>时限</td><td></td><td>已到期</td>" in page.text
    assert "系统" in page.text
    english = web_app.client("qian", lang="en").get(f"/records/expense/{draft['id']}?tab=history")
    assert "<td>Time limit</td><td></td><td>ran out</td>" in english.text
    assert "the system" in english.text
