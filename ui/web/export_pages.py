"""The page "My exports" (/exports): the background exports of the signed-in user, their progress and their files.

A list export with more matching records than Settings.export_job_rows becomes a background
job (runtime/export_jobs.py) and sends the user here. While a job is queued or running, the
table reloads itself every two seconds through HTMX. A finished job has a download link,
and only the user who asked for the file may download it: another user gets 404, as for a
job that does not exist. A failed job shows its reason.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from runtime.errors import NotFound
from runtime.export_jobs import ExportJob
from ui.web import i18n
from ui.web.admin_jobs import jobs_of
from ui.web.lists_export import MEDIA_TYPES
from ui.web.rendering import render
from ui.web.state import actor_of, web

logger = logging.getLogger(__name__)

EXPORTS_URL = "/exports"
TABLE_BLOCK = "exports"
STATUS_LABELS = {
    "queued": ("Queued", "排队中"),
    "running": ("Running", "导出中"),
    "done": ("Done", "已完成"),
    "failed": ("Failed", "失败"),
}


@dataclass(frozen=True)
class ExportRow:
    id: int
    file_name: str
    status: str
    status_label: str
    rows_written: int
    rows_total: int | None
    percent: int
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    #: The failure reason in the user's language.
    error: str | None
    download_url: str | None
    #: Whether the user arrived from the list that started this job.
    highlighted: bool


def exports_page(request: Request) -> Response:
    """Show the user's exports, or only their table for the HTMX poll of a job under way."""
    actor = actor_of(request)
    state = web(request)
    zone = str(state.model.app.settings.get("timezone", "Asia/Shanghai"))
    highlighted = request.query_params.get("job", "")
    jobs = jobs_of(request).exports.of_user(actor.id)
    rows = [_row(job, actor.lang, highlighted) for job in jobs]
    context = {
        "title": i18n.pick(actor.lang, "My exports", "我的导出"),
        "rows": rows,
        "under_way": any(row.status in ("queued", "running") for row in rows),
        "poll_url": EXPORTS_URL + (f"?job={quote(highlighted)}" if highlighted else ""),
        "retention_days": state.runtime.settings.export_retention_days,
        "timezone": zone,
    }
    return render(request, "exports.html", context, block=TABLE_BLOCK)


def _row(job: ExportJob, lang: str, highlighted: str) -> ExportRow:
    en, zh = STATUS_LABELS.get(job.status, (job.status, job.status))
    error = None
    if job.status == "failed":
        error = job.error if lang == "en" else job.error_zh or job.error
    return ExportRow(
        id=job.id, file_name=job.file_name, status=job.status, status_label=i18n.pick(lang, en, zh),
        rows_written=job.rows_written, rows_total=job.rows_total, percent=job.percent,
        created_at=job.created_at, finished_at=job.finished_at,
        error=error, download_url=f"{EXPORTS_URL}/{job.id}/download" if job.status == "done" else None,
        highlighted=str(job.id) == highlighted,
    )


def download(request: Request) -> Response:
    """Send the file of a finished export of the signed-in user; 404 for any other."""
    actor = actor_of(request)
    job_id = int(request.path_params["job_id"])
    try:
        job, path = jobs_of(request).exports.download(actor, job_id)
    except NotFound:
        logger.info("download of export %s by %s rejected: not found, not theirs, or not finished", job_id, actor.id)
        raise HTTPException(404, i18n.pick(actor.lang, "This export does not exist, is not yours, or its file was removed.",
                                           "该导出不存在、不属于您，或其文件已被清理。")) from None
    ascii_name = f"export-{job.id}.{job.format}"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(job.file_name)}"
    return FileResponse(path, media_type=MEDIA_TYPES[job.format], headers={"Content-Disposition": disposition})


def routes() -> list[BaseRoute]:
    return [
        Route(EXPORTS_URL, exports_page, methods=["GET"]),
        Route(EXPORTS_URL + "/{job_id:int}/download", download, methods=["GET"]),
    ]
