"""Context of the import pages: the upload form, and an import's progress, preview or outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from metamodel import model as m
from runtime.imports_check import RowOutcome
from runtime.imports_columns import ImportFileError, importable_fields
from runtime.imports_reading import read_sheet
from runtime.imports_runs import ImportRun, ImportRuns
from runtime.imports_template import format_hint, header_of
from ui.web import i18n
from ui.web.navigation import entity_url
from ui.web.state import actor_of, web

#: Rows of each kind the preview lists; the error file has every invalid row.
SHOWN_ROWS = 200
#: Valid rows the preview shows as a sample.
SAMPLE_ROWS = 10
#: Statuses in which a job is still at work, so the page polls for progress.
BUSY = ("uploaded", "checking", "writing")


@dataclass(frozen=True)
class ShownRow:
    line: int
    cells: list[str]
    #: Each reason as (column header, message); empty for a valid row.
    reasons: list[tuple[str, str]]


def upload_context(request: Request, entity: m.Entity, *, problem: str | None = None) -> dict[str, Any]:
    state = web(request)
    actor = actor_of(request)
    lang = actor.lang
    base = entity_url(entity.name)
    fields = importable_fields(entity, state.records.access.fields(actor, entity.name))
    return {
        "title": i18n.pick(lang, f"Import {entity.label.en}", f"导入{entity.label.zh_cn}"),
        "entity": entity,
        "base_url": base,
        "columns": [(header_of(field, lang), format_hint(state.model, field, lang)) for field in fields],
        "template_url": f"{base}/import/template.xlsx",
        "threshold": state.runtime.settings.import_job_rows,
        "problem": problem,
    }


def run_context(request: Request, entity: m.Entity, runs: ImportRuns, run: ImportRun, *, problem: str | None = None) -> dict[str, Any]:
    """Return what imports_run.html needs for an import in any status."""
    actor = actor_of(request)
    lang = actor.lang
    base = entity_url(entity.name)
    url = f"{base}/import/{run.id}"
    context: dict[str, Any] = {
        "title": i18n.pick(lang, f"Import {entity.label.en}: {run.filename}", f"导入{entity.label.zh_cn}：{run.filename}"),
        "entity": entity,
        "base_url": base,
        "run": run,
        "run_url": url,
        "busy": run.status in BUSY,
        "message": problem or run.message(lang),
        "percent": _percent(run),
        "invalid_count": len(run.invalid),
        "present_count": len(run.present),
        "valid_count": max(run.valid_count, 0),
        "error_urls": {fmt: f"{url}/errors.{fmt}" for fmt in ("xlsx", "csv")} if run.invalid else {},
        "headers": [],
        "invalid_rows": [],
        "present_lines": [line.line for line in run.present[:SHOWN_ROWS]],
        "sample_rows": [],
    }
    if run.status in ("checked", "done"):
        try:
            sheet = read_sheet(runs.path_of(run), run.extension)
        except ImportFileError:
            # The stored file was read when it was checked; one that can no longer be read shows no rows.
            return context
        cells = {row.line: row.cells for row in sheet.rows}
        context["headers"] = sheet.headers
        context["invalid_rows"] = [_shown(outcome.line, cells, outcome, lang) for outcome in run.invalid[:SHOWN_ROWS]]
        skipped = {outcome.line for outcome in run.outcomes}
        context["sample_rows"] = [_shown(row.line, cells, None, lang) for row in sheet.rows if row.line not in skipped][:SAMPLE_ROWS]
    return context


def _percent(run: ImportRun) -> int:
    if not run.total_rows:
        return 0
    done = run.written_rows if run.status == "writing" else run.checked_rows
    return min(100, round(100 * done / run.total_rows))


def _shown(line: int, cells: dict[int, tuple[Any, ...]], outcome: RowOutcome | None, lang: str) -> ShownRow:
    reasons = [(reason.column, reason.message(lang)) for reason in outcome.reasons] if outcome else []
    return ShownRow(line, [_cell_text(cell) for cell in cells.get(line, ())], reasons)


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer() and abs(cell) < 1e15:
        return str(int(cell))
    return str(cell)
