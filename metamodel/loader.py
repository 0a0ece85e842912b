"""Load an application directory into an `AppModel`, or every problem that prevents it.

An application is a folder laid out by kind:

    app.yaml           the app document
    seed.yaml          optional hints for the demo data of `metadesk seed`
    entities/*.yaml    one entity per file
    forms/  flows/  permissions/  reports/  catalogs/  schedules/  integrations/  templates/  dashboards/

Sub-folders inside a kind's folder are read too. Other folders holding YAML are
reported, except hooks/ (Python code) and folders whose name starts with a dot
or an underscore.

Loading runs in three passes over every file, so that all problems are reported at
once. The first reads each file and validates it against its kind's schema. The second
builds the model objects with the checks one document can make alone. The third
cross-checks the documents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from metamodel import model as m
from metamodel.build import Builder, build_entity, build_form
from metamodel.build_flows import build_flow
from metamodel.build_declarations import (
    PermissionsBuilder,
    build_app,
    build_catalog,
    build_dashboard,
    build_integration,
    build_report,
    build_schedule,
    build_template,
)
from metamodel.build_seed import build_seed
from metamodel.crosscheck import crosscheck
from metamodel.diagnostics import ConfigError, Diagnostic, Text, suggest
from metamodel.schemas import validate_document
from metamodel.yamlsource import Document, read_document

#: The folder of each kind of document, app excepted.
FOLDERS: dict[str, str] = {
    "entities": "entity",
    "forms": "form",
    "flows": "flow",
    "permissions": "permissions",
    "reports": "report",
    "catalogs": "catalog",
    "schedules": "schedule",
    "integrations": "integration",
    "templates": "template",
    "dashboards": "dashboard",
}

#: Documents that sit at the top of the application folder besides app.yaml, by file stem.
TOP_LEVEL: dict[str, str] = {"seed": "seed"}

#: Folders that may sit in an application without holding documents.
OTHER_FOLDERS = ("hooks",)

YAML_SUFFIXES = (".yaml", ".yml")

_BUILDERS: dict[str, Callable[[Builder, Document], Any]] = {
    "entity": build_entity,
    "form": build_form,
    "flow": build_flow,
    "report": build_report,
    "catalog": build_catalog,
    "schedule": build_schedule,
    "integration": build_integration,
    "template": build_template,
    "dashboard": build_dashboard,
}

_NAMED_KINDS = ("entity", "form", "flow", "report", "catalog", "schedule", "integration", "template", "dashboard")


@dataclass
class CheckResult:
    """The outcome of checking an application: the model when there is no error, and every diagnostic."""

    model: m.AppModel | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[Diagnostic]:
        return [item for item in self.diagnostics if item.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [item for item in self.diagnostics if item.severity == "warning"]


def load_app(directory: str | os.PathLike[str]) -> m.AppModel:
    """Load and check an application; raise ConfigError listing every error."""
    result = check_app(directory)
    if result.model is None:
        raise ConfigError(result.diagnostics)
    return result.model


def check_app(directory: str | os.PathLike[str]) -> CheckResult:
    """Load and check an application, returning the model (when valid) and all diagnostics."""
    root = Path(directory)
    display_root = str(directory).rstrip("/\\") or "."
    if not root.is_dir():
        return CheckResult(None, [Diagnostic("layout.E003", display_root, 1, 1, (), {"found": display_root})])

    diagnostics: list[Diagnostic] = []
    broken: set[str] = set()
    documents = _read_documents(root, display_root, diagnostics, broken)
    broken_flow_entities = {name.partition(":")[2] for name in broken if name.startswith("flow:")}
    broken = {name for name in broken if not name.startswith("flow:")}
    builder = Builder()
    model = _build_model(root, display_root, documents, builder, diagnostics)
    diagnostics.extend(builder.diagnostics)

    diagnostics.extend(crosscheck(model, documents, builder.sites, frozenset(broken), frozenset(broken_flow_entities)))
    has_errors = any(item.severity == "error" for item in diagnostics)

    diagnostics.sort(key=Diagnostic.sort_key)
    file_count = len({item.file for item in diagnostics} | {document.file for items in documents.values() for document in items})
    return CheckResult(None if has_errors else model, diagnostics, file_count)


def _read_documents(
    root: Path, display_root: str, diagnostics: list[Diagnostic], broken: set[str]
) -> dict[str, list[Document]]:
    """Read every YAML file and validate it against its kind's schema; keep only the valid ones.

    `broken` receives the names of entities whose files failed, so that references to them
    are not reported as references to undeclared entities. It also receives "flow:<entity>"
    for each flow file that failed ("flow:*" when the entity is unknown), so that its
    transitions are not reported as unknown actions.
    """
    documents: dict[str, list[Document]] = {kind: [] for kind in ("app", *TOP_LEVEL.values(), *FOLDERS.values())}
    app_file = next(
        (path for path in sorted(root.iterdir()) if path.is_file() and path.stem == "app" and path.suffix.lower() in YAML_SUFFIXES),
        None,
    )
    if app_file is None:
        # Without app.yaml this is no application folder: reading every YAML below it would
        # only bury the one problem under thousands of others.
        found = [path for pattern in ("*/app.yaml", "*/*/app.yaml", "*/*/*/app.yaml") for path in root.glob(pattern)]
        candidates = sorted(str(path.parent.relative_to(root)) for path in found)[:5]
        expected: Any = candidates or Text("none", "无")
        diagnostics.append(Diagnostic("layout.E002", _display(display_root, "app.yaml"), 1, 1, (), {"expected": expected}))
        return documents
    else:
        _read_one(app_file, _display(display_root, app_file.name), "app", documents, diagnostics, broken)

    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or path.suffix.lower() not in YAML_SUFFIXES:
            continue
        if any(part.startswith((".", "_")) for part in relative.parts):
            continue
        display = _display(display_root, relative.as_posix())
        if len(relative.parts) == 1:
            if path.stem in TOP_LEVEL:
                _read_one(path, display, TOP_LEVEL[path.stem], documents, diagnostics, broken)
            elif path != app_file:
                diagnostics.append(
                    Diagnostic("layout.E004", display, 1, 1, (), {"found": path.name, "expected": [name + "/" for name in FOLDERS]})
                )
            continue
        folder = relative.parts[0]
        if folder in OTHER_FOLDERS:
            continue
        if folder not in FOLDERS:
            suggestion = suggest(folder, FOLDERS)
            diagnostics.append(
                Diagnostic(
                    "layout.E001",
                    display,
                    1,
                    1,
                    (),
                    {"found": folder + "/", "expected": [name + "/" for name in FOLDERS], "suggestion": suggestion + "/" if suggestion else None},
                )
            )
            continue
        _read_one(path, display, FOLDERS[folder], documents, diagnostics, broken)
    return documents


def _read_one(
    path: Path,
    display: str,
    kind: str,
    documents: dict[str, list[Document]],
    diagnostics: list[Diagnostic],
    broken: set[str],
) -> None:
    document, problems = read_document(path, display)
    diagnostics.extend(problems)
    if document is None or any(problem.severity == "error" for problem in problems):
        if kind == "entity":
            broken.add(path.stem)
        elif kind == "flow":
            broken.add("flow:*")
        return
    schema_problems = validate_document(kind, document)
    diagnostics.extend(schema_problems)
    if not schema_problems:
        documents[kind].append(document)
    elif kind == "entity":
        name = document.data.get("name") if isinstance(document.data, dict) else None
        broken.add(name if isinstance(name, str) else path.stem)
    elif kind == "flow" and isinstance(document.data, dict) and isinstance(document.data.get("entity"), str):
        broken.add("flow:" + document.data["entity"])


def _display(root: str, relative: str) -> str:
    return relative if root == "." else f"{root}/{relative}"


def _build_model(
    root: Path,
    display_root: str,
    documents: dict[str, list[Document]],
    builder: Builder,
    diagnostics: list[Diagnostic],
) -> m.AppModel:
    if documents["app"]:
        app = build_app(builder, documents["app"][0])
    else:
        # A stand-in, so that the other documents are still cross-checked.
        app = m.AppSpec("app", m.Label("应用", "app"), m.Source(_display(display_root, "app.yaml"), 1, 1))

    built: dict[str, dict[str, Any]] = {kind: {} for kind in _NAMED_KINDS}
    declared_at: dict[tuple[str, str], str] = {}
    for kind in _NAMED_KINDS:
        for document in documents[kind]:
            name = document.data["name"]
            line, column = document.position(("name",))
            location = f"{document.file}:{line}:{column}"
            other = declared_at.setdefault((kind, name), location)
            if other != location:
                diagnostics.append(document.diagnostic("name.E001", ("name",), kind=kind, found=name, other=other))
                continue
            built[kind][name] = _BUILDERS[kind](builder, document)

    permissions = PermissionsBuilder(builder)
    for document in documents["permissions"]:
        permissions.add(document)
    seed = build_seed(builder, documents["seed"][0]) if documents["seed"] else None

    return m.AppModel(
        directory=str(root),
        app=app,
        entities=m.frozen_mapping(built["entity"]),
        forms=m.frozen_mapping(built["form"]),
        flows=m.frozen_mapping(built["flow"]),
        permissions=permissions.result(),
        reports=m.frozen_mapping(built["report"]),
        catalogs=m.frozen_mapping(built["catalog"]),
        schedules=m.frozen_mapping(built["schedule"]),
        integrations=m.frozen_mapping(built["integration"]),
        templates=m.frozen_mapping(built["template"]),
        seed=seed,
        dashboards=m.frozen_mapping(built["dashboard"]),
    )
