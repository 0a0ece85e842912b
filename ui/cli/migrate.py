"""`metadesk migrate DIR`: bring the database in line with the application, or show the plan.

Safe steps are applied at once. Steps that drop or narrow data are refused until the
operator has read the plan and passes --allow-destructive. The affected tables are then
backed up before anything changes. This module also contains `open_runtime`, which the other runtime
subcommands use to load an application and report its problems the way `check` does.
"""

from __future__ import annotations

import argparse
from typing import Any

from metamodel import ConfigError
from metamodel.diagnostics import LANGUAGES, language_from_environment
from runtime.app import Runtime
from runtime.crypto import KeyRingError
from runtime.migrate import MigrationRefused, migrate, plan
from runtime.migrate_plan import Plan, Step


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the application folder and --lang, which every runtime subcommand takes."""
    parser.add_argument("directory", metavar="DIR", help="the application folder, the one holding app.yaml")
    parser.add_argument(
        "--lang", choices=LANGUAGES, help="language of messages (default: from the locale; zh-CN unless it names English)"
    )


def say(lang: str, en: str, zh: str) -> str:
    return en if lang == "en" else zh


def open_runtime(directory: str, lang: str) -> Runtime | None:
    """Open the application's runtime, or print why it cannot be opened and return None."""
    try:
        return Runtime.open(directory)
    except ConfigError as error:
        for item in error.diagnostics:
            print(item.as_text(lang))
        errors = sum(1 for item in error.diagnostics if item.severity == "error")
        print(
            say(
                lang,
                f"{errors} error(s) in the application; fix them (`metadesk check {directory}` lists them too) and run again.",
                f"应用配置有 {errors} 个错误；请修正后重新运行（也可用 `metadesk check {directory}` 查看）。",
            )
        )
        return None
    except KeyRingError as error:
        print(say(lang, f"The encryption keys cannot be loaded: {error}", f"无法加载加密密钥：{error}"))
        return None


def open_migrated_runtime(directory: str, lang: str) -> Runtime | None:
    """Open the runtime of an application whose database is up to date, or print what to do and return None."""
    runtime = open_runtime(directory, lang)
    if runtime is None:
        return None
    if not plan(runtime.engine, runtime.schema, runtime.model).empty:
        runtime.close()
        print(say(lang, f"The database is not up to date; run `metadesk migrate {directory}` first.",
                  f"数据库结构不是最新的；请先运行 `metadesk migrate {directory}`。"))
        return None
    return runtime


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="create or update the database tables of an application",
        description="Compare the application's tables with the database and apply the difference. "
        "Steps that drop or narrow data are applied only with --allow-destructive, after a backup.",
    )
    add_common_arguments(parser)
    parser.add_argument("--plan", action="store_true", help="print what would change, and change nothing")
    parser.add_argument(
        "--allow-destructive",
        action="store_true",
        help="also apply steps that drop tables or columns or narrow types (review --plan first)",
    )
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    runtime = open_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        if arguments.plan:
            return show_plan(runtime, lang)
        return apply(runtime, lang, arguments.directory, allow_destructive=arguments.allow_destructive)
    finally:
        runtime.close()


def nothing_to_do(lang: str) -> str:
    return say(lang, "Nothing to do: the database is up to date.", "数据库已是最新，无需变更。")


def step_line(step: Step, lang: str) -> str:
    mark = say(lang, "[destructive] ", "[破坏性] ") if step.destructive else ""
    return f"  - {mark}{step.describe(lang)}"


def print_blockers(migration_plan: Plan, lang: str) -> None:
    print(say(lang, "Blocked by stored data:", "已有数据阻止了迁移："))
    for blocker in migration_plan.blockers:
        print(f"  - {blocker.describe(lang)}")


def show_plan(runtime: Runtime, lang: str) -> int:
    migration_plan = plan(runtime.engine, runtime.schema, runtime.model)
    if migration_plan.empty:
        print(nothing_to_do(lang))
        return 0
    if migration_plan.steps:
        count = len(migration_plan.steps)
        print(say(lang, f"Plan ({count} step(s), nothing applied yet):", f"迁移计划（共 {count} 步，尚未执行）："))
        for step in migration_plan.steps:
            print(step_line(step, lang))
    if migration_plan.blockers:
        print_blockers(migration_plan, lang)
        print(
            say(
                lang,
                "Correct or clear those rows first; the migration cannot run until then.",
                "请先修正或清空这些数据，否则无法执行迁移。",
            )
        )
        return 1
    destructive = len(migration_plan.destructive)
    if destructive:
        print(
            say(
                lang,
                f"{destructive} step(s) drop or narrow data: apply them with --allow-destructive, "
                "which first backs up the tables they touch.",
                f"其中 {destructive} 步会删除或收窄数据：确认后加 --allow-destructive 执行，执行前会先备份涉及的表。",
            )
        )
    else:
        print(say(lang, "Run without --plan to apply it.", "去掉 --plan 重新运行即可执行。"))
    return 0


def apply(runtime: Runtime, lang: str, directory: str, *, allow_destructive: bool) -> int:
    try:
        result = migrate(
            runtime.engine,
            runtime.schema,
            runtime.model,
            backup_root=runtime.backup_root,
            allow_destructive=allow_destructive,
        )
    except MigrationRefused as refused:
        print_refusal(refused, lang, directory)
        return 1
    except RuntimeError as error:
        print(say(lang, f"The migration failed and nothing was changed: {error}", f"迁移失败，数据库未做任何更改：{error}"))
        return 1

    if not result.applied:
        print(nothing_to_do(lang))
        return 0
    count = len(result.plan.steps)
    print(say(lang, f"Applied {count} step(s):", f"已执行 {count} 步："))
    for step in result.plan.steps:
        print(step_line(step, lang))
    if result.backup is not None:
        print(say(lang, f"Backup taken before the destructive steps: {result.backup}", f"执行破坏性步骤前的备份：{result.backup}"))
    return 0


def print_refusal(refused: MigrationRefused, lang: str, directory: str) -> None:
    migration_plan = refused.plan
    if migration_plan.blockers:
        print(
            say(
                lang,
                "Migration refused: stored data does not fit the new types. Nothing was changed.",
                "迁移被拒绝：已有数据不符合新的类型。数据库未做任何更改。",
            )
        )
        print_blockers(migration_plan, lang)
        print(
            say(
                lang,
                "To fix: correct or clear those rows (or change the field back), then run `metadesk migrate` again.",
                "解决办法：修正或清空这些数据（或改回字段定义），然后重新运行 `metadesk migrate`。",
            )
        )
        return
    print(
        say(
            lang,
            "Migration refused: the plan drops or narrows data. Nothing was changed.",
            "迁移被拒绝：该计划会删除或收窄数据。数据库未做任何更改。",
        )
    )
    print(say(lang, "Destructive steps:", "破坏性步骤："))
    for step in migration_plan.destructive:
        print(step_line(step, lang))
    print(
        say(
            lang,
            f"To fix: review the whole plan with `metadesk migrate {directory} --plan`; if the loss is intended, "
            "run again with --allow-destructive (the touched tables are backed up first). "
            "Otherwise restore the fields in the YAML.",
            f"解决办法：先用 `metadesk migrate {directory} --plan` 查看完整计划；确认要删除这些数据后，"
            "加 --allow-destructive 重新运行（执行前会先备份涉及的表）；否则请在 YAML 中恢复这些字段。",
        )
    )
