"""`metadesk callbacks DIR`: list the provider callbacks whose hook failed, and run them again."""

from __future__ import annotations

import argparse
from typing import Any

from metamodel.diagnostics import language_from_environment
from runtime.callbacks import CallbackFailed, failed_callbacks, retry
from runtime.app import Runtime
from ui.cli.migrate import add_common_arguments, open_migrated_runtime, say


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "callbacks",
        help="list provider callbacks whose hook failed, and run them again",
        description="List the callbacks from providers whose callback hook failed, with their attempts and last error. "
        "With --retry, run the hook of one failed event again; with --retry-all, of every failed event shown.",
    )
    add_common_arguments(parser)
    parser.add_argument("--integration", metavar="NAME", help="only the callbacks of this integration")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--retry", metavar="EVENT_ID", help="run the hook of this failed event again (needs --integration)")
    action.add_argument("--retry-all", action="store_true", help="run the hook of every failed event shown again")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    if arguments.retry and not arguments.integration:
        print(say(lang, "--retry needs --integration NAME: event ids are unique only within one integration.",
                  "--retry 需要同时给出 --integration NAME：事件编号只在同一集成内唯一。"))
        return 2
    runtime = open_migrated_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        if arguments.integration and arguments.integration not in runtime.model.integrations:
            names = ", ".join(sorted(runtime.model.integrations)) or "-"
            print(say(lang, f"The application declares no integration {arguments.integration!r}; its integrations are {names}.",
                      f"应用中没有名为 {arguments.integration!r} 的集成；现有集成：{names}。"))
            return 1
        if arguments.retry:
            return _retry(runtime, lang, [(arguments.integration, arguments.retry)])
        failed = failed_callbacks(runtime.records, arguments.integration)
        if arguments.retry_all:
            return _retry(runtime, lang, [(row["integration"], row["event_id"]) for row in failed])
        _print_failed(lang, failed)
        return 0
    finally:
        runtime.close()


def _print_failed(lang: str, failed: list[dict[str, Any]]) -> None:
    if not failed:
        print(say(lang, "No callback is waiting: every hook ran through.", "没有待处理的回调：所有钩子均已成功运行。"))
        return
    print(say(lang, f"{len(failed)} callbacks whose hook failed:", f"{len(failed)} 个回调的钩子运行失败："))
    for row in failed:
        received = row["received_at"].strftime("%Y-%m-%d %H:%M")
        print(f"  {row['integration']} {row['event_id']} ({row['kind']}), "
              + say(lang, f"received {received}, {row['attempts']} attempts: {row['error']}",
                    f"{received} 收到，已尝试 {row['attempts']} 次：{row['error']}"))
    print(say(lang, "Fix the cause, then run them again with --retry EVENT_ID --integration NAME, or --retry-all.",
              "排除原因后，用 --retry EVENT_ID --integration NAME 或 --retry-all 重新运行。"))


def _retry(runtime: Runtime, lang: str, events: list[tuple[str, str]]) -> int:
    """Run the hooks of the events again; return 0 when all ran through, 1 otherwise."""
    failures = 0
    for integration, event_id in events:
        try:
            handled = retry(runtime.records, runtime.model.integrations[integration], event_id)
        except CallbackFailed as failed:
            failures += 1
            print(say(lang, f"{integration} {event_id}: failed again (attempt {failed.attempts}): {failed.error}",
                      f"{integration} {event_id}：再次失败（第 {failed.attempts} 次）：{failed.error}"))
            continue
        if handled:
            print(say(lang, f"{integration} {event_id}: handled.", f"{integration} {event_id}：已处理。"))
        else:
            failures += 1
            print(say(lang, f"{integration} {event_id}: no failed callback has this id; list them with `metadesk callbacks`.",
                      f"{integration} {event_id}：没有该编号的失败回调；可用 `metadesk callbacks` 列出。"))
    return 1 if failures else 0
