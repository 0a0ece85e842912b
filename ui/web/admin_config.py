"""The configuration page: the loaded application, a fresh check of its folder, and its entities' fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from metamodel import CheckResult, check_app
from metamodel import model as m
from metamodel.loader import YAML_SUFFIXES
from metamodel.yamlsource import read_document
from ui.web.admin_support import admin_only, admin_page
from ui.web.i18n import pick
from ui.web.state import lang_of, web

def declaration_counts(model: m.AppModel, lang: str) -> list[tuple[str, int]]:
    """Count what the application declares, by kind, with each kind's name in `lang`."""
    counts = [
        ("Entities", "实体", len(model.entities)),
        ("Fields", "字段", sum(len(entity.fields) for entity in model.entities.values())),
        ("Forms", "表单", len(model.forms)),
        ("Flows", "流程", len(model.flows)),
        ("Roles", "角色", len(model.permissions.roles)),
        ("Org units", "组织机构", len(model.permissions.org_units)),
        ("Grants", "授权", len(model.permissions.grants)),
        ("Reports", "报表", len(model.reports)),
        ("Catalogs", "目录", len(model.catalogs)),
        ("Schedules", "定时任务", len(model.schedules)),
        ("Integrations", "集成", len(model.integrations)),
        ("Templates", "模板", len(model.templates)),
    ]
    return [(pick(lang, en, zh), count) for en, zh, count in counts]


def app_version(directory: str) -> str | None:
    """Return the `version` that app.yaml declares, which the model does not carry, or None."""
    root = Path(directory)
    for suffix in YAML_SUFFIXES:
        path = root / f"app{suffix}"
        if path.is_file():
            document, _ = read_document(path, path.name)
            data = document.data if document is not None else None
            version = data.get("version") if isinstance(data, dict) else None
            return str(version) if version is not None else None
    return None


def _relative(file: str, directory: str) -> str:
    prefix = directory.rstrip("/\\") + "/"
    return file[len(prefix):] if file.startswith(prefix) else file


async def config_page(request: Request) -> Response:
    state = web(request)
    lang = lang_of(request)
    model: m.AppModel = state.model
    # Checking reads and parses every YAML file, which takes a noticeable fraction of a second.
    result: CheckResult = await run_in_threadpool(check_app, model.directory)
    diagnostics = [
        {
            "severity": item.severity,
            "code": item.code,
            "location": f"{_relative(item.file, model.directory)}:{item.line}:{item.column}",
            "message": item.message(lang),
            "hint": item.hint(lang),
        }
        for item in result.diagnostics
    ]
    context: dict[str, Any] = {
        "title": pick(lang, "Configuration", "配置"),
        "model": model,
        "version": await run_in_threadpool(app_version, model.directory),
        "counts": declaration_counts(model, lang),
        "diagnostics": diagnostics,
        "error_count": len(result.errors),
        "warning_count": len(result.warnings),
        "checked_files": result.files,
        "entities": list(model.entities.values()),
    }
    return admin_page(request, "admin_config.html", context)


def routes() -> list[BaseRoute]:
    return [Route("/admin/config", admin_only(config_page), methods=["GET"])]
