"""Hooks of dealer onboarding: the dealer's own org unit, its staff accounts, and applications filed by its staff.

Approving the onboarding (flows/dealer_onboarding.yaml) gives the dealer an org unit of kind
"dealer" below the branch that owns the record, named after its credit code and labelled with
its name, and moves the dealer record there. Each staff row gets an account in that unit with
the row's role; its one-time password goes by SMS to the row's mobile and is kept nowhere.
Rows added later to an active dealer get their accounts on saving; a removed row disables its
account, and a row added again with the same login name enables it again. Suspending or ending
the cooperation disables every account of the dealer; resuming enables them again.

Dealer staff file applications for their own dealer only: the one whose record their unit owns.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from runtime.hook_organization import HookOrganization
from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, ListQuery

from .context import providers_of, reference_id, system_records

logger = logging.getLogger(__name__)

#: The org unit kind of a dealer, as permissions/org_units.yaml names it.
DEALER_KIND = "dealer"
#: The length of a unified social credit code, the part of a dealer unit's name after "dealer_".
USCC_LENGTH = 18
#: The roles a staff row may hold; both work inside the dealer's unit.
DEALER_ROLES = ("dealer_staff", "dealer_manager")
#: The fields of a staff row (entities/dealer.yaml).
STAFF_FIELDS = ("name", "mobile", "role", "username")
#: The SMS template that gives a new user the login name and first password.
ACCOUNT_SMS_TEMPLATE = "dealer_account_opened"


def organization_of(context: HookContext) -> HookOrganization:
    if context.organization is None:
        raise HookError("Org units and accounts cannot be changed here", "此处无法维护组织机构与账号")
    return context.organization


def dealer_unit_name(record: Mapping[str, Any]) -> str:
    """Return the org unit name of a dealer: "dealer_" and its credit code, else its record id."""
    code = str(record.get("credit_code") or "").strip().lower()
    return f"dealer_{code}" if code else f"dealer_{int(record['id']):06d}"


@hook("guarantee.sync_cooperation_status")
def sync_cooperation_status(context: HookContext) -> dict[str, Any]:
    """Keep the cooperation status equal to the onboarding flow's state."""
    return {"cooperation_status": context.record.get("state")}


@hook("guarantee.onboard_dealer")
def onboard_dealer(context: HookContext) -> dict[str, Any]:
    """Give the approved dealer its own org unit, move its record there and open its staff accounts."""
    organization = organization_of(context)
    record = context.record
    owner = str(record.get("org_unit") or "")
    current = organization.unit(owner)
    if current is not None and current.kind == DEALER_KIND:
        # A dealer whose record a dealer unit owns already has its own unit.
        unit = owner
    else:
        unit = dealer_unit_name(record)
        if organization.unit(unit) is None:
            name = str(record.get("name") or unit)
            english = str(record.get("short_name") or f"Dealer {record.get('credit_code') or record['id']}")
            organization.add_unit(unit, parent=owner, kind=DEALER_KIND, label_zh=name[:100], label_en=english[:100])
        organization.move("dealer", int(record["id"]), unit)
    rows = open_accounts(context, organization, unit, list(record.get("staff") or []), previous=[])
    logger.info("dealer %s onboarded into %s with %s staff accounts", record.get("id"), unit, len(rows))
    return {"unit_name": unit, "staff": rows}


@hook("guarantee.sync_dealer_staff")
def sync_dealer_staff(context: HookContext) -> dict[str, Any] | None:
    """On saving an onboarded dealer: open accounts for new staff rows and disable those of removed rows."""
    record = context.record
    unit = record.get("unit_name")
    if not unit or record.get("state") not in ("active",) or "staff" not in record:
        return None
    stored = system_records(context).get("dealer", int(record["id"]))
    previous = list(stored.get("staff") or [])
    rows = open_accounts(context, organization_of(context), str(unit), list(record.get("staff") or []), previous)
    return {"staff": rows}


@hook("guarantee.disable_dealer_staff")
def disable_dealer_staff(context: HookContext) -> None:
    """Disable the accounts of every staff row, as the cooperation is suspended or ended."""
    _set_staff_active(context, False)


@hook("guarantee.enable_dealer_staff")
def enable_dealer_staff(context: HookContext) -> None:
    """Enable the accounts of every staff row again, as the cooperation resumes."""
    _set_staff_active(context, True)


def _set_staff_active(context: HookContext, active: bool) -> None:
    organization = organization_of(context)
    for row in context.record.get("staff") or []:
        username = row.get("username")
        if username and organization.account(str(username)) is not None:
            organization.set_active(str(username), active)


def open_accounts(context: HookContext, organization: HookOrganization, unit: str, rows: list[Mapping[str, Any]],
                  previous: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Open or enable an account for each row, disable the accounts of `previous` rows no longer listed; return the rows.

    A row without a login name gets one made from the short form of the unit's name and a number
    (login_prefix), skipping names other accounts already use.
    """
    taken = {str(row.get("username")) for row in [*rows, *previous] if row.get("username")}
    result: list[dict[str, Any]] = []
    for index, row in enumerate(rows, start=1):
        values = {name: row.get(name) for name in STAFF_FIELDS}
        if not values.get("username"):
            values["username"] = _free_username(organization, login_prefix(unit), taken)
            taken.add(values["username"])
        role = str(values.get("role") or "dealer_staff")
        if role not in DEALER_ROLES:
            raise HookError(f"Staff row {index}: the role must be dealer staff or dealer manager",
                            f"第 {index} 行人员：岗位只能是经销商业务员或经销商负责人", field="staff")
        username = str(values["username"])
        account = organization.account(username)
        if account is None:
            password = organization.add_user(username, username=username, display_name=str(values.get("name") or username), unit=unit)
            organization.assign(username, role, unit)
            _send_password(context, index, values, password)
        elif account.org_unit != unit:
            raise HookError(f"Staff row {index}: the login name {username} belongs to another organization; choose another",
                            f"第 {index} 行人员：登录名 {username} 已被其他机构使用，请换一个", field="staff")
        else:
            organization.assign(username, role, unit)
            if not account.active:
                organization.set_active(username, True)
        result.append(values)
    listed = {row["username"] for row in result}
    for row in previous:
        username = row.get("username")
        if username and username not in listed and organization.account(str(username)) is not None:
            organization.set_active(str(username), False)
    return result


def login_prefix(unit: str) -> str:
    """Return the short form of a dealer unit's name that its staff's login names start with.

    A unit named after a credit code ("dealer_" and 18 characters) gives "dlr" and the code's
    last six characters (dlr00001x). A declared unit drops "dealer_": dealer_bj_yizhuang gives
    bj_yizhuang. A unit named after a record id gives "dlr" and the id.
    """
    rest = unit.removeprefix("dealer_")
    if len(rest) == USCC_LENGTH:
        return f"dlr{rest[-6:]}"
    return rest if rest[:1].isalpha() else f"dlr{rest}"


def _free_username(organization: HookOrganization, prefix: str, taken: set[str]) -> str:
    """Return the first of prefix_01, prefix_02 ... that no row lists and no account uses."""
    number = 1
    while f"{prefix}_{number:02d}" in taken or organization.account(f"{prefix}_{number:02d}") is not None:
        number += 1
    return f"{prefix}_{number:02d}"


def _send_password(context: HookContext, index: int, row: Mapping[str, Any], password: str) -> None:
    """Send the new account's login name and one-time password to the row's mobile; stop if the SMS is refused."""
    receipt = providers_of(context)["sms"].send(str(row.get("mobile")), ACCOUNT_SMS_TEMPLATE,
                                               {"name": row.get("name"), "username": row.get("username"), "password": password})
    if not receipt.accepted:
        raise HookError(f"Staff row {index}: the first password could not be sent to the mobile number ({receipt.reason}); "
                        "correct the number and try again",
                        f"第 {index} 行人员：初始密码短信无法发送到该手机号（{receipt.reason}）；请更正手机号后重试", field="staff")


@hook("guarantee.check_own_dealer")
def check_own_dealer(context: HookContext) -> dict[str, Any] | None:
    """Make dealer staff file applications for their own dealer; fill it in when they leave it empty."""
    actor = context.actor
    if not set(actor.roles) & set(DEALER_ROLES) or not actor.org_unit:
        return None
    records = system_records(context)
    chosen = reference_id(context.record.get("dealer"))
    if chosen is None:
        own = records.list("dealer", ListQuery(where=Condition("org_unit", "eq", actor.org_unit), limit=2)).rows
        return {"dealer": int(own[0]["id"])} if len(own) == 1 else None
    dealer = records.get("dealer", chosen)
    if dealer.get("org_unit") != actor.org_unit:
        raise HookError("Dealer staff file applications for their own dealer only; choose your dealer",
                        "经销商人员只能为本经销商提交贷款申请；请选择您所在的经销商", field="dealer")
    return None
