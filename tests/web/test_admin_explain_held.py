"""The explain page on the "system" resource, and for roles held outside the user's own unit."""

from __future__ import annotations

from runtime.access import SYSTEM_ACTOR
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from tests.web.test_admin import AdminClient, error_beside, shown


def test_explain_system_names_the_granting_role(web_app: WebApp) -> None:
    web_app.add_user("dealer", ("dealer_staff",), "dealer_bj_yizhuang")
    english = AdminClient(web_app, lang="en")

    form = english.get("/admin/explain")
    allowed = shown(english.get("/admin/explain?user=root&entity=system&action=administer"))
    denied = shown(english.get("/admin/explain?user=dealer&entity=system&action=audit"))

    assert '<option value="system">System</option>' in form.text
    assert "Allowed: allowed by the matching policy line(s)" in allowed
    assert "allow · Administrator · every unit · all records" in allowed
    assert "held in Head office" in allowed
    assert "None applies: the system has no records." in allowed
    assert "Field rules in force" not in allowed
    assert "Denied: no policy line grants audit on system to the roles dealer_staff" in denied


def test_explain_system_checks_its_input(web_app: WebApp) -> None:
    chinese = AdminClient(web_app)

    with_record = chinese.get("/admin/explain?user=root&entity=system&action=administer&record=3")
    wrong_action = chinese.get("/admin/explain?user=root&entity=system&action=read")
    answer = shown(chinese.get("/admin/explain?user=root&entity=system&action=jobs"))

    assert with_record.status_code == 422
    assert error_beside(with_record.text, "explain-record") == "系统没有记录：请将记录 id 留空。"
    assert wrong_action.status_code == 422
    assert error_beside(wrong_action.text, "explain-action") == "未知的操作 'read'；请使用：administer, audit, jobs, organize"
    assert "允许：由匹配的策略允许" in answer
    assert "不适用：系统没有记录。" in answer


def test_explain_role_held_in_another_branch(web_app: WebApp) -> None:
    admin = web_app.state.admin
    admin.add_user(SYSTEM_ACTOR, "ho.manager", "ho.manager", "Head-office manager", "head_office")
    admin.assign(SYSTEM_ACTOR, "ho.manager", "branch_manager", "beijing_branch")
    seeder = Seeder(web_app.runtime.records)
    head_office = seeder.customer("someone", "head_office")
    beijing = seeder.customer("someone", "beijing_credit")
    english = AdminClient(web_app, lang="en")

    inside = shown(english.get(f"/admin/explain?user=ho.manager&entity=customer&action=read&record={beijing}"))
    outside = shown(english.get(f"/admin/explain?user=ho.manager&entity=customer&action=read&record={head_office}"))

    assert "Allowed: allowed by the matching policy line(s)" in inside
    assert "inherited by Branch manager, held in Beijing branch" in inside
    assert "'beijing_branch', 'beijing_credit'" in inside
    assert "'head_office'" not in inside
    assert f"the grant applies, but record {head_office} lies outside the data scope" in outside
