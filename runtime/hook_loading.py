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
from metamodel.diagnostics import Diagnostic, Text
from runtime.hooks import registry

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
        if Path(frame.filename) == path and frame.lineno:
            return int(frame.lineno)
    return 1


def hook_uses(model: m.AppModel) -> list[HookUse]:
    """Return every hook name the application's YAML gives: fields, actions, entity events, states, transitions, schedules."""
    uses: list[HookUse] = []
    for entity in model.entities.values():
        for field in entity.fields.values():
            if field.computed_by:
                where = Text(f"field {entity.name}.{field.name}, computed_by", f"字段 {entity.name}.{field.name} 的 computed_by")
                uses.append(HookUse(field.computed_by, field.source.file, field.source.line, where))
        for action in entity.actions:
            where = Text(f"entity {entity.name}, action {action.name}", f"实体 {entity.name} 的操作 {action.name}")
            uses.append(HookUse(action.hook, entity.source.file, entity.source.line, where))
        for event, names in entity.hooks.items():
            where = Text(f"entity {entity.name}, {event}", f"实体 {entity.name} 的 {event}")
            uses.extend(HookUse(name, entity.source.file, entity.source.line, where) for name in names)
    for flow in model.flows.values():
        for state in flow.states.values():
            for event, names in (("on_enter", state.on_enter), ("on_leave", state.on_leave)):
                where = Text(f"flow {flow.name}, state {state.name}, {event}", f"流程 {flow.name} 的状态 {state.name}（{event}）")
                uses.extend(HookUse(name, flow.source.file, flow.source.line, where) for name in names)
        for transition in flow.transitions.values():
            where = Text(f"flow {flow.name}, transition {transition.name}", f"流程 {flow.name} 的流转 {transition.name}")
            uses.extend(HookUse(name, flow.source.file, flow.source.line, where) for name in transition.hooks)
    for schedule in model.schedules.values():
        where = Text(f"schedule {schedule.name}", f"定时任务 {schedule.name}")
        uses.append(HookUse(schedule.hook, schedule.source.file, schedule.source.line, where))
    return uses


def unregistered_hooks(model: m.AppModel) -> list[HookUse]:
    """Return the hook uses whose name no loaded module or installed package registers."""
    known = set(registry.names())
    return [use for use in hook_uses(model) if use.name not in known]


def hook_diagnostics(model: m.AppModel, directory: str | Path) -> list[Diagnostic]:
    """Import the application's hooks and return a diagnostic for an import error or for each unregistered hook."""
    try:
        load_app_hooks(directory, model.app.name)
    except HookLoadError as failed:
        reason = f"{type(failed.error).__name__}: {failed.error}"
        return [Diagnostic("hook.E002", str(failed.file), failed.line, 1, (), {"reason": reason})]
    known = registry.names() or ["-"]
    return [Diagnostic("hook.W001", use.file, use.line, 1, (), {"found": use.name, "where": use.where, "expected": known})
            for use in unregistered_hooks(model)]
