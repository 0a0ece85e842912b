"""Permissions on a real database: Casbin decisions over the org tree, data scopes as SQL, field rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.errors import NotFound, PermissionDenied, ValidationFailed
from runtime.permission_admin import PermissionAdmin, PermissionConfigError
from runtime.permissions import PermissionStore, PolicyLine
from runtime.policy_access import PolicyAccess, explain
from runtime.record_query import ListQuery
from runtime.records import RecordService
from tests.runtime.conftest import ShopRuntime
from tests.runtime.test_approvals import Office

PERMISSIONS = """
    roles:
      - {name: clerk, label: {zh-CN: 文员, en: Clerk}}
      - {name: branch_clerk, label: {zh-CN: 分公司文员, en: Branch clerk}}
      - {name: manager, label: {zh-CN: 经理, en: Manager}, inherits: [clerk]}
      - {name: auditor, label: {zh-CN: 审计, en: Auditor}}
      - {name: buyer, label: {zh-CN: 采购, en: Buyer}}
    org_units:
      - name: hq
        label: {zh-CN: 总部, en: Head office}
        kind: company
        children:
          - name: bj
            label: {zh-CN: 北京分公司, en: Beijing branch}
            kind: branch
            children:
              - {name: bj_sales, label: {zh-CN: 北京销售部, en: Beijing sales}, kind: department}
          - {name: sh, label: {zh-CN: 上海分公司, en: Shanghai branch}, kind: branch}
    grants:
      - {role: clerk, entity: product, actions: [read, create, update], scope: own}
      - {role: branch_clerk, entity: product, actions: [read], scope: unit}
      - {role: manager, entity: product, actions: [read, delete], scope: unit_and_below}
      - {role: auditor, entity: product, actions: [read, export], scope: all}
      - {role: buyer, entity: product, actions: [read], filter: "price <= 20 or created_by == user.id"}
      - {role: auditor, entity: category, actions: [read]}
    field_rules:
      - {role: clerk, entity: product, hidden: [cost], read_only: [sku]}
      - {role: auditor, entity: product, unmasked: [supplier_phone]}
"""

USERS = {
    "alice": ("clerk", "bj_sales"),
    "bob": ("clerk", "bj_sales"),
    "carol": ("manager", "bj"),
    "dave": ("auditor", "hq"),
    "erin": ("branch_clerk", "bj_sales"),
    "frank": ("buyer", "sh"),
}
ADMIN = Actor(id="admin", roles=("system",))


class Secured:
    """The shop app with permissions: one record service acting through the policies."""

    def __init__(self, shop: ShopRuntime) -> None:
        self.shop = shop
        shop.reload({"permissions/roles.yaml": PERMISSIONS})
        self.store = PermissionStore(shop.model, shop.schema, shop.engine)
        self.admin = PermissionAdmin(self.store)
        for user, (role, unit) in USERS.items():
            self.admin.add_user(ADMIN, user, user, user.title(), unit)
            self.admin.assign(ADMIN, user, role, unit)
        self.records = RecordService(shop.model, shop.schema, shop.engine, access=PolicyAccess(self.store, shop.schema), keys=shop.keys)

    def actor(self, user: str) -> Actor:
        role, unit = USERS[user]
        return Actor(id=user, name=user, roles=(role,), org_unit=unit)

    def seed(self, name: str, owner: str, unit: str, price: int = 10) -> int:
        system = Actor(id=owner, roles=("system",), org_unit=unit)
        return int(self.shop.records.create(system, "product", {"name": name, "price": price, "cost": 1, "supplier_phone": "13812345678"})["id"])

    def names(self, user: str) -> set[str]:
        return {row["name"] for row in self.records.list(self.actor(user), "product").rows}


@pytest.fixture
def secured(shop: ShopRuntime) -> Secured:
    result = Secured(shop)
    result.seed("A-alice", "alice", "bj_sales")
    result.seed("B-bob", "bob", "bj_sales", price=50)
    result.seed("C-carol", "carol", "bj")
    result.seed("D-sh", "zoe", "sh", price=30)
    return result


def test_own_scope(secured: Secured) -> None:
    assert secured.names("alice") == {"A-alice"}


def test_unit_scope(secured: Secured) -> None:
    assert secured.names("erin") == {"A-alice", "B-bob"}


def test_unit_and_below_scope(secured: Secured) -> None:
    assert secured.names("carol") == {"A-alice", "B-bob", "C-carol"}


def test_all_scope(secured: Secured) -> None:
    assert secured.names("dave") == {"A-alice", "B-bob", "C-carol", "D-sh"}


def test_filter_scope(secured: Secured) -> None:
    secured.seed("F-frank", "frank", "sh", price=99)

    assert secured.names("frank") == {"A-alice", "C-carol", "F-frank"}


def test_out_of_scope_is_not_found(secured: Secured) -> None:
    bob_record = secured.records.list(secured.actor("erin"), "product", ListQuery(search="B-bob")).rows[0]

    with pytest.raises(NotFound) as outside:
        secured.records.get(secured.actor("alice"), "product", bob_record["id"])
    with pytest.raises(NotFound) as missing:
        secured.records.get(secured.actor("alice"), "product", 999_999)

    assert type(outside.value) is type(missing.value)
    assert outside.value.message("en").replace(str(bob_record["id"]), "N") == missing.value.message("en").replace("999999", "N")


def test_action_without_grant_denied(secured: Secured) -> None:
    with pytest.raises(PermissionDenied):
        secured.records.create(secured.actor("dave"), "product", {"name": "X", "price": 1})
    with pytest.raises(PermissionDenied):
        secured.records.list(secured.actor("alice"), "category")


def test_update_limited_to_scope(secured: Secured) -> None:
    bob_id = next(row["id"] for row in secured.shop.records.list(ADMIN, "product").rows if row["name"] == "B-bob")

    with pytest.raises(NotFound):
        secured.records.update(secured.actor("alice"), "product", bob_id, {"price": 1}, version=1)


def test_field_rules(secured: Secured) -> None:
    alice_row = secured.records.list(secured.actor("alice"), "product").rows[0]
    dave_row = next(row for row in secured.records.list(secured.actor("dave"), "product").rows if row["name"] == "A-alice")

    assert "cost" not in alice_row
    assert alice_row["supplier_phone"] == "138****5678"
    assert dave_row["cost"] is not None
    assert dave_row["supplier_phone"] == "13812345678"
    with pytest.raises(ValidationFailed) as raised:
        secured.records.update(secured.actor("alice"), "product", alice_row["id"], {"sku": "X"}, version=1)
    assert raised.value.errors["sku"][0].code == "read_only"


def test_admin_grant_takes_effect_and_survives_restart(secured: Secured) -> None:
    assert not secured.store.allows(secured.actor("alice"), "export", "product")

    secured.admin.grant(ADMIN, "clerk", "product", "export", scope="own")

    assert secured.store.allows(secured.actor("alice"), "export", "product")
    restarted = PermissionStore(secured.shop.model, secured.shop.schema, secured.shop.engine)
    assert restarted.allows(secured.actor("alice"), "export", "product")
    origins = {(line.action, line.origin) for line in restarted.lines() if line.role == "clerk"}
    assert ("export", "admin") in origins
    assert ("read", "yaml") in origins


def test_admin_deny_overrides_yaml_without_stale_memo(secured: Secured) -> None:
    alice = secured.actor("alice")
    assert secured.store.allows(alice, "read", "product")

    line = secured.admin.grant(ADMIN, "clerk", "product", "read", effect="deny")

    assert not secured.store.allows(alice, "read", "product")
    with pytest.raises(PermissionDenied):
        secured.records.list(alice, "product")
    secured.admin.revoke(ADMIN, line)
    assert secured.store.allows(alice, "read", "product")


def test_admin_edit_survives_yaml_reload(secured: Secured) -> None:
    secured.admin.grant(ADMIN, "clerk", "product", "export", scope="own")

    secured.shop.reload({"permissions/roles.yaml": PERMISSIONS.replace("[read, export], scope: all", "[read], scope: all")})
    reloaded = PermissionStore(secured.shop.model, secured.shop.schema, secured.shop.engine)

    assert reloaded.allows(secured.actor("alice"), "export", "product")
    assert not reloaded.allows(secured.actor("dave"), "export", "product")


def test_role_held_in_unit_applies_below_only(secured: Secured) -> None:
    carol = secured.actor("carol")
    ids = {row["name"]: row["id"] for row in secured.shop.records.list(ADMIN, "product").rows}

    assert secured.store.allows(carol, "delete", "product")
    with pytest.raises(NotFound):
        secured.records.delete(carol, "product", ids["D-sh"], version=1)
    secured.admin.grant(ADMIN, "manager", "product", "export", scope="all", unit="sh")
    assert not secured.store.allows(carol, "export", "product")
    secured.admin.grant(ADMIN, "manager", "product", "export", scope="unit", unit="bj")
    assert secured.store.allows(carol, "export", "product")
    secured.records.delete(carol, "product", ids["B-bob"], version=1)


def test_admin_changes_checked(secured: Secured) -> None:
    with pytest.raises(PermissionConfigError) as raised:
        secured.admin.grant(ADMIN, "clerc", "product", "read")
    assert "clerk" in raised.value.message("en")
    with pytest.raises(PermissionConfigError):
        secured.admin.grant(ADMIN, "clerk", "prodcut", "read")
    with pytest.raises(PermissionConfigError):
        secured.admin.grant(ADMIN, "clerk", "product", "approve")
    with pytest.raises(PermissionConfigError):
        secured.admin.assign(ADMIN, "alice", "clerk", "gz")
    with pytest.raises(PermissionConfigError):
        secured.admin.set_field_rule(ADMIN, "clerk", "product", "colour", "hidden")
    with pytest.raises(PermissionConfigError):
        secured.admin.revoke(ADMIN, PolicyLine("clerk", "*", "product", "read", "own", "allow", "yaml"))


def test_explain_names_line_and_scope(secured: Secured) -> None:
    bob_id = next(row["id"] for row in secured.shop.records.list(ADMIN, "product").rows if row["name"] == "B-bob")

    answer = explain(secured.store, secured.shop.schema, secured.shop.engine, secured.actor("alice"), "read", "product", bob_id)

    assert answer.allowed
    assert answer.roles == ["clerk"]
    assert [line.scope for line in answer.granting] == ["own"]
    assert "created_by" in (answer.scope_sql or "")
    assert answer.record_in_scope is False
    assert "outside the data scope" in answer.reason("en")

    denied = explain(secured.store, secured.shop.schema, secured.shop.engine, secured.actor("alice"), "export", "product")
    assert not denied.allowed
    assert "no policy line" in denied.reason("en")


def test_admin_changes_audited(secured: Secured) -> None:
    from sqlalchemy import select

    audit = secured.shop.schema.audit
    with secured.shop.engine.connect() as connection:
        actions = [row.action for row in connection.execute(select(audit.c.action).where(audit.c.entity == "permissions"))]
    assert actions.count("assign_role") == len(USERS)
    assert actions.count("add_user") == len(USERS)


def test_runtime_org_unit_joins_tree(secured: Secured) -> None:
    secured.admin.add_org_unit(ADMIN, "bj_partner", "bj", "partner", "北京合作方", "Beijing partner")
    secured.admin.add_user(ADMIN, "gina", "gina", "Gina", "bj_partner")
    secured.admin.assign(ADMIN, "gina", "branch_clerk", "bj_partner")
    secured.seed("G-gina", "gina", "bj_partner")

    assert "G-gina" in secured.names("carol")
    assert "G-gina" not in secured.names("erin")
    with pytest.raises(PermissionConfigError):
        secured.admin.add_org_unit(ADMIN, "bj_partner", "bj", "partner", "重复", "Again")


def test_record_created_in_unit_of_granting_role(engine: Engine, tmp_path: Path) -> None:
    office = Office(engine, tmp_path)
    admin = PermissionAdmin(office.records.access.store)
    # hq works at head office but enters claims for the east branch, through a clerk role held there.
    admin.add_user(SYSTEM_ACTOR, "hq", "hq", "hq", "company")
    admin.assign(SYSTEM_ACTOR, "hq", "clerk", "east")
    hq = Actor(id="hq", name="hq", roles=("clerk",), org_unit="company")
    created = office.records.create(hq, "expense", {"title": "差旅", "amount": "800", "procedure": "single"})
    assert created["org_unit"] == "east"
    assert office.records.get(hq, "expense", created["id"])["id"] == created["id"]
    # A user whose role is held in their own unit keeps creating there.
    assert office.records.create(office.actor("qian"), "expense", {"title": "会议", "amount": "90", "procedure": "single"})[
        "org_unit"] == "east"
