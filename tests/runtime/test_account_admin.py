"""What admins do with accounts and permissions: user lists, activation, unlocking, tokens, and checked changes."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select, update

from runtime.access import SYSTEM_ACTOR, Actor
from runtime.account_admin import AccountAdmin, AccountRejected, UserQuery
from runtime.accounts import TOKEN_USE_RESOLUTION_SECONDS, Accounts
from runtime.app import Runtime
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin, PermissionConfigError
from runtime.permissions import PolicyLine
from runtime.settings import Settings
from tests.conftest import REPOSITORY

GUARANTEE = REPOSITORY / "configs" / "guarantee"
PASSWORD = "Test#2026pass"
ROOT = Actor(id="root", roles=("admin",), org_unit="head_office", address="127.0.0.1")

#: (id, display name, unit, roles). Only the users that sign in get a password, because hashing one takes a while.
USERS = [
    ("root", "Root Admin", "head_office", ("admin",)),
    ("li.dealer", "李经销", "dealer_bj_yizhuang", ("dealer_staff",)),
    ("wang.credit", "王信审", "beijing_credit", ("credit_officer",)),
    ("zhao.sh", "赵上海", "dealer_sh_pudong", ("dealer_staff", "dealer_manager")),
]


class Admins:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.accounts: Accounts = runtime.accounts()
        self.admin = AccountAdmin(self.accounts)
        self.permissions = PermissionAdmin(runtime.permissions())
        for user_id, name, unit, roles in USERS:
            self.permissions.add_user(SYSTEM_ACTOR, user_id, user_id, name, unit)
            for role in roles:
                self.permissions.assign(SYSTEM_ACTOR, user_id, role, unit)
            if user_id in ("li.dealer", "wang.credit"):
                self.accounts.set_password(SYSTEM_ACTOR, user_id, PASSWORD)

    def audit_actions(self, actor: str) -> list[str]:
        audit = self.runtime.schema.audit
        with self.runtime.engine.connect() as connection:
            return list(connection.scalars(select(audit.c.action).where(audit.c.actor == actor).order_by(audit.c.id)))

    def ids(self, query: UserQuery) -> list[str]:
        return [user.id for user in self.admin.list_users(query).users]


@pytest.fixture
def admins(database_url: str, tmp_path: Path) -> Iterator[Admins]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None, secret_key="test-secret")
    runtime = Runtime.open(GUARANTEE, settings)
    migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
    yield Admins(runtime)
    runtime.close()


def test_list_users_filters(admins: Admins) -> None:
    store = admins.runtime.permissions()
    assert admins.ids(UserQuery()) == ["li.dealer", "root", "wang.credit", "zhao.sh"]
    assert admins.ids(UserQuery(search="WANG")) == ["wang.credit"]
    assert admins.ids(UserQuery(search="李")) == ["li.dealer"]
    assert admins.ids(UserQuery(search="%")) == []
    assert admins.ids(UserQuery(org_units=tuple(store.tree.and_below("beijing_branch")))) == ["li.dealer", "wang.credit"]
    assert admins.ids(UserQuery(role="dealer_staff")) == ["li.dealer", "zhao.sh"]
    assert admins.ids(UserQuery(limit=2, offset=2)) == ["wang.credit", "zhao.sh"]
    assert admins.admin.list_users(UserQuery(limit=1)).total == 4


def test_account_carries_roles_and_state(admins: Admins) -> None:
    account = admins.admin.account("zhao.sh")
    assert account is not None
    assert account.assignments == (("dealer_manager", "dealer_sh_pudong"), ("dealer_staff", "dealer_sh_pudong"))
    assert account.active
    assert not account.locked()
    assert admins.admin.account("nobody") is None


def test_deactivate_blocks_sign_in_and_is_audited(admins: Admins) -> None:
    assert admins.accounts.sign_in("li.dealer", PASSWORD).outcome == "ok"
    epoch = admins.accounts.sign_in("li.dealer", PASSWORD).session_epoch

    assert admins.admin.set_active(ROOT, "li.dealer", False) is True
    assert admins.admin.set_active(ROOT, "li.dealer", False) is False
    assert admins.accounts.sign_in("li.dealer", PASSWORD).outcome == "wrong"
    assert admins.accounts.user("li.dealer") is None
    assert admins.ids(UserQuery(active=False)) == ["li.dealer"]

    assert admins.admin.set_active(ROOT, "li.dealer", True) is True
    again = admins.accounts.sign_in("li.dealer", PASSWORD)
    assert again.outcome == "ok"
    assert again.session_epoch == epoch + 1
    assert admins.audit_actions("root") == ["deactivate_user", "activate_user"]


def test_admin_cannot_deactivate_self(admins: Admins) -> None:
    with pytest.raises(AccountRejected) as raised:
        admins.admin.set_active(ROOT, "root", False)
    assert raised.value.message("zh-CN") == "不能停用自己的账号；请由其他管理员操作。"
    with pytest.raises(KeyError):
        admins.admin.set_active(ROOT, "nobody", False)
    account = admins.admin.account("root")
    assert account is not None
    assert account.active


def test_unlock_clears_the_lock(admins: Admins) -> None:
    # Lock the account as failed sign-ins do, without verifying five wrong passwords.
    users = admins.runtime.schema.access.users
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=15)
    with admins.runtime.engine.begin() as connection:
        connection.execute(update(users).where(users.c.id == "wang.credit").values(locked_until=until, failed_sign_ins=0))
    assert admins.accounts.sign_in("wang.credit", PASSWORD).outcome == "locked"
    assert admins.ids(UserQuery(locked=True)) == ["wang.credit"]
    assert "wang.credit" not in admins.ids(UserQuery(locked=False))

    assert admins.admin.unlock(ROOT, "wang.credit") is True
    assert admins.admin.unlock(ROOT, "wang.credit") is False
    assert admins.accounts.sign_in("wang.credit", PASSWORD).outcome == "ok"
    assert admins.audit_actions("root") == ["unlock_user"]
    with pytest.raises(KeyError):
        admins.admin.unlock(ROOT, "nobody")


def test_tokens_listed_used_and_revoked(admins: Admins) -> None:
    token = admins.accounts.create_token(ROOT, "li.dealer", "ERP")
    admins.accounts.create_token(ROOT, "root", "Monitor")
    listed = admins.admin.list_tokens("li.dealer")
    assert [(item.user_id, item.name) for item in listed] == [("li.dealer", "ERP")]
    assert listed[0].last_used_at is None
    assert [item.name for item in admins.admin.list_tokens()] == ["Monitor", "ERP"]

    user = admins.accounts.user_of_token(token)
    assert user is not None
    assert user["id"] == "li.dealer"
    used = admins.admin.list_tokens("li.dealer")[0].last_used_at
    assert used is not None

    # A second use within the resolution leaves the time unchanged, and a later use moves it.
    admins.accounts.user_of_token(token)
    assert admins.admin.list_tokens("li.dealer")[0].last_used_at == used
    tokens = admins.runtime.schema.access.api_tokens
    earlier = used - datetime.timedelta(seconds=TOKEN_USE_RESOLUTION_SECONDS + 1)
    with admins.runtime.engine.begin() as connection:
        connection.execute(update(tokens).where(tokens.c.id == listed[0].id).values(last_used_at=earlier))
    admins.accounts.user_of_token(token)
    moved = admins.admin.list_tokens("li.dealer")[0].last_used_at
    assert moved is not None
    assert moved > earlier

    assert admins.accounts.revoke_token(ROOT, listed[0].id) is True
    assert admins.accounts.revoke_token(ROOT, listed[0].id) is False
    assert admins.accounts.user_of_token(token) is None
    assert admins.admin.list_tokens("li.dealer")[0].revoked_at is not None
    with pytest.raises(KeyError):
        admins.accounts.revoke_token(ROOT, 999_999)
    assert admins.audit_actions("root") == ["create_token", "create_token", "revoke_token"]


def test_permission_changes_reject_duplicates(admins: Admins) -> None:
    permissions = admins.permissions
    with pytest.raises(PermissionConfigError) as taken_id:
        permissions.add_user(ROOT, "root", "another", "Another", "head_office")
    assert taken_id.value.message("en") == "the user id 'root' is already used; choose another name"
    with pytest.raises(PermissionConfigError) as taken_name:
        permissions.add_user(ROOT, "new.user", "li.dealer", "New", "head_office")
    assert taken_name.value.subject == "username"
    assert taken_name.value.problem == "taken"

    with pytest.raises(PermissionConfigError) as assigned:
        permissions.assign(ROOT, "li.dealer", "dealer_staff", "dealer_bj_yizhuang")
    assert assigned.value.problem == "exists"
    with pytest.raises(PermissionConfigError) as not_held:
        permissions.unassign(ROOT, "li.dealer", "finance", "dealer_bj_yizhuang")
    assert "dealer_staff@dealer_bj_yizhuang" in not_held.value.message("en")

    permissions.grant(ROOT, "finance", "vehicle", "read", scope="all")
    with pytest.raises(PermissionConfigError) as twice:
        permissions.grant(ROOT, "finance", "vehicle", "read", scope="all")
    assert twice.value.message("zh-CN") == "策略 'finance * vehicle read all allow' 已存在；未做任何更改"
    with pytest.raises(PermissionConfigError):
        permissions.grant(ROOT, "admin", "customer", "read", scope="all")

    permissions.set_field_rule(ROOT, "finance", "customer", "phone", "hidden")
    with pytest.raises(PermissionConfigError):
        permissions.set_field_rule(ROOT, "finance", "customer", "phone", "hidden")
    with pytest.raises(PermissionConfigError) as yaml_rule:
        permissions.clear_field_rule(ROOT, "dealer_staff", "customer", "phone", "masked")
    assert yaml_rule.value.subject == "admin field rule"
    permissions.clear_field_rule(ROOT, "finance", "customer", "phone", "hidden")

    audit = admins.audit_actions("root")
    assert audit == ["grant", "set_field_rule", "clear_field_rule"]


def test_permission_reading_helpers(admins: Admins) -> None:
    permissions = admins.permissions
    permissions.add_org_unit(ROOT, "dealer_bj_new", "beijing_branch", "dealer", "北京新店", "Beijing new dealer")
    origins = {unit.name: unit.origin for unit in permissions.org_units()}
    assert origins["head_office"] == "yaml"
    assert origins["dealer_bj_new"] == "runtime"
    assert list(origins)[-1] == "dealer_bj_new"

    permissions.set_field_rule(ROOT, "dealer_staff", "customer", "address", "read_only")
    rules = {(rule.field, rule.kind): rule.origin for rule in permissions.field_rules("dealer_staff", "customer")}
    assert rules[("phone", "masked")] == "yaml"
    assert rules[("address", "read_only")] == "admin"

    assert permissions.members()["dealer_staff"] == [("li.dealer", "dealer_bj_yizhuang"), ("zhao.sh", "dealer_sh_pudong")]

    permissions.grant(ROOT, "dealer_staff", "bank", "export", scope="unit", unit="beijing_branch")
    cell = permissions.cell("dealer_manager", "bank", "export")
    assert cell.allowed
    assert cell.lines == (PolicyLine("dealer_staff", "beijing_branch", "bank", "export", "unit", "allow", "admin"),)
    assert set(permissions.matrix(["finance"], ["system"])) == {("finance", "system", action) for action in ("administer", "audit", "jobs", "organize")}
    with pytest.raises(PermissionConfigError):
        permissions.cell("dealer_staff", "bank", "approve")
