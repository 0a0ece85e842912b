"""`metadesk audit verify DIR`: recompute the audit log's hash chain and name the first bad entry."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import inspect

from metamodel.diagnostics import language_from_environment
from runtime.audit import AuditLog, VerifyResult
from ui.cli.migrate import add_common_arguments, open_runtime, say

#: Chinese wording of the problems `AuditLog.verify` reports; any other text is shown as it is.
_PROBLEMS_ZH = {
    "the entry does not follow the one before it (an entry was deleted or moved)": "该条记录与前一条接不上（有记录被删除或移动）",
    "the entry's content does not match its hash (it was edited)": "该条记录的内容与其哈希不符（内容被修改过）",
    "the newest entries were removed": "最新的若干条记录被删除了",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check the audit log",
        description="Commands on the append-only audit log.",
    )
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check that no audit entry was edited, deleted or moved",
        description="Recompute the hash chain of the audit log. Exits 0 when it is intact, "
        "or names the first entry that does not match and exits 1.",
    )
    add_common_arguments(verify)
    verify.set_defaults(handler=run_verify)


def run_verify(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    runtime = open_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        with runtime.engine.connect() as connection:
            if not inspect(connection).has_table(runtime.schema.audit.name):
                print(
                    say(
                        lang,
                        f"The database has no audit log yet; create the tables with `metadesk migrate {arguments.directory}`.",
                        f"数据库中还没有审计日志；请先运行 `metadesk migrate {arguments.directory}` 建表。",
                    )
                )
                return 1
            result = AuditLog(runtime.schema).verify(connection)
    finally:
        runtime.close()
    print(describe(result, lang))
    return 0 if result.ok else 1


def describe(result: VerifyResult, lang: str) -> str:
    if result.ok:
        return say(lang, f"audit log intact: {result.checked} entries checked", f"审计日志完整：已校验 {result.checked} 条记录")
    problem = result.problem or ""
    if lang != "en":
        problem = _PROBLEMS_ZH.get(problem, problem)
    return say(
        lang,
        f"audit log broken at entry {result.first_bad_id}: {problem} "
        f"({result.checked} earlier entries are intact)",
        f"审计日志已被破坏，第一条异常记录的 id 为 {result.first_bad_id}：{problem}（此前 {result.checked} 条记录完好）",
    )
