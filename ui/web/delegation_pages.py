"""The delegation pages: "My delegations" for every user, and the same for any user under /admin/users.

A user hands their roles, or one of them, to another user for a range of days with a reason.
The page lists the delegations the user gave and received that have not ended, and revokes one they gave.
Administrators (the `administer` action on the system) do the same for anyone from the
user's admin page. runtime.delegations checks and audits every change, so these pages
hold no rule of their own beyond reading the form. The runtime's errors, and those of
dates that cannot be read, come back beside their fields with status 422.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.access import Actor
from runtime.delegations import MAX_REASON_LENGTH, Delegations, local_today
from runtime.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from ui.web import i18n
from ui.web.admin_support import admin_only, admin_page, read_form
from ui.web.rendering import render
from ui.web.state import actor_of, lang_of, web

logger = logging.getLogger(__name__)

FIELDS = ("delegate", "role", "starts_on", "ends_on", "reason")
NOTICES = {
    "created": ("The delegation was saved.", "委托已保存。"),
    "revoked": ("The delegation was revoked.", "委托已撤销。"),
}


@dataclass(frozen=True)
class DelegationRow:
    id: int
    #: The other user: the delegate of a delegation given, the delegator of one received.
    other: str
    role: str
    starts_on: datetime.date
    ends_on: datetime.date
    reason: str
    running: bool
    can_revoke: bool


def _page_url(owner: str, admin: bool) -> str:
    return f"/admin/users/{quote(owner, safe='@.-_')}/delegations" if admin else "/delegations"


def _owner(request: Request, admin: bool) -> Actor:
    """Return the user whose delegations the page shows: the signed-in user, or the user of the admin page."""
    if not admin:
        return actor_of(request)
    state = web(request)
    user = state.accounts.user(str(request.path_params["user_id"]))
    if user is None:
        raise HTTPException(404, i18n.pick(lang_of(request), "There is no such user.", "没有这个用户。"))
    return state.accounts.actor(user)


def _context(request: Request, owner: Actor, admin: bool, values: Mapping[str, str] | None = None,
             errors: Mapping[str, list[FieldError]] | None = None) -> dict[str, Any]:
    state = web(request)
    actor = actor_of(request)
    lang = lang_of(request)
    today = local_today(state.records)
    may_administer = state.permissions.allows(actor, "administer", m.SYSTEM_RESOURCE)

    def name_of(user_id: str) -> str:
        user = state.accounts.user(user_id)
        return f"{user['display_name']} ({user_id})" if user is not None and user["display_name"] else user_id

    delegations = Delegations(state.records)

    def role_label(role: str | None) -> str:
        return i18n.label(delegations.role_label(role), lang)

    given: list[DelegationRow] = []
    received: list[DelegationRow] = []
    for row in delegations.of_user(owner.id):
        mine = row["delegator"] == owner.id
        item = DelegationRow(
            int(row["id"]), name_of(row["delegate"] if mine else row["delegator"]), role_label(row["role"]), row["starts_on"],
            row["ends_on"], str(row["reason"] or ""), row["starts_on"] <= today <= row["ends_on"],
            row["delegator"] == actor.id or may_administer,
        )
        (given if mine else received).append(item)
    notice = NOTICES.get(request.query_params.get("done", ""))
    shown_errors = {name: [item.message(lang) for item in items] for name, items in (errors or {}).items()}
    return {
        "title": i18n.pick(lang, f"Delegations of {owner.name or owner.id}", f"{owner.name or owner.id} 的委托") if admin
        else i18n.pick(lang, "My delegations", "我的委托"),
        "owner": owner,
        "admin": admin,
        "action": _page_url(owner.id, admin),
        "roles": [(role, role_label(role)) for role in owner.roles],
        "values": {"starts_on": today.isoformat(), "ends_on": today.isoformat(), **(values or {})},
        "reason_max": MAX_REASON_LENGTH,
        "errors": shown_errors,
        "other_errors": [message for name, messages in shown_errors.items() if name not in FIELDS for message in messages],
        "given": given,
        "received": received,
        "notice": i18n.pick(lang, *notice) if notice else None,
    }


def _show(request: Request, admin: bool, status: int = 200, **extra: Any) -> Response:
    owner = _owner(request, admin)
    context = _context(request, owner, admin, **extra)
    if admin:
        return admin_page(request, "admin_delegations.html", context, status=status)
    return render(request, "delegations.html", context, status=status)


def _parse_day(values: Mapping[str, str], name: str, errors: dict[str, list[FieldError]], en: str, zh: str) -> datetime.date | None:
    text = values.get(name, "")
    if not text:
        errors[name] = [FieldError("required", f"Choose the {en}.", f"请选择{zh}。")]
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        errors[name] = [FieldError("type.date", f"Enter the {en} as a date such as 2026-12-01, not {text!r}.",
                                   f"请按 2026-12-01 的格式填写{zh}，而不是 {text!r}。")]
        return None


async def _create(request: Request, admin: bool) -> Response:
    owner = _owner(request, admin)
    actor = actor_of(request)
    values = await read_form(request)
    errors: dict[str, list[FieldError]] = {}
    delegate = values.get("delegate", "")
    if not delegate:
        errors["delegate"] = [FieldError("required", "Enter the user id or sign-in name of the user who acts for you.", "请填写代办人的用户编号或登录名。")]
    role = values.get("role") or None
    starts_on = _parse_day(values, "starts_on", errors, "first day", "开始日期")
    ends_on = _parse_day(values, "ends_on", errors, "last day", "结束日期")
    if starts_on is None or ends_on is None:
        logger.info("delegation of %s by %s rejected: %s", owner.id, actor.id, ", ".join(errors))
        return _show(request, admin, 422, values=values, errors=errors)

    # With both days read, the runtime checks the rest, so that every problem shows at once. An empty
    # delegate is no active user, so the runtime rejects the delegation and writes nothing.
    try:
        delegation_id = Delegations(web(request).records).create(actor, owner.id, delegate, starts_on, ends_on, role=role,
                                                                 reason=values.get("reason") or None)
    except ValidationFailed as failed:
        logger.info("delegation of %s to %s by %s rejected: %s", owner.id, delegate, actor.id, ", ".join(failed.errors))
        for path, items in failed.errors.items():
            errors.setdefault(path, items)
        return _show(request, admin, 422, values=values, errors=errors)
    except PermissionDenied:
        raise HTTPException(403, i18n.pick(lang_of(request), "You may only delegate your own roles.", "您只能委托自己的角色。"))
    logger.info("delegation %s of %s to %s saved by %s from the web", delegation_id, owner.id, delegate, actor.id)
    return RedirectResponse(_page_url(owner.id, admin) + "?done=created", status_code=303)


async def _revoke(request: Request, admin: bool) -> Response:
    owner = _owner(request, admin)
    actor = actor_of(request)
    await read_form(request)
    try:
        Delegations(web(request).records).revoke(actor, int(request.path_params["delegation_id"]))
    except NotFound:
        raise HTTPException(404, i18n.pick(lang_of(request), "The delegation does not exist or has been revoked.", "委托不存在或已撤销。"))
    except PermissionDenied:
        raise HTTPException(403, i18n.pick(lang_of(request), "Only the delegator or an administrator may revoke a delegation.",
                                           "只有委托人或管理员才能撤销委托。"))
    return RedirectResponse(_page_url(owner.id, admin) + "?done=revoked", status_code=303)


async def my_delegations(request: Request) -> Response:
    return _show(request, False)


async def create_mine(request: Request) -> Response:
    return await _create(request, False)


async def revoke_mine(request: Request) -> Response:
    return await _revoke(request, False)


async def user_delegations(request: Request) -> Response:
    return _show(request, True)


async def create_for_user(request: Request) -> Response:
    return await _create(request, True)


async def revoke_for_user(request: Request) -> Response:
    return await _revoke(request, True)


def routes() -> list[BaseRoute]:
    return [
        Route("/delegations", my_delegations, methods=["GET"]),
        Route("/delegations", create_mine, methods=["POST"]),
        Route("/delegations/{delegation_id:int}/revoke", revoke_mine, methods=["POST"]),
        Route("/admin/users/{user_id}/delegations", admin_only(user_delegations), methods=["GET"]),
        Route("/admin/users/{user_id}/delegations", admin_only(create_for_user), methods=["POST"]),
        Route("/admin/users/{user_id}/delegations/{delegation_id:int}/revoke", admin_only(revoke_for_user), methods=["POST"]),
    ]
