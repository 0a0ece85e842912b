"""Importing an application's own hooks, and finding the hooks its YAML names that no code registers.

An application keeps its Python hooks in the `hooks/` folder beside app.yaml. Each `*.py`
module there (not starting with `_`) is imported once per process and file, under the
package name `metadesk_app_hooks.<app>`, and registers its hooks with the `hook` decorator
on import.
Installed packages register theirs through the `metadesk.hooks` entry points
(runtime/hooks.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from metamodel import model as m
from metamodel.diagnostics import Diagnostic, DocPath, Text, suggest
from metamodel.yamlsource import Document, read_document
from runtime.hooks import registry
from runtime.providers import registry as provider_registry
from runtime.providers import ProviderConfig, unprovided

logger = logging.getLogger(__name__)

PACKAGE = "metadesk_app_hooks"


class HookLoadError(Exception):
    """A module of the hooks folder failed to import; names the file and line of the error."""

    def __init__(self, file: Path, line: int, error: BaseException) -> None:
        super().__init__(f"{file}:{line}: importing the hooks module failed: {type(error).__name__}: {error}")
        self.file = file
        self.line = line
        self.error = error


@dataclass(frozen=True)
class HookUse:
    """A hook name the YAML gives, and where: the document that names it and what runs it."""

    name: str
    file: str
    line: int
    #: The declaration that runs the hook, such as "entity order, after_save" or "flow expense, transition approve".
    where: Text
    #: Where the name is inside its document.
    path: DocPath = ()


def load_app_hooks(directory: str | Path, app_name: str) -> list[str]:
    """Import each module of the application's hooks folder once; return the module names imported now."""
    folder = Path(directory) / "hooks"
    if not folder.is_dir():
        return []
    imported = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        # Two folders of the same application (a copy, a test's) import as different modules.
        digest = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:12]
        module_name = f"{PACKAGE}.{app_name}.{path.stem}_{digest}"
        if module_name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[module_name]
            raise HookLoadError(path, _error_line(path, error), error) from error
        logger.info("hooks loaded from %s", path)
        imported.append(module_name)
    return imported


def _error_line(path: Path, error: BaseException) -> int:
    """Return the line of `path` the error happened at, or 1."""
    if isinstance(error, SyntaxError) and error.lineno:
        return int(error.lineno)
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if Path(frame.filename).resolve() == path.resolve() and frame.lineno:
            return int(frame.lineno)
    return 1


def hook_uses(model: m.AppModel) -> list[HookUse]:
    """Return every hook name the application's YAML gives: fields, actions, entity events, states, transitions, schedules."""
    uses: list[HookUse] = []
    for entity in model.entities.values():
        file = entity.source.file
        for index, field in enumerate(entity.fields.values()):
            if field.computed_by:
                where = Text(f"field {entity.name}.{field.name}, computed_by", f"字段 {entity.name}.{field.name} 的 computed_by")
                uses.append(HookUse(field.computed_by, file, field.source.line, where, ("fields", index, "computed_by")))
        for index, action in enumerate(entity.actions):
            where = Text(f"entity {entity.name}, action {action.name}", f"实体 {entity.name} 的操作 {action.name}")
            uses.append(HookUse(action.hook, file, entity.source.line, where, ("actions", index, "hook")))
        for event, names in entity.hooks.items():
            where = Text(f"entity {entity.name}, {event}", f"实体 {entity.name} 的 {event}")
            uses.extend(HookUse(name, file, entity.source.line, where, ("hooks", event, index)) for index, name in enumerate(names))
    for flow in model.flows.values():
        file = flow.source.file
        for position, state in enumerate(flow.states.values()):
            for event, names in (("on_enter", state.on_enter), ("on_leave", state.on_leave)):
                where = Text(f"flow {flow.name}, state {state.name}, {event}", f"流程 {flow.name} 的状态 {state.name}（{event}）")
                uses.extend(HookUse(name, file, flow.source.line, where, ("states", position, event, index))
                            for index, name in enumerate(names))
        for position, transition in enumerate(flow.transitions.values()):
            where = Text(f"flow {flow.name}, transition {transition.name}", f"流程 {flow.name} 的流转 {transition.name}")
            uses.extend(HookUse(name, file, flow.source.line, where, ("transitions", position, "hooks", index))
                        for index, name in enumerate(transition.hooks))
    for integration in model.integrations.values():
        callback_hook = integration.settings.get("callback_hook")
        if isinstance(callback_hook, str) and callback_hook:
            where = Text(f"integration {integration.name}, callback_hook", f"集成 {integration.name} 的 callback_hook")
            uses.append(HookUse(callback_hook, integration.source.file, integration.source.line, where, ("settings", "callback_hook")))
    for schedule in model.schedules.values():
        where = Text(f"schedule {schedule.name}", f"定时任务 {schedule.name}")
        uses.append(HookUse(schedule.hook, schedule.source.file, schedule.source.line, where, ("hook",)))
    if model.seed is not None:
        for entity_name, hints in model.seed.entities.items():
            for step_name, step in hints.steps.items():
                where = Text(f"seed step {entity_name}.{step_name}", f"演示数据步骤 {entity_name}.{step_name}")
                uses.extend(HookUse(name, model.seed.source.file, model.seed.source.line, where,
                                    ("entities", entity_name, "steps", step_name, "hooks", index))
                            for index, name in enumerate(step.hooks))
    return uses


def _setting_problems(model: m.AppModel) -> list[Diagnostic]:
    """Return an error for each setting a provider rejects, where the provider can check its settings without a call."""
    found = []
    for item in model.integrations.values():
        factory = provider_registry.get(item.interface, item.provider)
        check = getattr(factory, "check_settings", None)
        if check is None:
            continue
        config = ProviderConfig(item.name, item.interface, item.provider, dict(item.settings))
        problems = check(config)
        if not problems:
            continue
        document = read_document(Path(item.source.file), item.source.file)[0]
        for problem in problems:
            path: DocPath = ("settings", problem.field) if problem.field else ("settings",)
            line, column = document.position(path) if document is not None else (item.source.line, item.source.column)
            found.append(Diagnostic("integration.E001", item.source.file, line, column, path,
                                    {"reason": Text(problem.en, problem.zh)}))
    return found


def _located(uses: list[HookUse]) -> list[tuple[HookUse, int, int]]:
    """Return each use with the line and column of its hook name, read again from its YAML file."""
    documents: dict[str, Document | None] = {}
    located = []
    for use in uses:
        if use.file not in documents:
            documents[use.file] = read_document(Path(use.file), use.file)[0]
        document = documents[use.file]
        line, column = document.position(use.path) if document is not None else (use.line, 1)
        located.append((use, line, column))
    return located


def unregistered_hooks(model: m.AppModel) -> list[HookUse]:
    """Return the hook uses whose name no loaded module or installed package registers."""
    known = set(registry.names())
    return [use for use in hook_uses(model) if use.name not in known]


def hook_diagnostics(model: m.AppModel, directory: str | Path) -> list[Diagnostic]:
    """Import the application's hooks; return a diagnostic for an import error, an unregistered hook or a missing provider."""
    try:
        load_app_hooks(directory, model.app.name)
    except HookLoadError as failed:
        reason = f"{type(failed.error).__name__}: {failed.error}"
        return [Diagnostic("hook.E002", str(failed.file), failed.line, 1, (), {"reason": reason})]
    known: list[str] | Text = registry.names() or Text("none", "无")
    found = [Diagnostic("hook.W001", use.file, line, column, use.path,
                        {"found": use.name, "where": use.where, "expected": known, "suggestion": suggest(use.name, registry.names())})
             for use, line, column in _located(unregistered_hooks(model))]
    known_pairs = provider_registry.known()
    interfaces = sorted({interface for interface, _ in known_pairs})
    for item in unprovided(model):
        kinds = [kind for interface, kind in known_pairs if interface == item.interface]
        # An interface that no package provides is most likely misspelt; otherwise the provider kind is missing.
        path: DocPath = ("provider",) if kinds else ("interface",)
        document = read_document(Path(item.source.file), item.source.file)[0]
        line, column = document.position(path) if document is not None else (item.source.line, item.source.column)
        expected: list[str] | Text = kinds or Text(f"none; the interfaces are {', '.join(interfaces) or '-'}",
                                                    f"无；现有接口：{', '.join(interfaces) or '-'}")
        found.append(Diagnostic("integration.W001", item.source.file, line, column, path,
                                {"found": item.provider, "interface": item.interface, "expected": expected,
                                 "suggestion": None if kinds else suggest(item.interface, interfaces)}))
    found.extend(_setting_problems(model))
    return found
