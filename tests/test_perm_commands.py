"""`metadesk perm explain|users|add-user|assign` as an operator runs them, on a copy of the requisition app.

Each test gets its own data folder and database (SQLite, or a PostgreSQL database created for
the test when METADESK_DATABASE_URL names a server), through the `place` fixture of the
runtime command tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from runtime.access import Actor
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from tests.test_runtime_commands import REQUISITION, Place, place  # noqa: F401  (place is a fixture)

ROOT = Actor(id="root", roles=("system",))
CHINESE = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "METADESK_LANG": ""}


@pytest.fixture
def app(place: Place, tmp_path: Path) -> Path:
    """A migrated copy of the requisition app with two employees: one in platform_team, one in sales."""
    copied = tmp_path / "requisition"
    shutil.copytree(REQUISITION, copied)
    runtime = place.open(copied)
    try:
        migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
        for number, (creator, unit) in enumerate([("wang", "platform_team"), ("zhao", "sales")], start=1):
            actor = Actor(id=creator, roles=("system",), org_unit=unit)
            runtime.records.create(
                actor, "employee", {"employee_no": f"E0000{number}", "name": f"员工{number}", "email": f"e{number}@example.com", "department": "it"}
            )
    finally:
        runtime.close()
    return copied


def employee_id(place: Place, app: Path, number: str) -> int:
    runtime = place.open(app)
    try:
        table = runtime.schema.entities["employee"].table
        with runtime.engine.connect() as connection:
            return int(connection.scalar(select(table.c.id).where(table.c.employee_no == number)) or 0)
    finally:
        runtime.close()


def add_people(place: Place, app: Path) -> None:
    """Add wang, staff in platform_team, and li, manager in engineering (the parent of platform_team).

    Added in process: the commands that add users and assign roles have tests of their own.
    """
    runtime = place.open(app)
    try:
        admin = PermissionAdmin(PermissionStore(runtime.model, runtime.schema, runtime.engine))
        admin.add_user(ROOT, "wang", "wang.fang", "王芳", "platform_team")
        admin.assign(ROOT, "wang", "staff", "platform_team")
        admin.add_user(ROOT, "li", "li.na", "李娜", "engineering")
        admin.assign(ROOT, "li", "manager", "engineering")
    finally:
        runtime.close()


def test_add_user_assign_and_list(place: Place, app: Path) -> None:
    added = place.run("perm", "add-user", str(app), "wang", "wang.fang", "王芳", "platform_team", env=CHINESE)
    assigned = place.run("perm", "assign", str(app), "wang", "staff", "platform_team", "--lang", "en")

    assert added.returncode == 0, added.stdout + added.stderr
    assert added.stdout.strip() == "已添加用户 wang，所属 platform_team (平台组)。"
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    assert "wang now holds staff (Staff) in platform_team (Platform team)" in assigned.stdout

    listed = place.run("perm", "users", str(app), "--lang", "en")

    assert listed.returncode == 0
    assert listed.stdout.splitlines() == ["1 user(s):", "  wang  wang.fang  王芳  platform_team (Platform team)  staff@platform_team"]
    runtime = place.open(app)
    try:
        audit = runtime.schema.audit
        with runtime.engine.connect() as connection:
            entries = connection.execute(select(audit.c.actor, audit.c.action).where(audit.c.entity == "permissions")).all()
    finally:
        runtime.close()
    assert sorted(entries) == [("cli", "add_user"), ("cli", "assign_role")]


def test_admin_commands_reject_bad_input(place: Place, app: Path) -> None:
    add_people(place, app)

    unit = place.run("perm", "add-user", str(app), "zhou", "zhou", "周", "marketing", "--lang", "en")
    twice = place.run("perm", "add-user", str(app), "wang", "other", "另一个", "sales", "--lang", "en")
    role = place.run("perm", "assign", str(app), "wang", "staf", "sales", "--lang", "en")
    user = place.run("perm", "assign", str(app), "nobody", "staff", "sales", "--lang", "en")
    repeated = place.run("perm", "assign", str(app), "wang", "staff", "platform_team")

    assert [item.returncode for item in (unit, twice, role, user, repeated)] == [1, 1, 1, 1, 1]
    assert unit.stdout.strip() == "unknown org unit 'marketing'; use one of: company, engineering, it, platform_team, sales"
    assert twice.stdout.strip() == "the user id 'wang' is already used; choose another name"
    assert role.stdout.strip() == "unknown role 'staf'; use one of: admin, department_head, it_lead, it_staff, manager, staff"
    assert user.stdout.strip() == "unknown user 'nobody'; use one of: li, wang"
    assert "未做任何更改" in repeated.stdout
    assert all("Traceback" not in item.stderr for item in (unit, twice, role, user, repeated))
    listed = place.run("perm", "users", str(app), "--lang", "en")
    assert listed.stdout.count("\n") == 3


def test_explain_record_in_and_out_of_scope(place: Place, app: Path) -> None:
    add_people(place, app)
    own_unit, other_unit = employee_id(place, app, "E00001"), employee_id(place, app, "E00002")

    inside = place.run("perm", "explain", str(app), "wang", "read", "employee", str(own_unit), "--lang", "en")
    outside = place.run("perm", "explain", str(app), "wang", "read", "employee", str(other_unit), "--lang", "en")

    assert inside.returncode == 0, inside.stdout + inside.stderr
    assert inside.stdout.splitlines() == [
        "User: wang (王芳)",
        "Unit: platform_team (Platform team)",
        "Role assignments:",
        "  - staff (Staff) in platform_team (Platform team)",
        "Roles held, inherited ones included (each in force where it is held and below): staff",
        f"Question: may wang read employee #{own_unit}?",
        "Granting policy lines:",
        "  - allow read employee to staff, scope unit, in every unit [origin: YAML]",
        "Held through (each data scope is computed from the unit where the role is held):",
        "  - staff, scope unit, held in platform_team (Platform team)",
        "Deny lines:",
        "  (none)",
        "Data scope (SQL): employee.org_unit = 'platform_team'",
        f"Record {own_unit} in scope: yes",
        "Verdict: ALLOWED: allowed by the matching policy line(s)",
    ]
    assert outside.returncode == 0
    assert f"Record {other_unit} in scope: no" in outside.stdout
    assert f"Verdict: DENIED: the grant applies, but record {other_unit} lies outside the data scope" in outside.stdout


def test_explain_inherited_roles_and_subtree(place: Place, app: Path) -> None:
    add_people(place, app)

    answer = place.run("perm", "explain", str(app), "li", "read", "employee", "--lang", "en")

    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "Roles held, inherited ones included (each in force where it is held and below): manager, staff" in answer.stdout
    assert "  - staff, scope unit, inherited by manager held in engineering (Engineering)" in answer.stdout
    assert "  - allow read employee to staff, scope unit, in every unit [origin: YAML]" in answer.stdout
    assert "  - allow read employee to manager, scope unit_and_below, in every unit [origin: YAML]" in answer.stdout
    scope = next(line for line in answer.stdout.splitlines() if line.startswith("Data scope (SQL): "))
    assert "employee.org_unit = 'engineering'" in scope
    assert "IN ('engineering', 'platform_team')" in scope
    assert answer.stdout.rstrip().endswith("Verdict: ALLOWED: allowed by the matching policy line(s)")


def test_explain_shows_admin_deny_line(place: Place, app: Path) -> None:
    add_people(place, app)
    runtime = place.open(app)
    try:
        store = PermissionStore(runtime.model, runtime.schema, runtime.engine)
        PermissionAdmin(store).grant(ROOT, "staff", "employee", "read", unit="engineering", effect="deny")
    finally:
        runtime.close()

    denied = place.run("perm", "explain", str(app), "wang", "read", "employee", "--lang", "en")
    chinese = place.run("perm", "explain", str(app), "wang", "read", "employee", env=CHINESE)

    assert denied.returncode == 0, denied.stdout + denied.stderr
    lines = denied.stdout.splitlines()
    assert lines[lines.index("Deny lines:") + 1] == (
        "  - deny read employee to staff, scope all, in engineering (Engineering) [origin: admin]"
    )
    assert "Data scope: none (the action is not allowed)" in lines
    assert lines[-1] == "Verdict: DENIED: a deny line overrides the grants"
    assert "  - 拒绝 staff 对 employee 执行 read，数据范围 all，适用于 engineering (研发部) [来源：管理员]" in chinese.stdout
    assert chinese.stdout.rstrip().endswith("结论：拒绝：存在拒绝策略，覆盖了授权")


def test_explain_no_grant_in_chinese(place: Place, app: Path) -> None:
    add_people(place, app)

    answer = place.run("perm", "explain", str(app), "wang", "delete", "requisition", env=CHINESE)

    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert answer.stdout.splitlines()[0] == "用户：wang（王芳）"
    assert "授权策略：\n  （无）\n拒绝策略：\n  （无）\n" in answer.stdout
    assert "数据范围：无（该操作不被允许）" in answer.stdout
    assert answer.stdout.rstrip().endswith("结论：拒绝：没有策略把 requisition 的 delete 授予角色 staff")


def test_explain_filter_scope_and_transition(place: Place, app: Path) -> None:
    add_people(place, app)

    items = place.run("perm", "explain", str(app), "wang", "read", "equipment_item", "--lang", "en")
    submit = place.run("perm", "explain", str(app), "wang", "submit", "requisition", "--lang", "en")

    assert "  - allow read equipment_item to staff, scope filter: active, in every unit [origin: YAML]" in items.stdout
    assert "Data scope (SQL): equipment_item.active" in items.stdout
    assert "Data scope (SQL): requisition.created_by = 'wang'" in submit.stdout
    assert submit.stdout.rstrip().endswith("Verdict: ALLOWED: allowed by the matching policy line(s)")


def test_explain_lists_valid_names(place: Place, app: Path) -> None:
    add_people(place, app)

    user = place.run("perm", "explain", str(app), "wong", "read", "employee", "--lang", "en")
    entity = place.run("perm", "explain", str(app), "wang", "read", "employe", "--lang", "en")
    action = place.run("perm", "explain", str(app), "wang", "approve", "requisition", "--lang", "en")
    chinese = place.run("perm", "explain", str(app), "wang", "read", "employe", env=CHINESE)

    assert [item.returncode for item in (user, entity, action, chinese)] == [1, 1, 1, 1]
    assert user.stdout.strip() == "unknown user 'wong'; use one of: li, wang"
    assert entity.stdout.strip() == "unknown entity 'employe'; use one of: employee, equipment_item, requisition, system"
    assert action.stdout.startswith("unknown action 'approve'; use one of: read, create, update, delete, export, import, print, submit,")
    assert "manager_approve" in action.stdout
    assert chinese.stdout.strip() == "未知的实体 'employe'；请使用：employee, equipment_item, requisition, system"
    assert all("Traceback" not in item.stderr for item in (user, entity, action, chinese))


def test_perm_needs_migrated_tables(place: Place, tmp_path: Path) -> None:
    answer = place.run("perm", "users", str(REQUISITION), "--lang", "en")

    assert answer.returncode == 1
    assert "metadesk migrate" in answer.stdout
    assert "Traceback" not in answer.stderr


def test_password_set_from_input_and_generated(place: Place, app: Path) -> None:
    add_people(place, app)
    weak = place.run("perm", "password", str(app), "wang", "--lang", "en", stdin="abc\n")
    assert weak.returncode == 1
    assert weak.stdout.strip() != ""
    unknown = place.run("perm", "password", str(app), "nobody", "--lang", "en", stdin="Abcdef12!x\n")
    assert unknown.returncode == 1
    assert "nobody" in unknown.stdout

    typed = place.run("perm", "password", str(app), "wang.fang", "--lang", "en", stdin="Ping-Pong-2026!\n")
    assert typed.returncode == 0, typed.stdout + typed.stderr
    assert typed.stdout.strip() == "The password of wang.fang is set; its other sessions have ended."
    generated = place.run("perm", "password", str(app), "li", "--generate", env=CHINESE)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    password = generated.stdout.strip().split("：", 1)[1]

    runtime = place.open(app)
    try:
        accounts = runtime.accounts()
        assert accounts.sign_in("wang.fang", "Ping-Pong-2026!").user_id == "wang"
        assert accounts.sign_in("li.na", password).user_id == "li"
    finally:
        runtime.close()
