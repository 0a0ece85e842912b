"""`metadesk perm explain` on the "system" resource and for roles held outside the user's own unit.

Runs on the requisition app of tests/test_perm_commands.py: wang is staff in platform_team and li is
manager in engineering (the parent of platform_team). Employee E00001 lives in platform_team,
E00002 in sales.
"""

from __future__ import annotations

from pathlib import Path

from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from tests.test_perm_commands import CHINESE, ROOT, add_people, app, employee_id  # noqa: F401  (app is a fixture)
from tests.test_runtime_commands import Place, place  # noqa: F401  (place is a fixture)


def add(place: Place, app: Path, user: str, home: str, *held: tuple[str, str]) -> None:
    runtime = place.open(app)
    try:
        admin = PermissionAdmin(PermissionStore(runtime.model, runtime.schema, runtime.engine))
        admin.add_user(ROOT, user, user, user.title(), home)
        for role, unit in held:
            admin.assign(ROOT, user, role, unit)
    finally:
        runtime.close()


def test_explain_system_allowed_names_the_role(place: Place, app: Path) -> None:
    add_people(place, app)
    add(place, app, "root", "sales", ("admin", "company"))

    answer = place.run("perm", "explain", str(app), "root", "administer", "system", "--lang", "en")
    chinese = place.run("perm", "explain", str(app), "root", "jobs", "system", env=CHINESE)

    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    assert "Question: may root administer system?" in lines
    assert "  - allow administer system to admin, scope all, in every unit [origin: YAML]" in lines
    assert "  - admin, scope all, held in company (Company)" in lines
    assert "Data scope: none applies (system has no records)" in lines
    assert lines[-1] == "Verdict: ALLOWED: allowed by the matching policy line(s)"
    assert chinese.returncode == 0, chinese.stdout + chinese.stderr
    assert "  - 允许 admin 对 system 执行 jobs，数据范围 all，适用于 所有组织机构 [来源：YAML 配置]" in chinese.stdout
    assert chinese.stdout.rstrip().endswith("结论：允许：由匹配的策略允许")


def test_explain_system_denied_says_why(place: Place, app: Path) -> None:
    add_people(place, app)
    add(place, app, "nobody", "sales")

    denied = place.run("perm", "explain", str(app), "li", "administer", "system", "--lang", "en")
    roleless = place.run("perm", "explain", str(app), "nobody", "audit", "system", "--lang", "en")
    with_record = place.run("perm", "explain", str(app), "li", "administer", "system", "1", "--lang", "en")
    bad_action = place.run("perm", "explain", str(app), "li", "read", "system", "--lang", "en")

    assert denied.returncode == 0, denied.stdout + denied.stderr
    assert "Granting policy lines:\n  (none)\nDeny lines:\n  (none)\n" in denied.stdout
    assert denied.stdout.rstrip().endswith("Verdict: DENIED: no policy line grants administer on system to the roles manager, staff")
    assert roleless.stdout.rstrip().endswith("Verdict: DENIED: nobody has no role in any org unit")
    assert with_record.returncode == 1
    assert with_record.stdout.strip() == "system has no records; leave out the record id."
    assert bad_action.returncode == 1
    assert bad_action.stdout.strip() == "unknown action 'read'; use one of: administer, audit, jobs, organize"
    assert all("Traceback" not in item.stderr for item in (denied, roleless, with_record, bad_action))


def test_explain_scope_from_held_unit(place: Place, app: Path) -> None:
    add_people(place, app)
    add(place, app, "zhou", "sales", ("manager", "engineering"))
    platform, sales = employee_id(place, app, "E00001"), employee_id(place, app, "E00002")

    inside = place.run("perm", "explain", str(app), "zhou", "read", "employee", str(platform), "--lang", "en")
    outside = place.run("perm", "explain", str(app), "zhou", "read", "employee", str(sales), "--lang", "en")

    assert inside.returncode == 0, inside.stdout + inside.stderr
    lines = inside.stdout.splitlines()
    assert "  - manager (Manager) in engineering (Engineering)" in lines
    assert "  - manager, scope unit_and_below, held in engineering (Engineering)" in lines
    scope = next(line for line in lines if line.startswith("Data scope (SQL): "))
    assert "IN ('engineering', 'platform_team')" in scope
    assert "sales" not in scope
    assert f"Record {platform} in scope: yes" in lines
    assert f"Record {sales} in scope: no" in outside.stdout
