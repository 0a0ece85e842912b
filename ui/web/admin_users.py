"""Admin pages for users: the list with its filters, creation, passwords, activation, unlocking and roles."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from runtime.account_admin import AccountAdmin, AccountRejected, UserAccount, UserQuery
from runtime.accounts import password_problem
from runtime.permission_admin import PermissionConfigError
from ui.web.admin_support import admin_only, admin_page, config_error_field, labels, parse_int, read_form, unit_options
from ui.web.i18n import label, pick
from ui.web.state import WebState, actor_of, lang_of, web

PAGE_SIZE = 50
#: User ids appear in addresses and the audit log, so they keep to a small set of characters.
USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

#: Notices shown after a change, by the `done` parameter of the redirect.
NOTICES = {
    "created": ("The user was created. Give it roles below.", "用户已创建。请在下方为其分配角色。"),
    "password": ("The password was set. The user's open sessions have ended.", "密码已设置，该用户已登录的会话已结束。"),
    "activated": ("The user was activated.", "用户已启用。"),
    "deactivated": ("The user was deactivated: it cannot sign in, and its sessions and API tokens stop working.",
                    "用户已停用：无法登录，其会话和 API 令牌立即失效。"),
    "unlocked": ("The sign-in lock was cleared.", "已解除登录锁定。"),
    "assigned": ("The role was assigned.", "角色已分配。"),
    "removed": ("The role was removed.", "角色已移除。"),
    "unchanged": ("Nothing needed changing.", "无需更改。"),
}


def _user_url(user_id: str, done: str | None = None) -> str:
    return f"/admin/users/{quote(user_id, safe='@.-_')}" + (f"?done={done}" if done else "")


# The list -------------------------------------------------------------------------------


def _list_query(request: Request, state: WebState, lang: str) -> tuple[UserQuery, dict[str, str], dict[str, str], int]:
    """Read the list's filters from the address, and return the query, the filters, their errors and the page."""
    params = request.query_params
    filters = {name: params.get(name, "").strip() for name in ("q", "unit", "role", "active", "locked")}
    errors: dict[str, str] = {}
    units: tuple[str, ...] | None = None
    if filters["unit"]:
        if filters["unit"] in state.permissions.tree.parents:
            units = tuple(state.permissions.tree.and_below(filters["unit"]))
        else:
            errors["unit"] = PermissionConfigError("org unit", "组织机构", filters["unit"],
                                                   sorted(state.permissions.tree.parents)).message(lang)
    role = filters["role"] or None
    if role is not None and role not in state.model.permissions.roles:
        errors["role"] = PermissionConfigError("role", "角色", role, sorted(state.model.permissions.roles)).message(lang)
    flags = {"1": True, "0": False}
    page = parse_int(params.get("page", "1")) or 1
    query = UserQuery(
        search=filters["q"], org_units=units, role=role, active=flags.get(filters["active"]), locked=flags.get(filters["locked"]),
        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
    )
    return query, filters, errors, page


def _page_url(filters: dict[str, str], page: int) -> str:
    values = {name: value for name, value in filters.items() if value}
    if page > 1:
        values["page"] = str(page)
    return "/admin/users" + ("?" + urlencode(values) if values else "")


def _list_context(request: Request, new_user: dict[str, str] | None = None, new_errors: dict[str, str] | None = None) -> dict[str, Any]:
    state = web(request)
    lang = lang_of(request)
    query, filters, errors, page = _list_query(request, state, lang)
    found = AccountAdmin(state.accounts).list_users(query) if not errors else None
    total = found.total if found else 0
    return {
        "title": pick(lang, "Users", "用户"),
        "filters": filters,
        "filter_errors": errors,
        "users": found.users if found else [],
        "total": total,
        "previous_url": _page_url(filters, page - 1) if page > 1 else None,
        "next_url": _page_url(filters, page + 1) if page * PAGE_SIZE < total else None,
        "units": unit_options(state, lang),
        "roles": state.model.permissions.roles,
        "new_user": new_user or {},
        "new_errors": new_errors or {},
        "password_rule": _password_rule(state, lang),
        **labels(request),
    }


def _password_rule(state: WebState, lang: str) -> str:
    settings = state.model.app.settings
    minimum = int(settings.get("password_min_length", 8))
    classes = int(settings.get("password_min_classes", 1))
    return pick(lang, f"At least {minimum} characters, with {classes} of: lower-case letters, upper-case letters, digits, symbols.",
                f"至少 {minimum} 个字符，并包含小写字母、大写字母、数字、符号中的 {classes} 类。")


async def users_page(request: Request) -> Response:
    context = _list_context(request)
    status = 422 if context["filter_errors"] else 200
    return admin_page(request, "admin_users.html", context, block="results", status=status)


async def create_user(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    form = await read_form(request)
    values = {name: form.get(name, "") for name in ("user_id", "username", "display_name", "org_unit")}
    errors = _new_user_errors(state, lang, values, form.get("password", ""), form.get("password_confirm", ""))
    if not errors:
        try:
            state.admin.add_user(actor_of(request), values["user_id"], values["username"], values["display_name"], values["org_unit"])
        except PermissionConfigError as error:
            field = config_error_field(error, {"org unit": "org_unit", "user id": "user_id", "username": "username"}, "user_id")
            errors[field] = error.message(lang)
    if errors:
        return admin_page(request, "admin_users.html", _list_context(request, values, errors), status=422)
    state.accounts.set_password(actor_of(request), values["user_id"], form["password"])
    return RedirectResponse(_user_url(values["user_id"], "created"), status_code=303)


def _new_user_errors(state: WebState, lang: str, values: dict[str, str], password: str, confirm: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not USER_ID.fullmatch(values["user_id"]):
        errors["user_id"] = pick(lang, "Enter a user id of 1 to 64 letters, digits or the characters _ . @ -.",
                                 "请输入用户 id：1 到 64 个字母、数字或 _ . @ - 字符。")
    if not values["username"] or len(values["username"]) > 64 or any(character.isspace() for character in values["username"]):
        errors["username"] = pick(lang, "Enter a login name of 1 to 64 characters, without spaces.",
                                  "请输入登录名：1 到 64 个字符，不含空格。")
    if not values["display_name"] or len(values["display_name"]) > 100:
        errors["display_name"] = pick(lang, "Enter the name shown to others, at most 100 characters.",
                                      "请输入显示名称，最多 100 个字符。")
    password_error = _password_error(state, lang, password, confirm)
    if password_error:
        errors["password"] = password_error
    return errors


def _password_error(state: WebState, lang: str, password: str, confirm: str) -> str | None:
    problem = password_problem(state.model.app.settings, password)
    if problem is not None:
        return problem.message(lang)
    if password != confirm:
        return pick(lang, "The two passwords differ; type the same password twice.", "两次输入的密码不一致，请重新输入。")
    return None


# One user -------------------------------------------------------------------------------


def _account(request: Request) -> UserAccount:
    user_id = request.path_params["user_id"]
    account = AccountAdmin(web(request).accounts).account(user_id)
    if account is None:
        lang = lang_of(request)
        raise HTTPException(404, pick(lang, f"There is no user {user_id!r}.", f"用户 {user_id!r} 不存在。"))
    return account


def _user_context(request: Request, account: UserAccount, errors: dict[str, str] | None = None,
                  assign: dict[str, str] | None = None) -> dict[str, Any]:
    state = web(request)
    lang = lang_of(request)
    done = request.query_params.get("done", "")
    notice = NOTICES.get(done)
    return {
        "title": pick(lang, f"User {account.display_name}", f"用户 {account.display_name}"),
        "account": account,
        "locked": account.locked(),
        "notice": pick(lang, *notice) if notice else None,
        "errors": errors or {},
        "assign": assign or {"role": "", "unit": account.org_unit or ""},
        "units": unit_options(state, lang),
        "roles": state.model.permissions.roles,
        "tokens": AccountAdmin(state.accounts).list_tokens(account.id),
        "password_rule": _password_rule(state, lang),
        "is_self": account.id == actor_of(request).id,
        "role_labels": {name: label(role.label, lang) for name, role in state.model.permissions.roles.items()},
        **labels(request),
    }


async def user_page(request: Request) -> Response:
    return admin_page(request, "admin_user.html", _user_context(request, _account(request)))


async def set_password(request: Request) -> Response:
    state = web(request)
    account = _account(request)
    form = await read_form(request)
    problem = _password_error(state, lang_of(request), form.get("password", ""), form.get("password_confirm", ""))
    if problem:
        return admin_page(request, "admin_user.html", _user_context(request, account, {"password": problem}), status=422)
    state.accounts.set_password(actor_of(request), account.id, form["password"])
    return RedirectResponse(_user_url(account.id, "password"), status_code=303)


async def set_active(request: Request) -> Response:
    state = web(request)
    account = _account(request)
    form = await read_form(request)
    choice = form.get("active")
    if choice not in ("0", "1"):
        lang = lang_of(request)
        message = pick(lang, "Choose whether the account is active (1) or not (0).", "请选择账号启用（1）或停用（0）。")
        return admin_page(request, "admin_user.html", _user_context(request, account, {"active": message}), status=422)
    active = choice == "1"
    try:
        changed = AccountAdmin(state.accounts).set_active(actor_of(request), account.id, active)
    except AccountRejected as error:
        return admin_page(request, "admin_user.html", _user_context(request, account, {"active": error.message(lang_of(request))}),
                          status=422)
    done = "unchanged"
    if changed:
        done = "activated" if active else "deactivated"
    return RedirectResponse(_user_url(account.id, done), status_code=303)


async def unlock(request: Request) -> Response:
    account = _account(request)
    changed = AccountAdmin(web(request).accounts).unlock(actor_of(request), account.id)
    return RedirectResponse(_user_url(account.id, "unlocked" if changed else "unchanged"), status_code=303)


async def assign_role(request: Request) -> Response:
    state = web(request)
    account = _account(request)
    form = await read_form(request)
    role, unit = form.get("role", ""), form.get("unit", "")
    try:
        state.admin.assign(actor_of(request), account.id, role, unit)
    except PermissionConfigError as error:
        field = config_error_field(error, {"role": "role", "org unit": "unit"}, "role")
        context = _user_context(request, account, {field: error.message(lang_of(request))}, {"role": role, "unit": unit})
        return admin_page(request, "admin_user.html", context, status=422)
    return RedirectResponse(_user_url(account.id, "assigned"), status_code=303)


async def remove_role(request: Request) -> Response:
    state = web(request)
    account = _account(request)
    form = await read_form(request)
    try:
        state.admin.unassign(actor_of(request), account.id, form.get("role", ""), form.get("unit", ""))
    except PermissionConfigError as error:
        context = _user_context(request, account, {"assignments": error.message(lang_of(request))})
        return admin_page(request, "admin_user.html", context, status=422)
    return RedirectResponse(_user_url(account.id, "removed"), status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/users", admin_only(users_page), methods=["GET"]),
        Route("/admin/users", admin_only(create_user), methods=["POST"]),
        Route("/admin/users/{user_id}", admin_only(user_page), methods=["GET"]),
        Route("/admin/users/{user_id}/password", admin_only(set_password), methods=["POST"]),
        Route("/admin/users/{user_id}/active", admin_only(set_active), methods=["POST"]),
        Route("/admin/users/{user_id}/unlock", admin_only(unlock), methods=["POST"]),
        Route("/admin/users/{user_id}/roles", admin_only(assign_role), methods=["POST"]),
        Route("/admin/users/{user_id}/roles/remove", admin_only(remove_role), methods=["POST"]),
    ]
