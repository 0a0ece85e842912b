"""`metadesk token`: create, list and revoke the API tokens integrations authenticate with.

`token create DIR USER NAME` prints the new token alone on standard output, so that a script
can capture it. The token is shown only then, because the database keeps only its SHA-256.
`token list` shows every token with its user, dates and whether it is revoked, and
`token revoke` ends one at once. Changes are made as the actor "cli" and go to the audit log.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any, Callable

from sqlalchemy import inspect, select

from metamodel.diagnostics import language_from_environment
from runtime.access import Actor
from runtime.accounts import token_hash
from runtime.app import Runtime
from runtime.permission_admin import PermissionConfigError
from ui.cli.migrate import add_common_arguments, open_runtime, say

#: The actor the token subcommands act as, named in the audit log.
CLI_ACTOR = Actor(id="cli", name="metadesk token", roles=("system",))
#: Maximum length of a token name, the size of its database column.
MAX_NAME_LENGTH = 100


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "token",
        help="create, list and revoke API tokens",
        description="API tokens let integrations call the JSON API under /api as a user: "
        "send `Authorization: Bearer <token>`.",
    )
    actions = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create", help="create a token acting as a user and print it once",
        description="Create an API token acting as USER. The token is printed once, alone on standard output; "
        "only its hash is kept.",
    )
    add_common_arguments(create)
    create.add_argument("user", metavar="USER", help="the id of the user the token acts as")
    create.add_argument("name", metavar="NAME", help=f"what the token is for, such as the integration's name (at most {MAX_NAME_LENGTH} characters)")
    create.set_defaults(handler=run_create)

    listing = actions.add_parser("list", help="list every token with its user and dates", description="List every API token.")
    add_common_arguments(listing)
    listing.set_defaults(handler=run_list)

    revoke = actions.add_parser("revoke", help="revoke a token at once", description="Revoke an API token by its id (see `token list`).")
    add_common_arguments(revoke)
    revoke.add_argument("token_id", metavar="ID", type=int, help="the token's id, from `metadesk token list`")
    revoke.set_defaults(handler=run_revoke)


def _with_runtime(arguments: argparse.Namespace, work: Callable[[Runtime, str], int]) -> int:
    """Open the runtime, check that the user tables exist, run `work`, and close everything."""
    lang = arguments.lang or language_from_environment()
    runtime = open_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        with runtime.engine.connect() as connection:
            migrated = inspect(connection).has_table(runtime.schema.access.api_tokens.name)
        if not migrated:
            print(say(lang, f"The database has no user tables yet; create them with `metadesk migrate {arguments.directory}`.",
                      f"数据库中还没有用户表；请先运行 `metadesk migrate {arguments.directory}` 建表。"), file=sys.stderr)
            return 1
        return work(runtime, lang)
    finally:
        runtime.close()


def _moment(value: datetime.datetime | None, lang: str) -> str:
    if value is None:
        return say(lang, "never", "从未")
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M UTC")


# create ---------------------------------------------------------------------------


def run_create(arguments: argparse.Namespace) -> int:
    return _with_runtime(arguments, lambda runtime, lang: create_command(runtime, lang, arguments.user, arguments.name))


def create_command(runtime: Runtime, lang: str, user_id: str, name: str) -> int:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        print(say(lang, f"Give the token a name of 1 to {MAX_NAME_LENGTH} characters, such as the integration it is for.",
                  f"请为令牌起一个 1 至 {MAX_NAME_LENGTH} 个字符的名称，例如所用于的集成系统。"), file=sys.stderr)
        return 1
    users = runtime.schema.access.users
    with runtime.engine.connect() as connection:
        known = {row.id: bool(row.active) for row in connection.execute(select(users.c.id, users.c.active))}
    if user_id not in known:
        print(PermissionConfigError("user", "用户", user_id, sorted(known)).message(lang), file=sys.stderr)
        return 1

    token = runtime.accounts().create_token(CLI_ACTOR, user_id, name)
    tokens = runtime.schema.access.api_tokens
    with runtime.engine.connect() as connection:
        token_id = connection.scalar(select(tokens.c.id).where(tokens.c.token_hash == token_hash(token)))
    print(token)
    print(say(lang, f"Created API token {token_id} \"{name}\" acting as {user_id}. It is shown only this once: store it safely.",
              f"已创建 API 令牌 {token_id}“{name}”，代表用户 {user_id}。令牌只显示这一次，请妥善保存。"), file=sys.stderr)
    if not known[user_id]:
        print(say(lang, f"Note: {user_id} is inactive, so the token is refused until the user is activated again.",
                  f"注意：用户 {user_id} 已停用，重新启用前该令牌无法使用。"), file=sys.stderr)
    return 0


# list -----------------------------------------------------------------------------


def run_list(arguments: argparse.Namespace) -> int:
    return _with_runtime(arguments, list_command)


def list_command(runtime: Runtime, lang: str) -> int:
    tokens = runtime.schema.access.api_tokens
    with runtime.engine.connect() as connection:
        rows = connection.execute(select(tokens).order_by(tokens.c.id)).mappings().all()
    if not rows:
        print(say(lang, "No API tokens yet; create one with `metadesk token create`.",
                  "还没有 API 令牌；可用 `metadesk token create` 创建。"))
        return 0
    print(say(lang, f"{len(rows)} API token(s):", f"共 {len(rows)} 个 API 令牌："))
    for row in rows:
        if row["revoked_at"] is None:
            status = say(lang, "active", "有效")
        else:
            status = say(lang, f"revoked {_moment(row['revoked_at'], lang)}", f"已于 {_moment(row['revoked_at'], lang)} 吊销")
        created = _moment(row["created_at"], lang)
        used = _moment(row["last_used_at"], lang)
        print(say(lang, f"  {row['id']}  {row['user_id']}  \"{row['name']}\"  created {created}  last used {used}  {status}",
                  f"  {row['id']}  {row['user_id']}  “{row['name']}”  创建于 {created}  最近使用 {used}  {status}"))
    return 0


# revoke ---------------------------------------------------------------------------


def run_revoke(arguments: argparse.Namespace) -> int:
    return _with_runtime(arguments, lambda runtime, lang: revoke_command(runtime, lang, arguments.token_id))


def revoke_command(runtime: Runtime, lang: str, token_id: int) -> int:
    tokens = runtime.schema.access.api_tokens
    with runtime.engine.connect() as connection:
        row = connection.execute(select(tokens).where(tokens.c.id == token_id)).mappings().first()
    if row is None:
        print(say(lang, f"There is no API token {token_id}; `metadesk token list` shows the tokens and their ids.",
                  f"没有编号为 {token_id} 的 API 令牌；可用 `metadesk token list` 查看令牌及其编号。"), file=sys.stderr)
        return 1
    if row["revoked_at"] is not None:
        print(say(lang, f"Token {token_id} was revoked already ({_moment(row['revoked_at'], lang)}); nothing was changed.",
                  f"令牌 {token_id} 已于 {_moment(row['revoked_at'], lang)} 吊销；未做任何更改。"), file=sys.stderr)
        return 1
    runtime.accounts().revoke_token(CLI_ACTOR, token_id)
    print(say(lang, f"Revoked token {token_id} \"{row['name']}\" of {row['user_id']}; requests with it are refused from now on.",
              f"已吊销用户 {row['user_id']} 的令牌 {token_id}“{row['name']}”；此后使用该令牌的请求将被拒绝。"))
    return 0
