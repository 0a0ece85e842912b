"""Dealer onboarding: approval opens the dealer's org unit and staff accounts; later changes follow the staff table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from guarantee_world import SYSTEM, World, hooks_module, messages
from onboarding_support import REASON, add_managers, apply, approve, credit_code, manager, onboard, sent_passwords
from runtime.account_admin import AccountAdmin
from runtime.errors import ValidationFailed
from runtime.permission_admin import PermissionAdmin


@pytest.fixture
def world_with_managers(world: World) -> World:
    add_managers(world)
    return world


def unit_row(world: World, name: str) -> dict[str, str] | None:
    units = {row.name: row for row in PermissionAdmin(world.runtime.permissions()).org_units()}
    row = units.get(name)
    return None if row is None else {"parent": row.parent or "", "kind": row.kind, "label": row.label.zh_cn, "origin": row.origin}


def test_approval_opens_the_dealers_unit_and_staff_accounts(world_with_managers: World) -> None:
    world = world_with_managers
    dealer = apply(world, 1)
    assert dealer["state"] == "applying"
    assert dealer["cooperation_status"] == "applying"
    assert dealer["org_unit"] == "beijing_branch"

    dealer = approve(world, dealer)

    unit = f"dealer_{credit_code(1).lower()}"
    assert dealer["state"] == "active"
    assert dealer["cooperation_status"] == "active"
    assert dealer["org_unit"] == unit
    assert dealer["unit_name"] == unit
    assert unit_row(world, unit) == {"parent": "beijing_branch", "kind": "dealer", "label": dealer["name"], "origin": "runtime"}
    usernames = [row["username"] for row in dealer["staff"]]
    # Login names are the unit's short form ("dlr" and the credit code's last six characters) and a number.
    short = f"dlr{credit_code(1).lower()[-6:]}"
    assert usernames == [f"{short}_01", f"{short}_02"]
    accounts = AccountAdmin(world.runtime.accounts())
    assert [accounts.account(name).assignments for name in usernames] == [  # type: ignore[union-attr]
        ((("dealer_manager", unit),)), ((("dealer_staff", unit),))]
    # The one-time passwords went by SMS, work once typed, and are stored nowhere in the record.
    passwords = sent_passwords(world)
    assert set(passwords) == set(usernames)
    for username in usernames:
        assert world.runtime.accounts().sign_in(username, passwords[username]).outcome == "ok"
        assert passwords[username] not in str(dealer)


def test_login_names_skip_those_another_account_uses(world_with_managers: World) -> None:
    world = world_with_managers
    short = f"dlr{credit_code(8).lower()[-6:]}"
    PermissionAdmin(world.runtime.permissions()).add_user(SYSTEM, f"{short}_01", f"{short}_01", "别处的账号", "shanghai_branch")
    dealer = onboard(world, 8)
    assert [row["username"] for row in dealer["staff"]] == [f"{short}_02", f"{short}_03"]
    assert AccountAdmin(world.runtime.accounts()).account(f"{short}_01").org_unit == "shanghai_branch"  # type: ignore[union-attr]


@pytest.mark.parametrize("unit, prefix", [("dealer_91110302700000001x", "dlr00001x"), ("dealer_bj_yizhuang", "bj_yizhuang"),
                                          ("dealer_000042", "dlr000042")])
def test_login_prefix_is_the_units_short_form(unit: str, prefix: str) -> None:
    assert hooks_module("dealer_hooks").login_prefix(unit) == prefix


def test_onboarding_is_audited(world_with_managers: World) -> None:
    world = world_with_managers
    dealer = onboard(world, 2)
    audit = world.runtime.schema.audit
    with world.runtime.engine.connect() as connection:
        actions = [(row.actor, row.action, row.entity) for row in connection.execute(
            select(audit.c.actor, audit.c.action, audit.c.entity).order_by(audit.c.id))]
    assert ("bj_manager", "add_org_unit", "permissions") in actions
    assert ("bj_manager", "move", "dealer") in actions
    assert actions.count(("bj_manager", "add_user", "account")) == 2
    assert ("bj_manager", "transition:approve_onboarding", "dealer") in actions
    assert dealer["unit_name"]


def test_staff_rows_added_and_removed(world_with_managers: World) -> None:
    world = world_with_managers
    dealer = onboard(world, 3)
    first, second = dealer["staff"]
    rows = [first, {"name": "孙丽", "mobile": "13710003333", "role": "dealer_staff", "username": "sunli_yz"}]
    dealer = world.users.update(manager(), "dealer", dealer["id"], {"staff": rows}, version=dealer["version"], reason=REASON)

    accounts = AccountAdmin(world.runtime.accounts())
    added = accounts.account("sunli_yz")
    assert added is not None
    assert added.active
    assert added.assignments == (("dealer_staff", dealer["unit_name"]),)
    assert "sunli_yz" in sent_passwords(world)
    removed = accounts.account(second["username"])
    assert removed is not None
    assert not removed.active
    assert world.runtime.accounts().sign_in(second["username"], sent_passwords(world)[second["username"]]).outcome == "wrong"


def test_suspending_disables_the_staff_and_resuming_enables_them(world_with_managers: World) -> None:
    world = world_with_managers
    dealer = onboard(world, 4)
    accounts = AccountAdmin(world.runtime.accounts())
    with pytest.raises(ValidationFailed) as refused:
        world.users.transition(manager(), "dealer", dealer["id"], "suspend", version=dealer["version"])
    assert "comment" in messages(refused.value).lower() or "reason" in messages(refused.value).lower()

    dealer = world.users.transition(manager(), "dealer", dealer["id"], "suspend", version=dealer["version"], comment="逾期率超标")
    assert dealer["cooperation_status"] == "suspended"
    assert [accounts.account(row["username"]).active for row in dealer["staff"]] == [False, False]  # type: ignore[union-attr]

    dealer = world.users.transition(manager(), "dealer", dealer["id"], "resume", version=dealer["version"], comment="整改完成")
    assert dealer["cooperation_status"] == "active"
    assert [accounts.account(row["username"]).active for row in dealer["staff"]] == [True, True]  # type: ignore[union-attr]


def test_declining_needs_a_reason_and_opens_nothing(world_with_managers: World) -> None:
    world = world_with_managers
    dealer = apply(world, 5)
    dealer = world.users.transition(manager(), "dealer", dealer["id"], "decline_onboarding", version=dealer["version"],
                                    comment="资质不全")
    assert dealer["state"] == "declined"
    assert dealer["cooperation_status"] == "declined"
    assert unit_row(world, f"dealer_{credit_code(5).lower()}") is None
    assert sent_passwords(world) == {}


def test_approval_stops_when_sms_rejected(world_with_managers: World) -> None:
    world = world_with_managers
    # The SMS sandbox refuses numbers ending in 0000.
    dealer = apply(world, 6, staff=[{"name": "周杰", "mobile": "13900000000", "role": "dealer_staff"}])
    with pytest.raises(ValidationFailed) as refused:
        approve(world, dealer)
    assert "first password could not be sent" in messages(refused.value)
    assert unit_row(world, f"dealer_{credit_code(6).lower()}") is None
    assert world.runtime.permissions().tree.parents.get(f"dealer_{credit_code(6).lower()}") is None
    assert world.users.get(manager(), "dealer", dealer["id"])["state"] == "applying"


def test_another_branchs_manager_cannot_approve(world_with_managers: World) -> None:
    world = world_with_managers
    dealer = apply(world, 7)
    with pytest.raises(Exception) as refused:
        approve(world, dealer, "sh_manager")
    assert type(refused.value).__name__ in ("NotFound", "PermissionDenied")
