"""API tokens: the list, creation for a user (the token is shown once) and revocation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from runtime.account_admin import AccountAdmin, UserQuery
from runtime.permission_admin import PermissionConfigError
from ui.web.admin_support import admin_only, admin_page, read_form
from ui.web.i18n import pick
from ui.web.state import actor_of, lang_of, web

#: Users offered in the user field's suggestions; any other id may still be typed.
SUGGESTED_USERS = 500


def _tokens_context(request: Request, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                    new_token: str | None = None) -> dict[str, Any]:
    state = web(request)
    lang = lang_of(request)
    admin = AccountAdmin(state.accounts)
    user_filter = request.query_params.get("user", "").strip() or None
    done = request.query_params.get("done")
    return {
        "title": pick(lang, "API tokens", "API 令牌"),
        "tokens": admin.list_tokens(user_filter),
        "user_filter": user_filter,
        "users": admin.list_users(UserQuery(limit=SUGGESTED_USERS)).users,
        "values": values or {"user": user_filter or "", "name": ""},
        "errors": errors or {},
        "new_token": new_token,
        "notice": pick(lang, "The token was revoked.", "令牌已吊销。") if done == "revoked" else None,
    }


async def tokens_page(request: Request) -> Response:
    return admin_page(request, "admin_tokens.html", _tokens_context(request))


async def create_token(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    admin = AccountAdmin(state.accounts)
    form = await read_form(request)
    values = {"user": form.get("user", ""), "name": form.get("name", "")}
    errors: dict[str, str] = {}
    account = admin.account(values["user"]) if values["user"] else None
    if account is None:
        known = [user.id for user in admin.list_users(UserQuery(limit=31)).users]
        errors["user"] = PermissionConfigError("user", "用户", values["user"], known).message(lang)
    elif not account.active:
        errors["user"] = pick(lang, f"The user {account.id!r} is inactive, so a token would not work; activate the user first.",
                              f"用户 {account.id!r} 已停用，令牌将无法使用；请先启用该用户。")
    if not values["name"] or len(values["name"]) > 100:
        errors["name"] = pick(lang, "Enter a name for the token, such as the system that uses it (at most 100 characters).",
                              "请输入令牌名称，例如使用它的系统（最多 100 个字符）。")
    if errors or account is None:
        return admin_page(request, "admin_tokens.html", _tokens_context(request, values=values, errors=errors), status=422)

    token = state.accounts.create_token(actor_of(request), account.id, values["name"])
    # The token is in this page only; no cache may keep a copy.
    return admin_page(request, "admin_tokens.html", _tokens_context(request, new_token=token),
                      headers={"Cache-Control": "no-store"})


async def revoke_token(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    token_id = request.path_params["token_id"]
    try:
        state.accounts.revoke_token(actor_of(request), token_id)
    except KeyError:
        known = [str(token.id) for token in AccountAdmin(state.accounts).list_tokens()]
        message = PermissionConfigError("API token", "API 令牌", str(token_id), known).message(lang)
        return admin_page(request, "admin_tokens.html", _tokens_context(request, errors={"revoke": message}), status=422)
    user_filter = request.query_params.get("user")
    query = {"done": "revoked", **({"user": user_filter} if user_filter else {})}
    return RedirectResponse("/admin/tokens?" + urlencode(query), status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/tokens", admin_only(tokens_page), methods=["GET"]),
        Route("/admin/tokens", admin_only(create_token), methods=["POST"]),
        Route("/admin/tokens/{token_id:int}/revoke", admin_only(revoke_token), methods=["POST"]),
    ]
