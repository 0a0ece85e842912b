"""`metadesk seed DIR`: create demo users, one per role, and demo records; a second run changes nothing.

The users' passwords are derived from the signing secret, so every run prints the same ones.
Records go through the record service as the system actor, owned by the org units that
seed.yaml names (or the leaf units), and move along their flows where the runtime can fire
transitions.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from metamodel.diagnostics import language_from_environment
from runtime.app import Runtime
from runtime.seed import DemoSeeder, SeedPlan, SeedReport
from runtime.seed_users import DemoUser
from ui.cli.migrate import add_common_arguments, open_migrated_runtime, say
from ui.cli.perm import role_label, unit_label


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "seed",
        help="create demo users (one per role) and demo records; safe to run again",
        description="Create a demo user for every role, in an org unit that fits the role, and demo records of "
        "every entity that no catalog fills. A second run creates only what is missing and prints the same users.",
    )
    add_common_arguments(parser)
    parser.add_argument("--count", type=int, metavar="N",
                        help="demo records per entity (default: the entity's count in seed.yaml, else 30)")
    parser.add_argument("--reset-passwords", action="store_true",
                        help="set the demo users' passwords back to the derived ones where someone changed them")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="print tables (default) or one JSON document")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    if arguments.count is not None and arguments.count < 0:
        print(say(lang, f"--count must be 0 or more, found {arguments.count}.", f"--count 不能小于 0，实际为 {arguments.count}。"))
        return 2
    runtime = open_migrated_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        empty = _empty_catalogs(runtime)
        if empty:
            names = ", ".join(empty)
            print(say(lang, f"The catalog rows of {names} are missing; run `metadesk catalogs {arguments.directory}` first.",
                      f"目录数据 {names} 尚未写入；请先运行 `metadesk catalogs {arguments.directory}`。"))
            return 1
        seeder = DemoSeeder(runtime, count=arguments.count, reset_passwords=arguments.reset_passwords)
        seed_plan = seeder.plan()
        if arguments.format == "json" or not seed_plan.to_create:
            report = seeder.run(seed_plan)
        else:
            report = _run_with_progress(seeder, seed_plan, lang)
        if arguments.format == "json":
            print(json.dumps(_as_json(report), ensure_ascii=False, indent=2))
        else:
            _print_report(runtime, report, lang)
        return 0
    finally:
        runtime.close()


def _empty_catalogs(runtime: Runtime) -> list[str]:
    empty = []
    for catalog in runtime.model.catalogs.values():
        table = runtime.schema.entities[catalog.entity].table
        with runtime.engine.connect() as connection:
            if not connection.scalar(select(func.count()).select_from(table)):
                empty.append(catalog.name)
    return empty


def _run_with_progress(seeder: DemoSeeder, seed_plan: SeedPlan, lang: str) -> SeedReport:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(say(lang, "Demo records", "演示数据"), total=seed_plan.to_create)

        def advance(entity: str, done: int) -> None:
            progress.update(task, advance=done, description=say(lang, f"Demo records: {entity}", f"演示数据：{entity}"))

        return seeder.run(seed_plan, advance)


def users_table(runtime: Runtime, users: list[DemoUser], lang: str) -> Table:
    """Return the table of demo users with their roles, units and passwords."""
    table = Table(title=say(lang, "Demo users", "演示用户"), title_justify="left")
    changed = say(lang, "(changed; --reset-passwords sets it back)", "（已修改；可用 --reset-passwords 恢复）")
    passwords = [user.password or changed for user in users]
    # Sign-in names and passwords are copied, so they keep their whole width; names, roles and units wrap instead.
    table.add_column(say(lang, "User", "用户名"), no_wrap=True, min_width=max((len(user.username) for user in users), default=4))
    for header in (say(lang, "Name", "姓名"), say(lang, "Role", "角色"), say(lang, "Org unit", "组织机构")):
        table.add_column(header, overflow="fold")
    table.add_column(say(lang, "Password", "密码"), no_wrap=True, min_width=max((len(text) for text in passwords), default=8))
    for user, password in zip(users, passwords):
        table.add_row(user.username, user.display_name, role_label(runtime, user.role, lang), unit_label(runtime, user.unit, lang), password)
    return table


def _print_report(runtime: Runtime, report: SeedReport, lang: str) -> None:
    console = Console(width=max(Console().width, 140))
    console.print(users_table(runtime, report.users, lang))

    records = Table(title=say(lang, "Demo records", "演示数据"), title_justify="left")
    for header in (say(lang, "Entity", "实体"), say(lang, "Before", "原有"), say(lang, "Created", "新增"),
                   say(lang, "Failed", "失败"), say(lang, "By state", "按状态")):
        records.add_column(header)
    for entity in report.entities:
        label = runtime.model.entities[entity.entity].label.get(lang)
        states = ", ".join(f"{state} {count}" for state, count in sorted(entity.states.items()))
        records.add_row(f"{entity.entity} ({label})", str(entity.existing), str(entity.created), str(entity.failed), states)
    console.print(records)

    for entity in report.entities:
        if entity.failed and entity.problem is not None:
            console.print(say(lang, f"{entity.entity}: {entity.failed} record(s) could not be made: {entity.problem[0]}. "
                                    "Adjust the entity's hints in seed.yaml.",
                              f"{entity.entity}：{entity.failed} 条记录未能生成：{entity.problem[1]}。请调整 seed.yaml 中该实体的提示。"),
                          markup=False)
    for entity in report.entities:
        for transition, (count, english, chinese) in sorted(entity.stopped.items()):
            console.print(say(lang, f"{entity.entity}: {count} record(s) stopped before {transition}: {english}",
                              f"{entity.entity}：{count} 条记录停在 {transition} 之前：{chinese}"), markup=False)
    if report.catalogued:
        console.print(say(lang, f"Rows of {', '.join(report.catalogued)} come from the catalogs in the YAML.",
                          f"{'、'.join(report.catalogued)} 的数据来自 YAML 中的目录。"), markup=False)


def _as_json(report: SeedReport) -> dict[str, Any]:
    return {
        "users": [
            {"id": user.id, "username": user.username, "name": user.display_name, "role": user.role, "unit": user.unit,
             "password": user.password, "created": user.created}
            for user in report.users
        ],
        "entities": [
            {"entity": entity.entity, "existing": entity.existing, "created": entity.created, "failed": entity.failed,
             "states": dict(entity.states), "problem": entity.problem[0] if entity.problem else None,
             "stopped": {name: {"count": count, "reason": english} for name, (count, english, _) in entity.stopped.items()}}
            for entity in report.entities
        ],
        "catalogued": report.catalogued,
    }
