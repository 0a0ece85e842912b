"""context.organization: org units, accounts and roles that hooks change inside the operation, within the organize scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select

from metamodel import model as m
from runtime.access import Actor
from runtime.accounts import password_problem
from runtime.app import Runtime
from runtime.database import WRITE_OPTION
from runtime.errors import ValidationFailed
from runtime.hook_organization import HookOrganization, OrganizationRefused, generate_password
from runtime.hook_records import call_hook
from runtime.hooks import HookContext, HookError, registry
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.settings import Settings
from tests.conftest import REPOSITORY

APP = REPOSITORY / "tests" / "apps" / "requisition"
ADMIN = Actor(id="root", roles=("system",), org_unit="company")
LEAD = Actor(id="lead", name="lead", roles=("manager",), org_unit="engineering")
CLERK = Actor(id="clerk", name="clerk", roles=("staff",), org_unit="engineering")


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    opened = Runtime.open(APP, Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None, secret_key="k"))
    migrate(opened.engine, opened.schema, opened.model, backup_root=opened.backup_root)
    admin = PermissionAdmin(opened.permissions())
    for actor in (LEAD, CLERK):
        admin.add_user(ADMIN, actor.id, actor.id, actor.id, "engineering")
        admin.assign(ADMIN, actor.id, actor.roles[0], "engineering")
    admin.grant(ADMIN, "manager", m.SYSTEM_RESOURCE, "organize", scope="unit_and_below")
    yield opened
    opened.close()


def run_hook(runtime: Runtime, actor: Actor, work: Callable[[HookOrganization], Any]) -> Any:
    """Run `work` as a hook of `actor` in one committed operation, as the runtime runs hooks, and return its result."""
    name = "test_organization.work"
    registry._hooks.pop(name, None)

    def hook(context: HookContext) -> Any:
        assert context.organization is not None
        return work(context.organization)

    registry.register(name, hook)
    service = runtime.records_for_users()
    entity = runtime.model.entities["employee"]
    with runtime.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
        with connection.begin():
            return call_hook(service, connection, name, HookContext(actor, "employee", {}, "test"), entity,
                             doing=m.Label("测试", "Testing"))


def units(runtime: Runtime) -> dict[str, str | None]:
    return {row.name: row.parent for row in PermissionAdmin(runtime.permissions()).org_units()}


def audit_actions(runtime: Runtime) -> list[tuple[str, str]]:
    audit = runtime.schema.audit
    with runtime.engine.connect() as connection:
        return [(row.actor, row.action) for row in connection.execute(select(audit.c.actor, audit.c.action).order_by(audit.c.id))]


def hook_message(error: ValidationFailed) -> str:
    return next(item.message_en for items in error.errors.values() for item in items)


def test_hook_adds_unit_and_account(runtime: Runtime) -> None:
    def open_team(organization: HookOrganization) -> str:
        organization.add_unit("data_team", parent="engineering", kind="department", label_zh="数据组", label_en="Data team")
        password = organization.add_user("ann", username="ann", display_name="Ann", unit="data_team")
        organization.assign("ann", "staff", "data_team")
        return password

    password = run_hook(runtime, LEAD, open_team)

    assert units(runtime)["data_team"] == "engineering"
    assert runtime.permissions().tree.within("data_team", "engineering")
    assert password_problem(runtime.model.app.settings, password) is None
    assert runtime.accounts().sign_in("ann", password).outcome == "ok"
    assert ("staff", "data_team") in runtime.permissions().assignments(Actor(id="ann"))
    assert [action for actor, action in audit_actions(runtime) if actor == "lead"] == ["add_org_unit", "add_user", "assign_role"]


def test_units_outside_the_organize_scope_are_refused(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as refused:
        run_hook(runtime, LEAD, lambda organization: organization.add_unit(
            "sales_east", parent="sales", kind="department", label_zh="华东销售", label_en="Sales east"))
    assert hook_message(refused.value) == (
        "You may not change org units or accounts in 'sales': it needs the organize permission there.")
    assert "sales_east" not in units(runtime)


def test_users_without_the_organize_grant_are_refused(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as refused:
        run_hook(runtime, CLERK, lambda organization: organization.add_user("bob", username="bob", display_name="Bob",
                                                                            unit="engineering"))
    assert "needs the organize permission" in hook_message(refused.value)
    assert PermissionAdmin(runtime.permissions()).members().get("staff") == [("clerk", "engineering")]


def test_administrative_roles_are_given_by_administrators_only(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as refused:
        run_hook(runtime, LEAD, lambda organization: organization.assign("clerk", "admin", "engineering"))
    assert hook_message(refused.value) == "The role 'admin' administers the system; only administrators give it."


def test_failed_operation_leaves_no_unit(runtime: Runtime) -> None:
    def open_and_fail(organization: HookOrganization) -> None:
        organization.add_unit("short_lived", parent="engineering", kind="department", label_zh="临时组", label_en="Short-lived")
        raise HookError("stopped after the unit", "添加机构后停止")

    with pytest.raises(ValidationFailed):
        run_hook(runtime, LEAD, open_and_fail)
    assert "short_lived" not in units(runtime)
    assert "short_lived" not in runtime.permissions().tree.parents


def test_taken_names_are_refused(runtime: Runtime) -> None:
    with pytest.raises(ValidationFailed) as refused:
        run_hook(runtime, LEAD, lambda organization: organization.add_user("x1", username="clerk", display_name="X", unit="engineering"))
    assert hook_message(refused.value) == "The username 'clerk' is already used; choose another."


def test_move_keeps_record_version(runtime: Runtime) -> None:
    employee = runtime.records.create(Actor(id="root", roles=("system",), org_unit="engineering"), "employee",
                                      {"employee_no": "E00001", "name": "王芳", "email": "wf@example.com", "department": "engineering"})

    def move(organization: HookOrganization) -> None:
        organization.add_unit("data_team", parent="engineering", kind="department", label_zh="数据组", label_en="Data team")
        organization.move("employee", int(employee["id"]), "data_team")

    run_hook(runtime, LEAD, move)
    moved = runtime.records.get(ADMIN, "employee", employee["id"])
    assert (moved["org_unit"], moved["version"]) == ("data_team", employee["version"])
    assert ("lead", "move") in audit_actions(runtime)


def test_deactivating_an_account_ends_its_sign_in(runtime: Runtime) -> None:
    password = run_hook(runtime, LEAD, lambda organization: organization.add_user(
        "cat", username="cat", display_name="Cat", unit="platform_team"))
    assert run_hook(runtime, LEAD, lambda organization: organization.set_active("cat", False)) is True
    assert runtime.accounts().sign_in("cat", password).outcome == "wrong"
    assert run_hook(runtime, LEAD, lambda organization: organization.set_active("cat", False)) is False


def test_refusals_carry_their_kind() -> None:
    refused = OrganizationRefused("scope", "en", "zh")
    assert isinstance(refused, HookError) and refused.code == "scope"


def test_generated_passwords_meet_the_rules() -> None:
    settings = {"password_min_length": 10, "password_min_classes": 4}
    passwords = {generate_password(settings) for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(password) >= 12 and password_problem(settings, password) is None for password in passwords)
