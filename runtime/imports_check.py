"""Checking the rows of an import with the entity's own rules, before anything is written.

Each row's cells become input (runtime/imports_values.py, runtime/imports_references.py),
then the entity's before_validate hooks and the record service's validator check it, as a
create would: types, required fields, references and their data scope, computed fields,
the entity's rules and unique values. The before_save and after_save hooks run only when
the rows are written, so a problem only they find is reported then.

A row whose only problem is that a unique value already belongs to a live record is
"present": the file was imported before, and the row is skipped rather than reported as bad.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from metamodel import model as m
from runtime import entity_hooks
from runtime.access import Actor
from runtime.errors import FieldError, PermissionDenied, ValidationFailed
from runtime.imports_columns import ImportColumn, match_columns
from runtime.imports_reading import Sheet, SheetRow
from runtime.imports_references import ReferenceFinder
from runtime.imports_values import EMPTY, CellProblem, cell_input
from runtime.record_guards import reference_scope_errors
from runtime.records import RecordService

logger = logging.getLogger(__name__)

INVALID = "invalid"
PRESENT = "present"

#: Path of the validator's problems that concern the whole record rather than one field.
RECORD_PATH = "_record"

#: Rows checked between two progress reports.
PROGRESS_EVERY = 200

Progress = Callable[[int], None]


@dataclass
class PreparedRow:
    """A data row of the file: its cells, the input made of them and the problems found so far, by field path."""

    line: int
    cells: tuple[Any, ...]
    values: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, list[FieldError]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    """Why a row is not written: the column (its header as in the file, or "" for the whole row) and the message."""

    column: str
    code: str
    message_en: str
    message_zh: str

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True)
class RowOutcome:
    """A row that is not written as it is: invalid, or present already."""

    line: int
    status: str
    reasons: tuple[Reason, ...]

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "status": self.status,
                "reasons": [[reason.column, reason.code, reason.message_en, reason.message_zh] for reason in self.reasons]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowOutcome:
        return cls(int(data["line"]), str(data["status"]), tuple(Reason(*item) for item in data["reasons"]))


def require_import(service: RecordService, actor: Actor, entity: m.Entity) -> None:
    """Raise PermissionDenied unless the actor may both import and create records of the entity."""
    for action in ("import", "create"):
        if not service.access.allows(actor, action, entity.name):
            raise PermissionDenied(entity.name, action)


def prepare_rows(service: RecordService, actor: Actor, entity: m.Entity, sheet: Sheet) -> tuple[list[ImportColumn], list[PreparedRow]]:
    """Match the headers to fields and turn every row's cells into input; raise ImportFileError for bad columns."""
    require_import(service, actor, entity)
    columns = match_columns(entity, service.access.fields(actor, entity.name), sheet.headers)
    finder = ReferenceFinder(service, actor)
    with service.reading():
        return columns, [_prepare(finder, columns, row) for row in sheet.rows]


def _prepare(finder: ReferenceFinder, columns: list[ImportColumn], row: SheetRow) -> PreparedRow:
    prepared = PreparedRow(row.line, row.cells)
    for column in columns:
        spec = column.field
        try:
            value = cell_input(spec, row.cells[column.index])
            if value is not EMPTY and spec.type in m.REFERENCE_TYPES:
                value = finder.ids(spec, value)
        except CellProblem as problem:
            prepared.problems[spec.name] = [problem.error]
            continue
        if value is not EMPTY:
            prepared.values[spec.name] = value
    return prepared


def check_rows(
    service: RecordService, actor: Actor, entity: m.Entity, columns: list[ImportColumn], rows: list[PreparedRow],
    progress: Progress | None = None,
) -> tuple[list[PreparedRow], list[RowOutcome]]:
    """Check every row as a create would; return the rows that may be written and the outcome of the others."""
    require_import(service, actor, entity)
    access = service.access.fields(actor, entity.name)
    today = service.clock().date()
    valid: list[PreparedRow] = []
    outcomes: list[RowOutcome] = []
    first_line: dict[tuple[str, Any], int] = {}

    with service.engine.connect() as connection:
        validator = service._validator(connection, entity)
        for number, row in enumerate(rows, start=1):
            errors = dict(row.problems)
            normalized: dict[str, Any] = {}
            try:
                values = entity_hooks.before_validate(service, connection, actor, entity, row.values, None)
                checked = validator.check(connection, actor, access, values, None, today)
                if not checked.errors:
                    checked.errors.update(reference_scope_errors(service, connection, actor, entity, checked.values, None))
                found, normalized = checked.errors, checked.values
            except ValidationFailed as failed:
                found = failed.errors
            for path, items in found.items():
                if path in row.problems:
                    # A cell that could not be read is left out of the input, so "required" would repeat its problem.
                    continue
                errors.setdefault(path, []).extend(items)
            if not errors:
                errors = _repeated_in_file(entity, row.line, normalized, first_line)

            if not errors:
                valid.append(row)
            elif _only_already_stored(entity, errors):
                outcomes.append(RowOutcome(row.line, PRESENT, reasons_of(columns, errors)))
            else:
                outcomes.append(RowOutcome(row.line, INVALID, reasons_of(columns, errors)))
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number)
        connection.rollback()
    if progress is not None:
        progress(len(rows))
    logger.info("checked %s rows of an import of %s for %s: %s to write", len(rows), entity.name, actor.id, len(valid))
    return valid, outcomes


def _repeated_in_file(
    entity: m.Entity, line: int, values: dict[str, Any], first_line: dict[tuple[str, Any], int]
) -> dict[str, list[FieldError]]:
    """Report a unique value that an earlier row of the file already has; remember this row's unique values."""
    errors: dict[str, list[FieldError]] = {}
    for name, spec in entity.fields.items():
        value = values.get(name)
        if not spec.unique or value is None:
            continue
        key = (name, str(value))
        if key in first_line:
            earlier = first_line[key]
            errors[name] = [FieldError("import.repeated", f"line {earlier} of the file has the same value; keep one of the two rows",
                                       f"与文件第 {earlier} 行的值相同；请只保留其中一行")]
    if not errors:
        for name, spec in entity.fields.items():
            value = values.get(name)
            if spec.unique and value is not None:
                first_line[(name, str(value))] = line
    return errors


def _only_already_stored(entity: m.Entity, errors: dict[str, list[FieldError]]) -> bool:
    """Tell whether every problem is a unique field whose value a stored record already has.

    NOTE: only fields declared `unique` count. A row that repeats a stored record's values of a
    composite unique index passes the check and is rejected when written, with the database's message.
    """
    return all(path in entity.fields and entity.fields[path].unique and all(item.code == "unique" for item in items)
               for path, items in errors.items())


def reasons_of(columns: list[ImportColumn], errors: dict[str, list[FieldError]]) -> tuple[Reason, ...]:
    headers = {column.field.name: column.header for column in columns}
    reasons: list[Reason] = []
    for path, items in errors.items():
        name = path.split("[", 1)[0].split(".", 1)[0]
        column = "" if path == RECORD_PATH else headers.get(name, path)
        reasons.extend(Reason(column, item.code, item.message_en, item.message_zh) for item in items)
    return tuple(reasons)


def reasons_text(outcome: RowOutcome, lang: str) -> str:
    """Return a row's reasons as one line of text, each after its column's header."""
    separator = "; " if lang == "en" else "；"
    colon = ": " if lang == "en" else "："
    return separator.join(f"{reason.column}{colon}{reason.message(lang)}" if reason.column else reason.message(lang)
                          for reason in outcome.reasons)
