"""Data scopes follow the org unit where a role is held, not the user's own unit.

A head-office user given `branch_manager` in the Beijing branch reads the Beijing branch and
the units below it under that role, and nothing of head office. The same role held in two
units reaches both; two roles that grant the same action reach the union of their scopes.
In a scope filter, `user.org_unit` and `user.org_units` name the unit where the granting
role is held. Lists, single reads and a plain SELECT with the scope predicate agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine, select, update

from metamodel import load_app
from metamodel.model import SYSTEM_RESOURCE
from runtime.access import Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.errors import NotFound, PermissionDenied
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess, explain
from runtime.record_query import ListQuery
from runtime.records import RecordService
from tests.conftest import REPOSITORY
from tests.runtime.conftest import ShopRuntime
from tests.runtime.test_permission_matrix import Seeder
from tests.runtime.test_permissions import PERMISSIONS

ADMIN = Actor(id="admin", roles=("system",))
#: Units that own one customer and one loan application each, in this order.
UNITS = ("head_office", "beijing_branch", "beijing_credit", "dealer_bj_yizhuang", "beijing_post_loan",
         "shanghai_branch", "shanghai_credit", "shanghai_post_loan")
BEIJING = {"beijing_branch", "beijing_credit", "dealer_bj_yizhuang", "beijing_post_loan"}
SHANGHAI = {"shanghai_branch", "shanghai_credit", "shanghai_post_loan"}


class Guarantee:
    """The guarantee app with one customer and one loan application in each of UNITS."""

    def __init__(self, engine: Engine, backup_root: Path) -> None:
        self.engine = engine
        self.model = load_app(REPOSITORY / "configs" / "guarantee")
        from runtime.schema import build_schema

        self.schema = build_schema(self.model)
        migrate(engine, self.schema, self.model, backup_root=backup_root)
        keys = KeyRing.generate()
        system = RecordService(self.model, self.schema, engine, access=SystemAccess(), keys=keys)
        self.store = PermissionStore(self.model, self.schema, engine)
        self.admin = PermissionAdmin(self.store)
        self.policy = PolicyAccess(self.store, self.schema)
        self.records = RecordService(self.model, self.schema, engine, access=self.policy, keys=keys)
        seeder = Seeder(system)
        #: entity -> unit -> id
        self.ids: dict[str, dict[str, int]] = {"customer": {}, "loan_application": {}}
        for unit in UNITS:
            bank = seeder.bank("someone", unit)
            refs = {"customer": seeder.customer("someone", unit), "dealer": seeder.dealer("someone", unit),
                    "product": seeder.loan_product("someone", unit, bank), "vehicle": seeder.vehicle("someone", unit)}
            self.ids["customer"][unit] = refs["customer"]
            self.ids["loan_application"][unit] = seeder.loan_application("someone", unit, refs)
        table = self.schema.entities["loan_application"].table
        with engine.begin() as connection:
            connection.execute(update(table).values(state="repaying"))

    def user(self, user: str, home: str, *held: tuple[str, str]) -> Actor:
        """Add a user whose own unit is `home`, give it each (role, unit), and return its actor as a sign-in builds it."""
        self.admin.add_user(ADMIN, user, user, user, home)
        for role, unit in held:
            self.admin.assign(ADMIN, user, role, unit)
        units = tuple(sorted({unit for _, unit in held if unit != home}))
        return Actor(id=user, name=user, roles=tuple(sorted({role for role, _ in held})), org_unit=home, org_units=units)

    def units_read(self, actor: Actor, entity: str) -> set[str]:
        """Return the units whose record the actor reads, after checking that list, get and SELECT agree."""
        by_id = {record_id: unit for unit, record_id in self.ids[entity].items()}
        listed = {row["id"] for row in self.records.list(actor, entity, ListQuery(limit=500)).rows}
        fetched = set()
        for record_id in by_id:
            try:
                fetched.add(self.records.get(actor, entity, record_id)["id"])
            except NotFound:
                pass
        table = self.schema.entities[entity].table
        predicate = self.policy.scope(actor, entity, table)
        query = select(table.c.id).where(table.c.deleted_at.is_(None))
        if predicate is not None:
            query = query.where(predicate)
        with self.engine.connect() as connection:
            selected = set(connection.scalars(query))
        assert listed == fetched == selected, (listed, fetched, selected)
        return {by_id[record_id] for record_id in listed}


@pytest.fixture
def guarantee(engine: Engine, tmp_path: Path) -> Iterator[Guarantee]:
    yield Guarantee(engine, tmp_path / "backups")


def test_role_held_in_another_branch_reads_that_branch(guarantee: Guarantee) -> None:
    manager = guarantee.user("ho.manager", "head_office", ("branch_manager", "beijing_branch"))

    assert guarantee.store.allows(manager, "read", "customer")
    assert guarantee.units_read(manager, "customer") == BEIJING
    with pytest.raises(NotFound):
        guarantee.records.get(manager, "customer", guarantee.ids["customer"]["head_office"])
    with pytest.raises(NotFound):
        guarantee.records.get(manager, "customer", guarantee.ids["customer"]["shanghai_credit"])
    # The field rules of the role held elsewhere apply (branch_manager inherits credit_officer's).
    assert {"blacklisted", "blacklist_reason"} <= guarantee.store.field_access(manager, "customer").read_only


def test_role_above_own_unit_reaches_subtree(guarantee: Guarantee) -> None:
    officer = guarantee.user("bj.officer", "beijing_credit", ("credit_officer", "beijing_branch"))
    staff = guarantee.user("bj.staff", "dealer_bj_yizhuang", ("dealer_staff", "beijing_branch"))

    assert guarantee.units_read(officer, "customer") == BEIJING
    # "unit" is the unit where the role is held, not the user's own unit.
    assert guarantee.units_read(staff, "customer") == {"beijing_branch"}


def test_same_role_in_two_units_reads_both(guarantee: Guarantee) -> None:
    officer = guarantee.user("two.officer", "head_office", ("credit_officer", "beijing_credit"), ("credit_officer", "shanghai_branch"))

    assert guarantee.units_read(officer, "customer") == {"beijing_credit"} | SHANGHAI


def test_roles_with_different_scopes_add_up(guarantee: Guarantee) -> None:
    both = guarantee.user("mixed", "dealer_bj_yizhuang", ("dealer_staff", "dealer_bj_yizhuang"), ("credit_officer", "shanghai_branch"))

    assert guarantee.units_read(both, "customer") == {"dealer_bj_yizhuang"} | SHANGHAI
    lines = guarantee.store.scopes(both, "read", "customer")
    assert {(held.line.role, held.line.scope, held.unit) for held in lines} == {
        ("dealer_staff", "unit", "dealer_bj_yizhuang"), ("credit_officer", "unit_and_below", "shanghai_branch")}


def test_filter_uses_held_unit(guarantee: Guarantee) -> None:
    # The collector's filter: state == 'repaying' and org_unit in user.org_units.
    collector = guarantee.user("ho.collector", "head_office", ("collector", "beijing_post_loan"))
    twice = guarantee.user("two.collector", "head_office", ("collector", "beijing_post_loan"), ("collector", "shanghai_post_loan"))

    assert guarantee.units_read(collector, "loan_application") == {"beijing_post_loan"}
    assert guarantee.units_read(twice, "loan_application") == {"beijing_post_loan", "shanghai_post_loan"}


def test_user_without_a_role_reads_nothing(guarantee: Guarantee) -> None:
    nobody = guarantee.user("nobody", "beijing_branch")

    assert not guarantee.store.allows(nobody, "read", "customer")
    with pytest.raises(PermissionDenied):
        guarantee.records.list(nobody, "customer")


def test_explain_names_held_unit(guarantee: Guarantee) -> None:
    manager = guarantee.user("ho.manager", "head_office", ("branch_manager", "beijing_branch"))
    head_office_customer = guarantee.ids["customer"]["head_office"]

    answer = explain(guarantee.store, guarantee.schema, guarantee.engine, manager, "read", "customer", head_office_customer)

    assert answer.allowed
    assert answer.assignments == [("branch_manager", "beijing_branch")]
    assert answer.roles == ["branch_manager", "credit_officer"]
    assert [(held.line.role, held.role, held.unit) for held in answer.held] == [("credit_officer", "branch_manager", "beijing_branch")]
    assert "beijing_branch" in (answer.scope_sql or "")
    assert "head_office" not in (answer.scope_sql or "")
    assert answer.record_in_scope is False
    assert "outside the data scope" in answer.reason("en")


def test_explain_system_resource(guarantee: Guarantee) -> None:
    administrator = guarantee.user("root", "beijing_branch", ("admin", "head_office"))
    staff = guarantee.user("staff", "dealer_bj_yizhuang", ("dealer_staff", "dealer_bj_yizhuang"))

    allowed = explain(guarantee.store, guarantee.schema, guarantee.engine, administrator, "administer", SYSTEM_RESOURCE)
    denied = explain(guarantee.store, guarantee.schema, guarantee.engine, staff, "audit", SYSTEM_RESOURCE)

    assert allowed.allowed
    assert not allowed.has_records
    assert [(line.role, line.entity, line.action) for line in allowed.granting] == [("admin", "system", "administer")]
    assert [(held.role, held.unit) for held in allowed.held] == [("admin", "head_office")]
    assert allowed.scope_sql is None
    assert allowed.reason("en") == "allowed by the matching policy line(s)"
    assert not denied.allowed
    assert denied.reason("en") == "no policy line grants audit on system to the roles dealer_staff"
    assert denied.reason("zh-CN") == "没有策略把 system 的 audit 授予角色 dealer_staff"
    with pytest.raises(ValueError):
        explain(guarantee.store, guarantee.schema, guarantee.engine, administrator, "administer", SYSTEM_RESOURCE, 1)


# The shop app of tests/runtime/test_permissions.py ----------------------------------------------


def test_shop_unit_and_filter_use_held_unit(shop: ShopRuntime) -> None:
    filtered = PERMISSIONS.replace(
        '{role: buyer, entity: product, actions: [read], filter: "price <= 20 or created_by == user.id"}',
        '{role: buyer, entity: product, actions: [read], filter: "org_unit == user.org_unit or org_unit in user.org_units"}',
    )
    assert filtered != PERMISSIONS
    shop.reload({"permissions/roles.yaml": filtered})
    store = PermissionStore(shop.model, shop.schema, shop.engine)
    admin = PermissionAdmin(store)
    records = RecordService(shop.model, shop.schema, shop.engine, access=PolicyAccess(store, shop.schema), keys=shop.keys)
    for unit in ("hq", "bj", "bj_sales", "sh"):
        shop.records.create(Actor(id="zoe", roles=("system",), org_unit=unit), "product", {"name": unit, "price": 10})
    admin.add_user(ADMIN, "erin", "erin", "Erin", "bj_sales")
    admin.assign(ADMIN, "erin", "branch_clerk", "bj")
    admin.add_user(ADMIN, "frank", "frank", "Frank", "bj")
    admin.assign(ADMIN, "frank", "buyer", "sh")

    def names(user: str, home: str, held: str) -> set[str]:
        actor = Actor(id=user, roles=(), org_unit=home, org_units=(held,))
        return {row["name"] for row in records.list(actor, "product").rows}

    assert names("erin", "bj_sales", "bj") == {"bj"}
    assert names("frank", "bj", "sh") == {"sh"}


def test_two_roles_in_one_unit_add_up(shop: ShopRuntime) -> None:
    shop.reload({"permissions/roles.yaml": PERMISSIONS})
    store = PermissionStore(shop.model, shop.schema, shop.engine)
    admin = PermissionAdmin(store)
    records = RecordService(shop.model, shop.schema, shop.engine, access=PolicyAccess(store, shop.schema), keys=shop.keys)
    for owner, unit in (("gina", "bj_sales"), ("zoe", "bj_sales"), ("gina", "bj")):
        shop.records.create(Actor(id=owner, roles=("system",), org_unit=unit), "product", {"name": f"{owner}@{unit}", "price": 10})
    admin.add_user(ADMIN, "gina", "gina", "Gina", "bj_sales")
    admin.assign(ADMIN, "gina", "clerk", "bj")
    admin.assign(ADMIN, "gina", "branch_clerk", "bj_sales")
    gina = Actor(id="gina", roles=("branch_clerk", "clerk"), org_unit="bj_sales", org_units=("bj",))

    # clerk (own, held in bj) OR branch_clerk (unit, held in bj_sales).
    assert {row["name"] for row in records.list(gina, "product").rows} == {"gina@bj_sales", "zoe@bj_sales", "gina@bj"}
