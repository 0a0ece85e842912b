"""The dialog of a transition that needs more than a click: its comment, and its required fields saved with the transition."""

from __future__ import annotations

import re
from typing import Any, Callable

from sqlalchemy import select

from runtime.access import SYSTEM_ACTOR, Actor
from tests.conftest import REPOSITORY
from tests.web.conftest import WebApp, csrf_of
from tests.web.forms_support import HTMX

REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"


def requisition_in_it_review(web_app: WebApp, *, stock: int = 5) -> int:
    """Make a keyboard requisition that the small-request rule moves straight to the IT review."""
    records = web_app.runtime.records
    seed = Actor("emma", roles=("system",), org_unit="company")
    employee = records.create(seed, "employee", {"employee_no": "E00009", "name": "Emma", "email": "e9@example.com", "department": "it"})
    item = records.create(seed, "equipment_item", {"code": "KB-001", "name": "键盘", "category": "peripheral", "unit_price": "199",
                                                   "stock": stock})
    requisition = records.create(seed, "requisition", {"requisition_no": "RQ00000009", "requester": employee["id"], "item": item["id"],
                                                       "reason": "键盘坏了需要更换一个"})
    moved = records.transition(seed, "requisition", requisition["id"], "submit", version=requisition["version"])
    assert moved["state"] == "it_review"
    return int(requisition["id"])


def dialog_of(html: str, name: str) -> str:
    found = re.search(rf'<dialog id="dlg-{name}".*?</dialog>', html, re.S)
    assert found is not None, f"no dialog for {name}"
    return found.group(0)


def stored(web_app: WebApp, record_id: int) -> dict[str, Any]:
    return dict(web_app.runtime.records.get(SYSTEM_ACTOR, "requisition", record_id))


def test_dialog_offers_required_fields_and_comment(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app)
    page = web_app.client("ivan").get(f"/records/requisition/{record_id}").text

    fulfil = dialog_of(page, "fulfil")
    assert 'data-dialog="dlg-fulfil"' in page
    assert 'name="asset_tags"' in fulfil
    assert 'name="delivered_on"' in fulfil
    assert 'type="date"' in fulfil
    assert fulfil.count('name="_fields"') == 2
    assert "data-open" not in fulfil
    send_back = dialog_of(page, "send_back")
    assert 'name="comment"' in send_back
    assert 'aria-required="true"' in send_back
    # Without JavaScript the plain form still carries its comment box.
    assert 'class="transition-form has-dialog"' in page


def test_empty_required_fields_write_nothing(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app)
    client = web_app.client("ivan")
    page = client.get(f"/records/requisition/{record_id}").text
    version = stored(web_app, record_id)["version"]

    response = client.post(f"/records/requisition/{record_id}/transitions/fulfil", headers=HTMX, data={
        "csrf_token": csrf_of(page), "_version": str(version), "_fields": ["asset_tags", "delivered_on"],
        "asset_tags": "TAG-0001", "delivered_on": "", "comment": ""})
    assert response.status_code == 422
    fulfil = dialog_of(response.text, "fulfil")
    assert 'data-open="true"' in fulfil
    assert "执行“发放设备”前需填写此项。" in fulfil
    assert 'value="TAG-0001"' in fulfil or ">TAG-0001<" in fulfil
    after = stored(web_app, record_id)
    assert (after["version"], after["asset_tags"], after["state"]) == (version, None, "it_review")


def test_required_fields_saved_then_transition_fires(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app)
    client = web_app.client("ivan")
    page = client.get(f"/records/requisition/{record_id}").text
    version = stored(web_app, record_id)["version"]

    response = client.post(f"/records/requisition/{record_id}/transitions/fulfil", data={
        "csrf_token": csrf_of(page), "_version": str(version), "_fields": ["asset_tags", "delivered_on"],
        "asset_tags": "TAG-0001", "delivered_on": "2026-03-05", "comment": "已发放"})
    assert response.status_code == 303, response.text
    after = stored(web_app, record_id)
    assert (after["state"], after["asset_tags"], str(after["delivered_on"])) == ("done", "TAG-0001", "2026-03-05")
    audit = web_app.runtime.schema.audit
    with web_app.runtime.engine.connect() as connection:
        actions = list(connection.scalars(select(audit.c.action).where(audit.c.entity == "requisition", audit.c.record_id == record_id)
                                          .order_by(audit.c.id)))
    assert actions[-2:] == ["update", "transition:fulfil"]


def test_missing_comment_reopens_the_dialog(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app)
    client = web_app.client("ivan", lang="en")
    page = client.get(f"/records/requisition/{record_id}").text
    version = stored(web_app, record_id)["version"]

    response = client.post(f"/records/requisition/{record_id}/transitions/send_back", headers=HTMX,
                           data={"csrf_token": csrf_of(page), "_version": str(version), "comment": "  "})
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<div id="workflow"')
    send_back = dialog_of(response.text, "send_back")
    assert 'data-open="true"' in send_back
    assert 'aria-invalid="true"' in send_back
    assert "Write a comment for this step." in send_back


def test_next_address_kept_and_only_local(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app)
    client = web_app.client("ivan")
    token = csrf_of(client.get(f"/records/requisition/{record_id}").text)
    version = str(stored(web_app, record_id)["version"])

    # A failed attempt from the inbox shows the record with the dialog open, still going back to the inbox.
    failed = client.post(f"/records/requisition/{record_id}/transitions/send_back",
                         data={"csrf_token": token, "_version": version, "_next": "/inbox?page=2"})
    assert failed.status_code == 422
    assert 'name="_next" value="/inbox?page=2"' in dialog_of(failed.text, "send_back")
    elsewhere = client.post(f"/records/requisition/{record_id}/transitions/send_back",
                            data={"csrf_token": token, "_version": version, "_next": "//example.com/", "comment": "数量不对"})
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"] == f"/records/requisition/{record_id}"


def test_failed_guard_saves_nothing(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app, stock=0)
    client = web_app.client("ivan")
    page = client.get(f"/records/requisition/{record_id}").text
    version = stored(web_app, record_id)["version"]

    response = client.post(f"/records/requisition/{record_id}/transitions/fulfil", headers=HTMX, data={
        "csrf_token": csrf_of(page), "_version": str(version), "_fields": ["asset_tags", "delivered_on"],
        "asset_tags": "TAG-0001", "delivered_on": "2026-03-05"})
    assert response.status_code == 422
    assert "不满足“发放设备”的条件" in response.text
    # The values typed come back in the dialog, and the record is as it was.
    assert '>TAG-0001</textarea>' in response.text
    after = stored(web_app, record_id)
    assert (after["state"], after["asset_tags"], after["version"]) == ("it_review", None, version)


def test_dialog_fields_saved_over_htmx_reload_the_page(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REQUISITION)
    web_app.add_user("ivan", ("it_staff",), "it")
    record_id = requisition_in_it_review(web_app)
    client = web_app.client("ivan")
    page = client.get(f"/records/requisition/{record_id}").text
    version = stored(web_app, record_id)["version"]

    response = client.post(f"/records/requisition/{record_id}/transitions/fulfil", data={
        "csrf_token": csrf_of(page), "_version": str(version), "_fields": ["asset_tags", "delivered_on"],
        "asset_tags": "TAG-0002", "delivered_on": "2026-03-05", "comment": "已发放"}, headers={"HX-Request": "true"})
    # Only the workflow panel would be swapped in; the fields just saved are shown elsewhere on the page.
    assert response.status_code == 200, response.text
    assert response.headers["HX-Redirect"] == f"/records/requisition/{record_id}"
    assert "TAG-0002" in client.get(f"/records/requisition/{record_id}").text
