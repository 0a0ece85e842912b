"""Imports of records from CSV and Excel files: check every row, then write all of them or only the valid ones.

The steps, each run as the user who uploaded the file and through the record service:

1. `ImportRuns.start` stores the upload under data_dir/imports.
2. `Importer.check` reads the file, matches its headers to fields and checks every row with
   the entity's rules (runtime/imports_check.py). Rows are valid, invalid, or present: a
   unique value of theirs is stored already, so a second import of the same file skips them.
3. `Importer.write` checks again, since records may have changed in between, and writes:
   - mode "all": one `create_many` of every valid row, only when no row is invalid; else nothing.
   - mode "valid": the valid rows in batches of `BATCH_ROWS`, each batch all or nothing. A row
     the write rejects (a before_save hook's objection, a value someone stored meanwhile) is
     reported like an invalid one, and the rest of its batch is written without it.
Rows already present are never updated: the import creates records only.

Files with more rows than `Settings.import_job_rows` are checked and written by a job
(runtime/imports_jobs.py) on the same path, which records its progress in the import table.
"""

from __future__ import annotations

import logging
import re

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import FieldError, RecordError, ValidationFailed
from runtime.imports_check import INVALID, PreparedRow, RowOutcome, check_rows, prepare_rows, reasons_of, require_import
from runtime.imports_columns import ImportColumn, ImportFileError, ImportProblem
from runtime.imports_reading import read_sheet
from runtime.imports_runs import ImportRun, ImportRuns
from runtime.records import RecordService

logger = logging.getLogger(__name__)

MODES = ("all", "valid")

#: Rows written in one transaction in mode "valid".
BATCH_ROWS = 200

_ROW_PATH = re.compile(r"rows\[(\d+)\]\.(.+)")


class ImportRejected(ImportProblem):
    """A request the import's state does not allow, such as writing an import that was not checked."""


class Importer:
    """Checks and writes imports through a record service that enforces the users' permissions."""

    def __init__(self, records: RecordService, runs: ImportRuns) -> None:
        self.records = records
        self.runs = runs

    def _entity(self, run: ImportRun) -> m.Entity:
        return self.records.model.entities[run.entity]

    def _own(self, actor: Actor, run: ImportRun) -> None:
        if run.user_id != actor.id:
            raise ImportRejected(f"import {run.id} belongs to another user", f"导入 {run.id} 属于其他用户")

    def _rows(self, actor: Actor, run: ImportRun) -> tuple[list[ImportColumn], list[PreparedRow]]:
        sheet = read_sheet(self.runs.path_of(run), run.extension)
        return prepare_rows(self.records, actor, self._entity(run), sheet)

    def check(self, actor: Actor, run: ImportRun) -> ImportRun:
        """Check every row of an uploaded file; the import ends checked, or failed with the file's problem."""
        self._own(actor, run)
        entity = self._entity(run)
        require_import(self.records, actor, entity)
        run = self.runs.set_status(run, "checking", checked_rows=0, message_en=None, message_zh=None)
        try:
            columns, rows = self._rows(actor, run)
            self.runs.progress(run, total_rows=len(rows))
            _, outcomes = check_rows(self.records, actor, entity, columns, rows,
                                     lambda done: self.runs.progress(run, checked_rows=done))
        except ImportFileError as problem:
            logger.info("import %s of %s failed: %s", run.id, entity.name, problem.message_en)
            return self.runs.set_status(run, "failed", message_en=problem.message_en, message_zh=problem.message_zh)
        return self.runs.set_status(run, "checked", total_rows=len(rows), checked_rows=len(rows), outcomes=outcomes)

    def begin_write(self, actor: Actor, run: ImportRun, mode: str) -> ImportRun:
        """Mark a checked import as being written in `mode`; raise ImportRejected when it cannot be."""
        self._own(actor, run)
        require_import(self.records, actor, self._entity(run))
        if mode not in MODES:
            raise ImportRejected(f"unknown import mode {mode!r}; use one of: {', '.join(MODES)}",
                                f"未知的导入方式 {mode!r}；可选：{', '.join(MODES)}")
        if run.status != "checked":
            raise ImportRejected(f"import {run.id} is {run.status}, so it cannot be written now",
                                f"导入 {run.id} 的状态为 {run.status}，现在不能写入")
        if mode == "all" and run.invalid:
            raise ImportRejected(_nothing_written(len(run.invalid))[0], _nothing_written(len(run.invalid))[1])
        try:
            return self.runs.set_status(run, "writing", mode=mode, written_rows=0, message_en=None, message_zh=None)
        except ValueError as error:
            raise ImportRejected(f"import {run.id} is being written already", f"导入 {run.id} 已在写入中") from error

    def write(self, actor: Actor, run: ImportRun) -> ImportRun:
        """Check a file again and write its rows in the mode `begin_write` set; return the import as it ends."""
        entity = self._entity(run)
        reason = f"import {run.id}: {run.filename}"
        try:
            columns, rows = self._rows(actor, run)
            valid, outcomes = check_rows(self.records, actor, entity, columns, rows)
        except ImportFileError as problem:
            logger.info("import %s of %s failed: %s", run.id, entity.name, problem.message_en)
            return self.runs.set_status(run, "failed", message_en=problem.message_en, message_zh=problem.message_zh)
        invalid = [outcome for outcome in outcomes if outcome.status == INVALID]

        if run.mode == "all":
            if invalid:
                en, zh = _nothing_written(len(invalid))
                return self.runs.set_status(run, "checked", outcomes=outcomes, total_rows=len(rows), message_en=en, message_zh=zh)
            try:
                written = len(self.records.create_many(actor, entity.name, [row.values for row in valid], reason=reason))
            except ValidationFailed as failed:
                outcomes = outcomes + _write_outcomes(columns, valid, failed)
                en, zh = _nothing_written(len([item for item in outcomes if item.status == INVALID]))
                return self.runs.set_status(run, "checked", outcomes=sorted(outcomes, key=lambda item: item.line),
                                            total_rows=len(rows), message_en=en, message_zh=zh)
            self.runs.progress(run, written_rows=written)
        else:
            written, rejected = self._write_valid(actor, entity, run, columns, valid, reason)
            outcomes = sorted(outcomes + rejected, key=lambda item: item.line)
        logger.info("import %s wrote %s %s records for %s", run.id, written, entity.name, actor.id)
        return self.runs.set_status(run, "done", outcomes=outcomes, total_rows=len(rows), written_rows=written)

    def run_step(self, actor: Actor, run: ImportRun, step: str) -> ImportRun:
        """Run the "check" or "write" step of an import; a step that stops marks the import failed with the reason."""
        try:
            return self.check(actor, run) if step == "check" else self.write(actor, run)
        except (RecordError, ImportRejected) as stopped:
            logger.info("import %s of %s stopped in its %s step: %s", run.id, run.entity, step, stopped)
            return self.runs.set_status(self.runs.get(run.id), "failed", message_en=stopped.message("en"),
                                        message_zh=stopped.message("zh-CN"))
        except Exception:
            logger.exception("import %s of %s failed in its %s step", run.id, run.entity, step)
            self.runs.set_status(self.runs.get(run.id), "failed", message_en="the import failed unexpectedly; the error is in the server log",
                                 message_zh="导入意外失败；错误详情已记入服务器日志")
            raise

    def _write_valid(
        self, actor: Actor, entity: m.Entity, run: ImportRun, columns: list[ImportColumn], valid: list[PreparedRow], reason: str,
    ) -> tuple[int, list[RowOutcome]]:
        written = 0
        rejected: list[RowOutcome] = []
        for start in range(0, len(valid), BATCH_ROWS):
            remaining = valid[start:start + BATCH_ROWS]
            while remaining:
                try:
                    written += len(self.records.create_many(actor, entity.name, [row.values for row in remaining], reason=reason))
                    break
                except ValidationFailed as failed:
                    failures = _write_outcomes(columns, remaining, failed)
                if not failures:
                    # A problem that names no row, such as a hook's: write the batch one row at a time to find it.
                    written += self._write_singly(actor, entity, columns, remaining, reason, rejected)
                    break
                rejected.extend(failures)
                failed_lines = {outcome.line for outcome in failures}
                remaining = [row for row in remaining if row.line not in failed_lines]
            self.runs.progress(run, written_rows=written)
        return written, rejected

    def _write_singly(
        self, actor: Actor, entity: m.Entity, columns: list[ImportColumn], rows: list[PreparedRow], reason: str,
        rejected: list[RowOutcome],
    ) -> int:
        written = 0
        for row in rows:
            try:
                self.records.create(actor, entity.name, row.values, reason=reason)
            except ValidationFailed as failed:
                rejected.append(RowOutcome(row.line, INVALID, reasons_of(columns, failed.errors)))
                continue
            written += 1
        return written


def _write_outcomes(columns: list[ImportColumn], rows: list[PreparedRow], failed: ValidationFailed) -> list[RowOutcome]:
    """Return the outcomes of the rows a `create_many` rejected, from its errors keyed `rows[<index>].<path>`."""
    by_index: dict[int, dict[str, list[FieldError]]] = {}
    for key, items in failed.errors.items():
        match = _ROW_PATH.fullmatch(key)
        if match is None:
            return []
        by_index.setdefault(int(match[1]), {})[match[2]] = items
    return [RowOutcome(rows[index].line, INVALID, reasons_of(columns, errors)) for index, errors in sorted(by_index.items())]


def _nothing_written(count: int) -> tuple[str, str]:
    return (f"Nothing was written, because {count} rows have problems. Correct them and import the file again, "
            "or import only the valid rows.",
            f"未写入任何数据，因为有 {count} 行存在问题。请更正后重新导入，或只导入无误的行。")


__all__ = ["BATCH_ROWS", "MODES", "ImportFileError", "ImportRejected", "Importer"]
