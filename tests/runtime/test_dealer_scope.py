"""Dealer staff of the guarantee app see only their own dealer's customers and loan applications."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from metamodel import load_app
from runtime.access import Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.errors import NotFound, PermissionDenied
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess
from runtime.records import RecordService
from runtime.schema import build_schema
from tests.conftest import REPOSITORY
from tests.runtime.test_permission_matrix import Seeder

ADMIN = Actor(id="admin", roles=("system",))
DEALERS = ("dealer_bj_yizhuang", "dealer_sh_pudong")


def test_dealer_staff_see_own_dealer_only(engine: Engine, tmp_path: Path) -> None:
    model = load_app(REPOSITORY / "configs" / "guarantee")
    schema = build_schema(model)
    migrate(engine, schema, model, backup_root=tmp_path / "backups")
    keys = KeyRing.generate()
    system = RecordService(model, schema, engine, access=SystemAccess(), keys=keys)
    store = PermissionStore(model, schema, engine)
    admin = PermissionAdmin(store)
    seeder = Seeder(system)

    own: dict[str, dict[str, int]] = {}
    for dealer_unit in DEALERS:
        staff = f"staff_{dealer_unit}"
        admin.add_user(ADMIN, staff, staff, staff, dealer_unit)
        admin.assign(ADMIN, staff, "dealer_staff", dealer_unit)
        bank = seeder.bank(staff, dealer_unit)
        refs = {
            "customer": seeder.customer(staff, dealer_unit),
            "dealer": seeder.dealer(staff, dealer_unit),
            "product": seeder.loan_product(staff, dealer_unit, bank),
            "vehicle": seeder.vehicle(staff, dealer_unit),
        }
        own[dealer_unit] = {"customer": refs["customer"], "loan_application": seeder.loan_application(staff, dealer_unit, refs)}

    records = RecordService(model, schema, engine, access=PolicyAccess(store, schema), keys=keys)
    for dealer_unit, other_unit in (DEALERS, DEALERS[::-1]):
        staff = Actor(id=f"staff_{dealer_unit}", roles=("dealer_staff",), org_unit=dealer_unit)
        for entity in ("customer", "loan_application"):
            listed = {row["id"] for row in records.list(staff, entity).rows}
            assert listed == {own[dealer_unit][entity]}, (dealer_unit, entity)
            assert records.get(staff, entity, own[dealer_unit][entity])["id"] == own[dealer_unit][entity]
            with pytest.raises(NotFound):
                records.get(staff, entity, own[other_unit][entity])
        with pytest.raises(PermissionDenied):
            records.create(staff, "bank", {"code": "X", "name": "X"})


def test_inherited_role_keeps_parent_field_rules(engine: Engine, tmp_path: Path) -> None:
    model = load_app(REPOSITORY / "configs" / "guarantee")
    schema = build_schema(model)
    migrate(engine, schema, model, backup_root=tmp_path / "backups")
    store = PermissionStore(model, schema, engine)
    admin = PermissionAdmin(store)
    admin.add_user(ADMIN, "manager", "manager", "manager", DEALERS[0])
    admin.assign(ADMIN, "manager", "dealer_manager", DEALERS[0])

    rules = store.field_access(Actor(id="manager", roles=("dealer_manager",), org_unit=DEALERS[0]), "customer")
    assert {"blacklisted", "blacklist_reason"} <= rules.hidden
    assert "id_number" in rules.masked
