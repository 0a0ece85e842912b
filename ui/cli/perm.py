"""`metadesk perm`: explain a permission decision, list users, add users and assign roles.

`perm explain DIR USER ACTION ENTITY [ID]` explains why a user may or may not do something.
It prints the user's role assignments and the roles they hold, inherited ones included. It then
prints every policy line that grants or denies the action, with its origin (the YAML or an admin's
edit) and the role assignment it reaches the user through, the data scope as SQL (computed from
the units where the roles are held), whether record ID lies inside it, and the verdict with its
reason. ENTITY may also be "system", the resource of the admin pages (actions administer, audit
and jobs), which has no records and so no data scope.

`perm users`, `perm add-user` and `perm assign` read and change the users and their
role assignments. Changes are made as the system actor "cli" and go to the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import inspect, or_, select

from metamodel import model as m
from metamodel.diagnostics import language_from_environment
from runtime.access import Actor
from runtime.accounts import PasswordRejected
from runtime.app import Runtime
from runtime.permission_admin import PermissionAdmin, PermissionConfigError
from runtime.permissions import ANY_UNIT, HeldLine, PermissionStore, PolicyLine
from runtime.policy_access import Explanation, explain
from ui.cli.migrate import add_common_arguments, open_runtime, say

#: The actor that the admin subcommands act as, named in the audit log.
CLI_ACTOR = Actor(id="cli", name="metadesk perm", roles=("system",))


@dataclass(frozen=True)
class UserRow:
    id: str
    username: str
    display_name: str
    org_unit: str | None
    active: bool
    assignments: tuple[tuple[str, str], ...]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "perm",
        help="explain permission decisions, list users, add users and assign roles",
        description="Commands on users, roles and policies of an application.",
    )
    actions = parser.add_subparsers(dest="perm_command", metavar="ACTION", required=True)

    explain_parser = actions.add_parser(
        "explain",
        help="say why a user may or may not perform an action on an entity (or one record)",
        description="Print the user's roles and units, the policy lines that grant or deny the action "
        "with their origin, the data scope as SQL, whether the record lies inside it, and the verdict.",
    )
    add_common_arguments(explain_parser)
    explain_parser.add_argument("user", metavar="USER", help="the user's id")
    explain_parser.add_argument(
        "action", metavar="ACTION", help="read, create, update, delete, export, import, print or a transition; "
        "administer, audit or jobs on system")
    explain_parser.add_argument("entity", metavar="ENTITY", help="the entity's name, or system for the admin pages")
    explain_parser.add_argument("record_id", metavar="ID", nargs="?", type=int, help="a record id, to check the data scope too")
    explain_parser.set_defaults(handler=run_explain)

    users = actions.add_parser("users", help="list the users with their roles and units", description="List every user.")
    add_common_arguments(users)
    users.set_defaults(handler=run_users)

    add_user = actions.add_parser(
        "add-user", help="add a user in an org unit", description="Add a user. Give it roles with `perm assign`."
    )
    add_common_arguments(add_user)
    add_user.add_argument("user", metavar="ID", help="the new user's id")
    add_user.add_argument("username", metavar="USERNAME", help="the login name, unique among users")
    add_user.add_argument("display_name", metavar="NAME", help="the name shown to others")
    add_user.add_argument("unit", metavar="UNIT", help="the org unit the user belongs to")
    add_user.set_defaults(handler=run_add_user)

    assign = actions.add_parser(
        "assign",
        help="give a user a role in an org unit",
        description="Give a user a role in an org unit. The role applies there and in every unit below it.",
    )
    add_common_arguments(assign)
    assign.add_argument("user", metavar="USER", help="the user's id")
    assign.add_argument("role", metavar="ROLE", help="the role's name")
    assign.add_argument("unit", metavar="UNIT", help="the org unit the role is held in")
    assign.set_defaults(handler=run_assign)

    password = actions.add_parser(
        "password",
        help="set a user's password",
        description="Set a user's password, which ends the sessions signed in with the old one. The password is read "
        "from the terminal twice (or one line of standard input when it is no terminal); --generate makes one and prints it.",
    )
    add_common_arguments(password)
    password.add_argument("user", metavar="USER", help="the user's id or sign-in name")
    password.add_argument("--generate", action="store_true", help="generate a password that meets the app's rules and print it")
    password.set_defaults(handler=run_password)


# Plumbing -------------------------------------------------------------------------


def _with_store(arguments: argparse.Namespace, work: Callable[[Runtime, PermissionStore, str], int]) -> int:
    """Open the runtime and the permission store, run `work`, and close everything."""
    lang = arguments.lang or language_from_environment()
    runtime = open_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        with runtime.engine.connect() as connection:
            migrated = inspect(connection).has_table(runtime.schema.access.users.name)
        if not migrated:
            print(say(lang, f"The database has no user tables yet; create them with `metadesk migrate {arguments.directory}`.",
                      f"数据库中还没有用户表；请先运行 `metadesk migrate {arguments.directory}` 建表。"))
            return 1
        return work(runtime, runtime.permissions(), lang)
    finally:
        runtime.close()


def _unknown(lang: str, what_en: str, what_zh: str, value: str, allowed: list[str]) -> int:
    print(PermissionConfigError(what_en, what_zh, value, allowed).message(lang))
    return 1


def read_users(runtime: Runtime) -> list[UserRow]:
    users = runtime.schema.access.users
    user_roles = runtime.schema.access.user_roles
    with runtime.engine.connect() as connection:
        rows = connection.execute(select(users).order_by(users.c.id)).mappings().all()
        assignments: dict[str, list[tuple[str, str]]] = {}
        for assignment in connection.execute(select(user_roles).order_by(user_roles.c.role, user_roles.c.org_unit)):
            assignments.setdefault(assignment.user_id, []).append((assignment.role, assignment.org_unit))
    return [
        UserRow(row["id"], row["username"], row["display_name"], row["org_unit"], bool(row["active"]), tuple(assignments.get(row["id"], ())))
        for row in rows
    ]


def unit_label(runtime: Runtime, unit: str | None, lang: str) -> str:
    if unit is None:
        return say(lang, "(no unit)", "（无组织机构）")
    declared = runtime.model.permissions.org_units.get(unit)
    return f"{unit} ({declared.label.get(lang)})" if declared else unit


def role_label(runtime: Runtime, role: str, lang: str) -> str:
    declared = runtime.model.permissions.roles.get(role)
    return f"{role} ({declared.label.get(lang)})" if declared else role


# explain --------------------------------------------------------------------------


def run_explain(arguments: argparse.Namespace) -> int:
    return _with_store(arguments, lambda runtime, store, lang: explain_command(runtime, store, lang, arguments))


def explain_command(runtime: Runtime, store: PermissionStore, lang: str, arguments: argparse.Namespace) -> int:
    model = runtime.model
    users = {user.id: user for user in read_users(runtime)}
    user = users.get(arguments.user)
    if user is None:
        return _unknown(lang, "user", "用户", arguments.user, sorted(users))
    resources = explainable(runtime)
    if arguments.entity not in resources:
        return _unknown(lang, "entity", "实体", arguments.entity, resources)
    actions = list(model.actions_for(arguments.entity))
    if arguments.action not in actions:
        return _unknown(lang, "action", "操作", arguments.action, actions)
    if arguments.record_id is not None and arguments.entity not in model.entities:
        print(say(lang, f"{arguments.entity} has no records; leave out the record id.",
                  f"{arguments.entity} 没有记录；请不要给出记录 id。"))
        return 1

    # Built as a sign-in builds it: the roles and the units from the assignments.
    actor = Actor(
        id=user.id,
        name=user.display_name,
        roles=tuple(sorted({role for role, _ in user.assignments})),
        org_unit=user.org_unit,
        org_units=tuple(sorted({unit for _, unit in user.assignments if unit != user.org_unit})),
    )
    answer = explain(store, runtime.schema, runtime.engine, actor, arguments.action, arguments.entity, arguments.record_id)
    for line in explanation_lines(runtime, user, answer, lang):
        print(line)
    return 0


def explainable(runtime: Runtime) -> list[str]:
    """Return what explain accepts as ENTITY: the entities, then the system resource."""
    entities = sorted(runtime.model.entities)
    return entities if m.SYSTEM_RESOURCE in entities else [*entities, m.SYSTEM_RESOURCE]


def explanation_lines(runtime: Runtime, user: UserRow, answer: Explanation, lang: str) -> list[str]:
    subject = f"{answer.action} {answer.entity}" + (f" #{answer.record_id}" if answer.record_id is not None else "")
    inactive = "" if user.active else say(lang, " [inactive]", " [已停用]")
    out = [
        say(lang, f"User: {user.id} ({user.display_name}){inactive}", f"用户：{user.id}（{user.display_name}）{inactive}"),
        say(lang, f"Unit: {unit_label(runtime, user.org_unit, lang)}", f"所属组织机构：{unit_label(runtime, user.org_unit, lang)}"),
        say(lang, "Role assignments:", "角色分配："),
    ]
    if user.assignments:
        out += [
            say(lang, f"  - {role_label(runtime, role, lang)} in {unit_label(runtime, unit, lang)}",
                f"  - {role_label(runtime, role, lang)}，所在 {unit_label(runtime, unit, lang)}")
            for role, unit in user.assignments
        ]
    else:
        out.append(say(lang, "  (none)", "  （无）"))
    in_force = ", ".join(answer.roles) if answer.roles else say(lang, "(none)", "（无）")
    out.append(say(lang, f"Roles held, inherited ones included (each in force where it is held and below): {in_force}",
                   f"所持角色（含继承；各自在分配的机构及其下级生效）：{in_force}"))
    out.append(say(lang, f"Question: may {user.id} {subject}?", f"问题：{user.id} 能否执行 {subject}？"))

    out.append(say(lang, "Granting policy lines:", "授权策略："))
    out += [f"  - {describe_line(runtime, line, lang)}" for line in answer.granting] or [say(lang, "  (none)", "  （无）")]
    if answer.held:
        out.append(say(lang, "Held through (each data scope is computed from the unit where the role is held):",
                       "授权所依据的角色分配（数据范围按角色所在机构计算）："))
        out += [f"  - {describe_held(runtime, held, lang)}" for held in answer.held]
    out.append(say(lang, "Deny lines:", "拒绝策略："))
    out += [f"  - {describe_line(runtime, line, lang)}" for line in answer.denying] or [say(lang, "  (none)", "  （无）")]

    if not answer.has_records:
        out.append(say(lang, f"Data scope: none applies ({answer.entity} has no records)",
                       f"数据范围：不适用（{answer.entity} 没有记录）"))
    elif answer.scope_sql is None:
        out.append(say(lang, "Data scope: none (the action is not allowed)", "数据范围：无（该操作不被允许）"))
    elif answer.scope_sql == "(every row)":
        out.append(say(lang, "Data scope: every row", "数据范围：全部记录"))
    else:
        out.append(say(lang, f"Data scope (SQL): {answer.scope_sql}", f"数据范围（SQL）：{answer.scope_sql}"))
    if answer.record_id is not None:
        inside = bool(answer.record_in_scope)
        out.append(say(lang, f"Record {answer.record_id} in scope: {'yes' if inside else 'no'}",
                       f"记录 {answer.record_id} 是否在数据范围内：{'是' if inside else '否'}"))

    allowed = answer.allowed and (answer.record_id is None or bool(answer.record_in_scope))
    verdict = say(lang, "ALLOWED" if allowed else "DENIED", "允许" if allowed else "拒绝")
    out.append(say(lang, f"Verdict: {verdict}: {answer.reason('en')}", f"结论：{verdict}：{answer.reason('zh-CN')}"))
    return out


def describe_line(runtime: Runtime, line: PolicyLine, lang: str) -> str:
    unit = say(lang, "every unit", "所有组织机构") if line.unit == ANY_UNIT else unit_label(runtime, line.unit, lang)
    origin = {"yaml": say(lang, "YAML", "YAML 配置"), "admin": say(lang, "admin", "管理员")}.get(line.origin, line.origin)
    scope = line.scope
    if scope == "filter":
        filters = [
            grant.filter.source for grant in runtime.model.permissions.grants
            if grant.role == line.role and grant.entity == line.entity and line.action in grant.actions and grant.filter is not None
        ]
        scope = f"filter: {' / '.join(filters)}" if filters else scope
    return say(
        lang,
        f"{line.effect} {line.action} {line.entity} to {line.role}, scope {scope}, in {unit} [origin: {origin}]",
        f"{'允许' if line.effect == 'allow' else '拒绝'} {line.role} 对 {line.entity} 执行 {line.action}，"
        f"数据范围 {scope}，适用于 {unit} [来源：{origin}]",
    )


def describe_held(runtime: Runtime, held: HeldLine, lang: str) -> str:
    """Say through which role assignment a granting line reaches the user."""
    line = held.line
    unit = unit_label(runtime, held.unit, lang)
    if held.role == line.role:
        return say(lang, f"{line.role}, scope {line.scope}, held in {unit}",
                   f"{line.role}，数据范围 {line.scope}，角色所在 {unit}")
    return say(lang, f"{line.role}, scope {line.scope}, inherited by {held.role} held in {unit}",
               f"{line.role}，数据范围 {line.scope}，由 {unit} 的 {held.role} 继承")


# users, add-user, assign ----------------------------------------------------------


def run_users(arguments: argparse.Namespace) -> int:
    return _with_store(arguments, lambda runtime, store, lang: users_command(runtime, lang))


def users_command(runtime: Runtime, lang: str) -> int:
    users = read_users(runtime)
    if not users:
        print(say(lang, "No users yet; add one with `metadesk perm add-user`.", "还没有用户；可用 `metadesk perm add-user` 添加。"))
        return 0
    print(say(lang, f"{len(users)} user(s):", f"共 {len(users)} 个用户："))
    for user in users:
        state = "" if user.active else say(lang, " [inactive]", " [已停用]")
        roles = ", ".join(f"{role}@{unit}" for role, unit in user.assignments) or say(lang, "no roles", "无角色")
        print(f"  {user.id}  {user.username}  {user.display_name}  {unit_label(runtime, user.org_unit, lang)}{state}  {roles}")
    return 0


def run_add_user(arguments: argparse.Namespace) -> int:
    return _with_store(arguments, lambda runtime, store, lang: add_user_command(runtime, store, lang, arguments))


def add_user_command(runtime: Runtime, store: PermissionStore, lang: str, arguments: argparse.Namespace) -> int:
    users = runtime.schema.access.users
    with runtime.engine.connect() as connection:
        clash = connection.execute(
            select(users.c.id, users.c.username).where(or_(users.c.id == arguments.user, users.c.username == arguments.username))
        ).first()
    if clash is not None:
        if clash.id == arguments.user:
            error = PermissionConfigError.taken("user id", "用户 id", arguments.user)
        else:
            error = PermissionConfigError.taken("username", "用户名", arguments.username)
        print(error.message(lang))
        return 1
    try:
        PermissionAdmin(store).add_user(CLI_ACTOR, arguments.user, arguments.username, arguments.display_name, arguments.unit)
    except PermissionConfigError as error:
        print(error.message(lang))
        return 1
    print(say(lang, f"Added user {arguments.user} in {unit_label(runtime, arguments.unit, lang)}.",
              f"已添加用户 {arguments.user}，所属 {unit_label(runtime, arguments.unit, lang)}。"))
    return 0


def run_assign(arguments: argparse.Namespace) -> int:
    return _with_store(arguments, lambda runtime, store, lang: assign_command(runtime, store, lang, arguments))


def assign_command(runtime: Runtime, store: PermissionStore, lang: str, arguments: argparse.Namespace) -> int:
    users = {user.id: user for user in read_users(runtime)}
    user = users.get(arguments.user)
    if user is None:
        return _unknown(lang, "user", "用户", arguments.user, sorted(users))
    if (arguments.role, arguments.unit) in user.assignments:
        print(say(lang, f"{arguments.user} holds {arguments.role} in {arguments.unit} already; nothing was changed.",
                  f"{arguments.user} 已在 {arguments.unit} 拥有角色 {arguments.role}；未做任何更改。"))
        return 1
    try:
        PermissionAdmin(store).assign(CLI_ACTOR, arguments.user, arguments.role, arguments.unit)
    except PermissionConfigError as error:
        print(error.message(lang))
        return 1
    print(say(lang, f"{arguments.user} now holds {role_label(runtime, arguments.role, lang)} in "
                    f"{unit_label(runtime, arguments.unit, lang)} and every unit below it.",
              f"{arguments.user} 现在在 {unit_label(runtime, arguments.unit, lang)} 及其下级机构拥有角色 "
              f"{role_label(runtime, arguments.role, lang)}。"))
    return 0


def run_password(arguments: argparse.Namespace) -> int:
    return _with_store(arguments, lambda runtime, store, lang: password_command(runtime, lang, arguments))


def password_command(runtime: Runtime, lang: str, arguments: argparse.Namespace) -> int:
    users = read_users(runtime)
    user = next((row for row in users if arguments.user in (row.id, row.username)), None)
    if user is None:
        return _unknown(lang, "user", "用户", arguments.user, sorted(row.id for row in users))
    if arguments.generate:
        password = "-".join(secrets.token_urlsafe(6)[:4].capitalize() + str(secrets.randbelow(10)) for _ in range(4))
    elif sys.stdin.isatty():
        password = getpass.getpass(say(lang, "New password: ", "新密码："))
        if getpass.getpass(say(lang, "Repeat it: ", "再输入一次：")) != password:
            print(say(lang, "The two passwords differ; nothing was changed.", "两次输入的密码不一致；未做任何更改。"))
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        runtime.accounts().set_password(CLI_ACTOR, user.id, password)
    except PasswordRejected as rejected:
        print(rejected.problem.message(lang))
        return 1
    if arguments.generate:
        print(say(lang, f"The password of {user.username} is now: {password}", f"{user.username} 的密码已设为：{password}"))
    else:
        print(say(lang, f"The password of {user.username} is set; its other sessions have ended.",
                  f"{user.username} 的密码已设置，该用户的其他会话已结束。"))
    return 0
