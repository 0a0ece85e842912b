"""`metadesk check DIR`: validate an application and print every problem or a summary."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from metamodel import CheckResult, check_app
from metamodel.diagnostics import LANGUAGES, Diagnostic, language_from_environment
from metamodel.model import AppModel
from runtime.hook_loading import hook_diagnostics


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate an application's YAML",
        description="Validate every YAML file of an application folder. Prints each problem as "
        "file:line:col: CODE message and exits 1, or prints a summary and exits 0.",
    )
    parser.add_argument("directory", metavar="DIR", help="the application folder, the one holding app.yaml")
    parser.add_argument("--lang", choices=LANGUAGES, help="language of messages (default: from the locale; zh-CN unless it names English)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    result = check_app(arguments.directory)
    if result.model is not None:
        found = hook_diagnostics(result.model, arguments.directory)
        if found:
            has_errors = any(item.severity == "error" for item in found)
            diagnostics = sorted([*result.diagnostics, *found], key=Diagnostic.sort_key)
            result = CheckResult(None if has_errors else result.model, diagnostics, result.files)
    if arguments.format == "json":
        print(json.dumps(as_json(result, lang), ensure_ascii=False, indent=2))
    else:
        print_text(result, lang)
    return 1 if result.errors else 0


def summary(model: AppModel) -> dict[str, int]:
    return {
        "entities": len(model.entities),
        "fields": sum(len(entity.fields) for entity in model.entities.values()),
        "forms": len(model.forms),
        "flows": len(model.flows),
        "roles": len(model.permissions.roles),
        "reports": len(model.reports),
        "catalogs": len(model.catalogs),
        "schedules": len(model.schedules),
        "integrations": len(model.integrations),
        "templates": len(model.templates),
    }


_SUMMARY_WORDS_ZH = {
    "entities": "实体",
    "fields": "字段",
    "forms": "表单",
    "flows": "流程",
    "roles": "角色",
    "reports": "报表",
    "catalogs": "目录",
    "schedules": "定时任务",
    "integrations": "集成",
    "templates": "模板",
}


def as_json(result: CheckResult, lang: str) -> dict[str, Any]:
    return {
        "ok": not result.errors,
        "app": result.model.app.name if result.model else None,
        "files": result.files,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "summary": summary(result.model) if result.model else None,
        "diagnostics": [item.as_json(lang) for item in result.diagnostics],
    }


def print_text(result: CheckResult, lang: str) -> None:
    stream = sys.stdout
    for item in result.diagnostics:
        print(item.as_text(lang), file=stream)
    errors, warnings = len(result.errors), len(result.warnings)
    if result.model is None:
        if lang == "en":
            print(f"{errors} error(s), {warnings} warning(s) in {result.files} file(s).", file=stream)
        else:
            print(f"共 {result.files} 个文件，{errors} 个错误，{warnings} 个警告。", file=stream)
        return

    counts = summary(result.model)
    app = result.model.app
    if lang == "en":
        parts = ", ".join(f"{name} {count}" for name, count in counts.items())
        print(f"OK: {app.name} ({app.label.en}) from {result.files} file(s): {parts}; {warnings} warning(s).", file=stream)
    else:
        parts = "，".join(f"{_SUMMARY_WORDS_ZH[name]} {count}" for name, count in counts.items())
        print(f"通过：{app.name}（{app.label.zh_cn}），{result.files} 个文件：{parts}；警告 {warnings} 个。", file=stream)
