"""Helpers of the dealer onboarding tests: branch managers, a dealer application, its approval, its staff's actors."""

from __future__ import annotations

from typing import Any

import stdnum.cn.uscc

from guarantee_world import SYSTEM, World, card_number
from runtime.access import Actor
from runtime.permission_admin import PermissionAdmin

#: Branch managers who approve dealers, with the unit they work in.
MANAGERS = {"bj_manager": "beijing_branch", "sh_manager": "shanghai_branch"}
#: Operations officers who enter the dealers' applications, by the manager of their branch.
CLERKS = {"bj_manager": "bj_clerk", "sh_manager": "sh_clerk"}
REASON = "入驻资料审核"


def add_managers(world: World) -> None:
    admin = PermissionAdmin(world.runtime.permissions())
    for user, unit in MANAGERS.items():
        admin.add_user(SYSTEM, user, user, user, unit)
        admin.assign(SYSTEM, user, "branch_manager", unit)
        admin.add_user(SYSTEM, CLERKS[user], CLERKS[user], CLERKS[user], unit)
        admin.assign(SYSTEM, CLERKS[user], "operations_officer", unit)


def manager(user: str = "bj_manager") -> Actor:
    return Actor(id=user, name=user, roles=("branch_manager",), org_unit=MANAGERS[user])


def clerk(user: str = "bj_manager") -> Actor:
    """Return the operations officer of the manager's branch."""
    return Actor(id=CLERKS[user], name=CLERKS[user], roles=("operations_officer",), org_unit=MANAGERS[user])


def credit_code(serial: int) -> str:
    first = f"91110302{700000000 + serial:09d}"
    return first + stdnum.cn.uscc.calc_check_digit(first)


def apply(world: World, serial: int, *, user: str = "bj_manager", staff: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """File a dealer's onboarding application as the operations officer of the manager's branch."""
    name = f"北京亦庄测试{serial}汽车销售服务有限公司"
    values = {
        "name": name, "credit_code": credit_code(serial), "legal_representative": "王建国", "city": "北京市",
        "bank_name": "中国工商银行北京亦庄支行", "account_name": name, "bank_account": card_number(500 + serial),
        "signed_on": "2026-01-05",
        "staff": staff if staff is not None else [
            {"name": "李娜", "mobile": f"1391000{serial:04d}", "role": "dealer_manager"},
            {"name": "赵强", "mobile": f"1381000{serial:04d}", "role": "dealer_staff"},
        ],
    }
    return world.users.create(clerk(user), "dealer", values, reason=REASON)


def approve(world: World, dealer: dict[str, Any], user: str = "bj_manager") -> dict[str, Any]:
    return world.users.transition(manager(user), "dealer", dealer["id"], "approve_onboarding", version=dealer["version"])


def onboard(world: World, serial: int, user: str = "bj_manager") -> dict[str, Any]:
    return approve(world, apply(world, serial, user=user), user)


def staff_actor(dealer: dict[str, Any], index: int = 0) -> Actor:
    row = dealer["staff"][index]
    return Actor(id=row["username"], name=row["name"], roles=(row["role"],), org_unit=dealer["unit_name"])


def sent_passwords(world: World) -> dict[str, str]:
    """Return the one-time passwords the SMS sandbox carried, by login name."""
    sms: Any = world.runtime.records.providers["sms"] if world.runtime.records.providers is not None else None
    return {item["variables"]["username"]: item["variables"]["password"] for item in sms.outbox
            if item["template"] == "dealer_account_opened"}
