"""`metadesk flow versions` and `metadesk flow migrate`: flow versions, and moving records to the current one.

`flow versions DIR` lists every flow's versions (v1, v2...) with their ids, the dates they
were first seen and how many live records follow each. `flow migrate DIR FLOW --from VERSION
--map old=new ...` moves the live records of FLOW on VERSION to the current version, mapping
their states (runtime/flow_migration.py); states that keep their name need no --map. With
--plan it prints the counts per state and changes nothing. Records are changed as the
actor "cli", with one audit entry each.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from metamodel.diagnostics import language_from_environment
from runtime.access import Actor
from runtime.app import Runtime
from runtime.flow_migration import FlowMigrationError, MigrationPlan, migrate_records, parse_map, plan_migration, version_report
from ui.cli.keys import progress_callback, progress_display
from ui.cli.migrate import add_common_arguments, open_migrated_runtime, say

#: The actor that `flow migrate` acts as, named in the audit log.
CLI_ACTOR = Actor(id="cli", name="metadesk flow", roles=("system",))


def register(actions: Any) -> None:
    """Add `versions` and `migrate` to the actions of `metadesk flow`."""
    versions = actions.add_parser(
        "versions", help="list each flow's versions with their dates and record counts",
        description="List every flow's versions: number, id, when first seen, live records on it, and which is current.",
    )
    add_common_arguments(versions)
    versions.set_defaults(handler=run_versions)

    migrate = actions.add_parser(
        "migrate", help="move the records of an old flow version to the current version",
        description="Move every live record of FLOW on VERSION to the current version in one transaction, mapping "
        "old states to new ones. A state in use must be mapped, unless the current version has a state of the same name.",
    )
    add_common_arguments(migrate)
    migrate.add_argument("flow", metavar="FLOW", help="the flow's name")
    migrate.add_argument("--from", dest="source", metavar="VERSION", required=True,
                         help="the old version: v1, 1, or the start of its id (see `metadesk flow versions`)")
    migrate.add_argument("--map", dest="mapping", metavar="OLD=NEW", action="append", default=[],
                         help="move records in state OLD to state NEW of the current version; repeat for each state")
    migrate.add_argument("--plan", action="store_true", help="print the records that would move per state, and change nothing")
    migrate.set_defaults(handler=run_migrate)


def run_versions(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    runtime = open_migrated_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        reports = version_report(runtime.records)
        zone = runtime.records.timezone
    finally:
        runtime.close()
    if not reports:
        print(say(lang, "The application has no flows.", "该应用没有流程。"))
        return 0
    for report in reports:
        entity = report.entity or "?"
        removed = report.flow not in runtime.model.flows
        note = say(lang, " (no longer in the YAML)", "（已不在 YAML 中）") if removed else ""
        print(say(lang, f"Flow {report.flow} ({entity}){note}:", f"流程 {report.flow}（{entity}）{note}："))
        if not report.versions:
            print(say(lang, "  no version registered yet", "  尚未登记任何版本"))
        for item in report.versions:
            when = item.version.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            current = say(lang, "  current", "  当前版本") if item.current else ""
            records = say(lang, f"{item.records} record(s)", f"{item.records} 条记录")
            print(f"  {item.version.tag:<4} {item.version.version_id[:12]}  {when}  {records}{current}")
        for version, count in report.unregistered:
            print(say(lang, f"  unregistered {version[:12]}: {count} record(s)", f"  未登记 {version[:12]}：{count} 条记录"))
    return 0


def run_migrate(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    try:
        mapping = parse_map(arguments.mapping)
    except FlowMigrationError as error:
        print(say(lang, f"Error: {error.message('en')}", f"错误：{error.message('zh-CN')}"))
        return 2
    runtime = open_migrated_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        return _migrate(runtime, arguments, mapping, lang)
    except FlowMigrationError as error:
        print(say(lang, f"Error: {error.message('en')}", f"错误：{error.message('zh-CN')}"))
        return 1
    finally:
        runtime.close()


def _migrate(runtime: Runtime, arguments: argparse.Namespace, mapping: dict[str, str], lang: str) -> int:
    plan = plan_migration(runtime.records, arguments.flow, arguments.source, mapping)
    print_plan(plan, lang)
    if plan.refused:
        print_refusal(plan, lang, arguments.directory)
        return 1
    if plan.total == 0:
        print(say(lang, "No record is on that version; nothing to do.", "没有记录处于该版本，无需迁移。"))
        return 0
    if arguments.plan:
        print(say(lang, "Run without --plan to move them.", "去掉 --plan 重新运行即可执行迁移。"))
        return 0
    with progress_display(sys.stdout.isatty()) as progress:
        advance = progress_callback(progress, say(lang, f"Flow {plan.flow.name}", f"流程 {plan.flow.name}"), plan.total)
        fired: list[tuple[int, str]] = []
        moved = migrate_records(runtime.records, plan, CLI_ACTOR, advance, fired)
    print(say(lang, f"Moved {moved} record(s) of {plan.flow.name} from {plan.source_tag} to {plan.target.tag}, one audit entry each.",
              f"已将流程 {plan.flow.name} 的 {moved} 条记录从 {plan.source_tag} 迁移到 {plan.target.tag}，每条记录均已写入审计日志。"))
    for record_id, name in fired:
        label = plan.flow.transitions[name].label
        print(say(lang, f"  {plan.entity} {record_id}: the signatures carried over complete “{label.en}”, which the system fired.",
                  f"  {plan.entity} {record_id}：保留的签署已满足“{label.zh_cn}”，系统已执行该流转。"))
    return 0


def print_plan(plan: MigrationPlan, lang: str) -> None:
    source, target, name = plan.source_tag, plan.target.tag, plan.flow.name
    count = plan.unversioned
    unversioned = say(lang, f", {count} of them from before versions were kept", f"，其中 {count} 条为启用版本前的记录") if count else ""
    print(say(lang, f"Flow {name} ({plan.entity}): {plan.total} live record(s) on {source}{unversioned}; current version {target}.",
              f"流程 {name}（{plan.entity}）：{source} 上有 {plan.total} 条有效记录{unversioned}；当前版本为 {target}。"))
    for move in plan.moves:
        same = say(lang, " (same name)", "（同名）") if move.same_name else ""
        print(say(lang, f"  {move.old} → {move.new}{same}: {move.count} record(s)", f"  {move.old} → {move.new}{same}：{move.count} 条记录"))
    if plan.finished:
        finals = ", ".join(plan.final_states)
        print(say(lang, f"{plan.finished} finished record(s) (in {finals}) stay on {source}.",
                  f"{plan.finished} 条已结束的记录（状态 {finals}）保留在 {source}。"))
    kept = sum(group.count for group in plan.signatures if group.kept)
    if kept:
        print(say(lang, f"{kept} signature(s) collected so far carry over to {target}.", f"已收集的 {kept} 个签署将保留到 {target}。"))
    if plan.signatures_lost:
        print(say(lang, f"Warning: these signatures do not carry over, because {target} has no such approval level in the "
                        "new state; those approvers must sign again:",
                  f"警告：以下签署不能保留（{target} 在新状态下没有相应的审批级别），这些审批人需要重新签署："))
        for group in plan.signatures_lost:
            print(say(lang, f"  {group.state} / {group.transition} / {group.level}: {group.count} signature(s)",
                      f"  {group.state} / {group.transition} / {group.level}：{group.count} 个签署"))


def print_refusal(plan: MigrationPlan, lang: str, directory: str) -> None:
    print(say(lang, "Migration refused; nothing was changed.", "迁移被拒绝；未做任何更改。"))
    if plan.unmapped:
        print(say(lang, f"States in use with no state in {plan.target.tag} to go to:", f"以下状态仍有记录，但未映射到 {plan.target.tag} 的状态："))
        for state, count in plan.unmapped:
            print(say(lang, f"  {state}: {count} record(s)", f"  {state}：{count} 条记录"))
    states = ", ".join(plan.flow.states)
    for old, new in plan.unknown_targets:
        print(say(lang, f"  --map {old}={new}: {plan.target.tag} has no state {new!r}; its states are {states}",
                  f"  --map {old}={new}：{plan.target.tag} 没有状态 {new!r}；其状态为 {states}"))
    for old in plan.unknown_sources:
        print(say(lang, f"  --map {old}=...: {plan.source_tag} has no state {old!r}", f"  --map {old}=...：{plan.source_tag} 没有状态 {old!r}"))
    print(say(lang, f"To fix: add --map OLD=NEW for each state listed, with NEW one of {states}, and run "
                    f"`metadesk flow migrate {directory} {plan.flow.name} --from {plan.source_tag} ... --plan` again.",
              f"解决办法：为上面列出的每个状态加上 --map 原状态=新状态（新状态为 {states} 之一），"
              f"然后重新运行 `metadesk flow migrate {directory} {plan.flow.name} --from {plan.source_tag} ... --plan`。"))
