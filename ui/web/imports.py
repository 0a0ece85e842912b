"""Import screens of every entity: the template, the upload, the check's preview, writing, and the error file.

GET  /records/{entity}/import                       the upload page, with the template links
GET  /records/{entity}/import/template.xlsx         the template in the user's language (?lang= for another)
POST /records/{entity}/import                       store a file and check it, or queue the check when it is large
GET  /records/{entity}/import/{id}                  progress, preview or outcome; HTMX polls it while a job runs
POST /records/{entity}/import/{id}/write            write all rows (mode=all) or the valid ones (mode=valid)
GET  /records/{entity}/import/{id}/errors.{format}  the invalid rows with their reasons, as xlsx or csv

Every endpoint needs the "import" and "create" actions on the entity, and an import is
shown only to the user who uploaded it. Files with more data rows than
`Settings.import_job_rows` are checked and written by the import job (runtime/imports_jobs.py).
"""

from __future__ import annotations

import datetime
import logging
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from metamodel import model as m
from runtime.errors import PermissionDenied
from runtime.file_types import declared_extension, sanitize_filename
from runtime.imports import Importer, ImportRejected
from runtime.imports_check import require_import
from runtime.imports_columns import ImportFileError, importable_fields
from runtime.imports_error_file import ERROR_FILE_FORMATS, error_file_chunks, error_file_name
from runtime.imports_jobs import import_runs
from runtime.imports_reading import IMPORT_EXTENSIONS, count_rows
from runtime.imports_runs import ImportRun, ImportRuns
from runtime.imports_template import template_bytes
from ui.web import i18n
from ui.web.admin_jobs import jobs_of
from ui.web.imports_pages import run_context, upload_context
from ui.web.navigation import entity_url
from ui.web.rendering import render
from ui.web.state import actor_of, is_htmx, web

logger = logging.getLogger(__name__)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The block of the import page that HTMX replaces while a job runs.
RUN_BLOCK = "run"


def _entity(request: Request) -> m.Entity:
    """Return the entity of the address, or raise 404, or 403 when the user may not import its records."""
    state = web(request)
    actor = actor_of(request)
    name = request.path_params["entity"]
    entity: m.Entity | None = state.model.entities.get(name)
    if entity is None:
        raise HTTPException(404, i18n.pick(actor.lang, f"There is no entity named {name}.", f"不存在名为 {name} 的实体。"))
    try:
        require_import(state.records, actor, entity)
    except PermissionDenied as denied:
        label = i18n.label(entity.label, actor.lang)
        words = {"import": ("import", "导入"), "create": ("create", "新建")}[denied.action]
        raise HTTPException(403, i18n.pick(actor.lang, f"You may not import {label} records: you lack the {words[0]} permission.",
                                           f"您无权导入{label}：缺少“{words[1]}”权限。")) from denied
    return entity


def _runs(request: Request) -> ImportRuns:
    state = web(request)
    return import_runs(state.runtime, state.records)


def _run(request: Request, entity: m.Entity) -> ImportRun:
    """Return the import of the address; 404 when it does not exist or belongs to another user or entity."""
    actor = actor_of(request)
    missing = HTTPException(404, i18n.pick(actor.lang, "There is no such import.", "该导入记录不存在。"))
    try:
        run = _runs(request).get(int(request.path_params["run_id"]))
    except KeyError as error:
        raise missing from error
    if run.entity != entity.name or run.user_id != actor.id:
        raise missing
    return run


def _run_url(entity: m.Entity, run: ImportRun) -> str:
    return f"{entity_url(entity.name)}/import/{run.id}"


def upload_page(request: Request) -> Response:
    entity = _entity(request)
    return render(request, "imports.html", upload_context(request, entity))


def template_download(request: Request) -> Response:
    entity = _entity(request)
    state = web(request)
    actor = actor_of(request)
    lang = i18n.normalize(request.query_params.get("lang") or actor.lang)
    fields = importable_fields(entity, state.records.access.fields(actor, entity.name))
    content = template_bytes(state.model, entity, fields, lang)
    name = f"{entity.label.get(lang)}-{'import template' if lang == 'en' else '导入模板'}.xlsx"
    return Response(content, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": _attachment(entity.name + ".xlsx", name)})


def _attachment(ascii_name: str, name: str) -> str:
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def upload(request: Request) -> Response:
    entity = await run_in_threadpool(_entity, request)
    actor = actor_of(request)
    async with request.form() as form:
        upload_file = form.get("file")
        if not isinstance(upload_file, UploadFile) or not upload_file.filename:
            return _upload_problem(request, entity, i18n.pick(actor.lang, "Choose a file to import.", "请选择要导入的文件。"))
        filename = sanitize_filename(upload_file.filename)
        extension = declared_extension(filename)
        if extension not in IMPORT_EXTENSIONS:
            return _upload_problem(request, entity, i18n.pick(
                actor.lang, f"{filename} is not a .csv, .xlsx, .xls or .ods file; save it in one of these formats and upload it again.",
                f"{filename} 不是 .csv、.xlsx、.xls 或 .ods 文件；请另存为其中一种格式后重新上传。"))
        runs = _runs(request)
        run = await run_in_threadpool(runs.start, entity.name, actor.id, filename, extension, upload_file.file)
    return await run_in_threadpool(_check_or_queue, request, entity, runs, run)


def _upload_problem(request: Request, entity: m.Entity, message: str) -> Response:
    logger.info("upload for an import of %s by %s rejected: %s", entity.name, actor_of(request).id, message)
    return render(request, "imports.html", upload_context(request, entity, problem=message), status=422)


def _check_or_queue(request: Request, entity: m.Entity, runs: ImportRuns, run: ImportRun) -> Response:
    """Check a small file now; queue the check of a large one. Either way the user goes to the import's page."""
    state = web(request)
    actor = actor_of(request)
    try:
        rows = count_rows(runs.path_of(run), run.extension)
    except ImportFileError as problem:
        logger.info("import %s of %s cannot be read: %s", run.id, entity.name, problem.message_en)
        runs.set_status(run, "failed", message_en=problem.message_en, message_zh=problem.message_zh)
        return RedirectResponse(_run_url(entity, run), status_code=303)
    runs.progress(run, total_rows=rows)
    if rows > state.runtime.settings.import_job_rows:
        jobs_of(request).imports(run.id, "check")
        logger.info("import %s of %s with %s rows queued for checking", run.id, entity.name, rows)
    else:
        Importer(state.records, runs).run_step(actor, run, "check")
    return RedirectResponse(_run_url(entity, run), status_code=303)


def run_page(request: Request) -> Response:
    entity = _entity(request)
    run = _run(request, entity)
    context = run_context(request, entity, _runs(request), run)
    return render(request, "imports_run.html", context, block=RUN_BLOCK if is_htmx(request) else None)


async def write(request: Request) -> Response:
    entity = await run_in_threadpool(_entity, request)
    async with request.form() as form:
        mode = str(form.get("mode") or "")
    return await run_in_threadpool(_write, request, entity, mode)


def _write(request: Request, entity: m.Entity, mode: str) -> Response:
    state = web(request)
    actor = actor_of(request)
    runs = _runs(request)
    run = _run(request, entity)
    importer = Importer(state.records, runs)
    try:
        run = importer.begin_write(actor, run, mode)
    except ImportRejected as rejected:
        logger.info("writing import %s of %s by %s rejected: %s", run.id, entity.name, actor.id, rejected.message_en)
        context = run_context(request, entity, runs, run, problem=rejected.message(actor.lang))
        return render(request, "imports_run.html", context, status=409)
    if run.total_rows > state.runtime.settings.import_job_rows:
        jobs_of(request).imports(run.id, "write")
        logger.info("import %s of %s queued for writing in mode %s", run.id, entity.name, mode)
    else:
        importer.run_step(actor, run, "write")
    return RedirectResponse(_run_url(entity, run), status_code=303)


def error_file(request: Request) -> Response:
    entity = _entity(request)
    run = _run(request, entity)
    actor = actor_of(request)
    file_format = request.path_params["format"]
    if file_format not in ERROR_FILE_FORMATS or run.status not in ("checked", "done") or not run.invalid:
        raise HTTPException(404, i18n.pick(actor.lang, "This import has no error file.", "该导入没有错误文件。"))
    name = error_file_name(run, file_format, actor.lang)
    media_type = XLSX_MEDIA_TYPE if file_format == "xlsx" else "text/csv; charset=utf-8"
    ascii_name = f"import-{run.id}-errors-{datetime.date.today().isoformat()}.{file_format}"
    return StreamingResponse(error_file_chunks(_runs(request), run, file_format, actor.lang), media_type=media_type,
                             headers={"Content-Disposition": _attachment(ascii_name, name)})


def routes() -> list[BaseRoute]:
    return [
        Route("/records/{entity}/import", upload_page, methods=["GET"]),
        Route("/records/{entity}/import", upload, methods=["POST"]),
        Route("/records/{entity}/import/template.xlsx", template_download, methods=["GET"]),
        Route("/records/{entity}/import/{run_id:int}", run_page, methods=["GET"]),
        Route("/records/{entity}/import/{run_id:int}/write", write, methods=["POST"]),
        Route("/records/{entity}/import/{run_id:int}/errors.{format}", error_file, methods=["GET"]),
    ]

