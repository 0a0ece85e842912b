"""`metadesk catalogs DIR`: write the catalog rows declared in YAML into the database."""

from __future__ import annotations

import argparse
from typing import Any

from metamodel.diagnostics import language_from_environment
from runtime.catalogs import CatalogSyncFailed, sync_catalogs
from ui.cli.migrate import add_common_arguments, open_migrated_runtime, say


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "catalogs",
        help="create, update or retire the catalog rows declared in YAML",
        description="Bring the database's catalog rows (products, dictionaries) in line with the YAML. "
        "Rows removed from the YAML are deleted when unused and retired when records use them.",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    runtime = open_migrated_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        report = sync_catalogs(runtime.records)
    except CatalogSyncFailed as failure:
        print(say(lang, f"Catalog {failure.catalog}, row {failure.key}: {failure.error.message('en')}",
                  f"目录 {failure.catalog} 的 {failure.key} 行：{failure.error.message('zh-CN')}"))
        return 1
    finally:
        runtime.close()

    counts = [
        (len(report.created), "created", "新增"),
        (len(report.updated), "updated", "更新"),
        (len(report.restored), "restored", "恢复"),
        (len(report.retired), "retired", "停用"),
        (len(report.purged), "deleted", "删除"),
    ]
    if lang == "en":
        print("Catalog rows: " + ", ".join(f"{count} {word}" for count, word, _ in counts) + ".")
    else:
        print("目录数据：" + "，".join(f"{word} {count} 行" for count, _, word in counts) + "。")
    return 0
