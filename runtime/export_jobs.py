"""Exports written in the background: a user asks for a large file, a job writes it, and only that user downloads it.

A job row (runtime/export_job_tables.py) moves through these states, in this order only:

    queued ──► running ──► done
                   └─────► failed

`submit` inserts the row and enqueues the task after its transaction commits. The task runs
as the user who asked, with the actor built again from the account. It reads the rows
through the record service that enforces the application's permissions, so the read and
export actions, their data scopes and the masks apply as when the file is streamed. The
rows come from a source registered by name (`register_source`). The web screens register
the "list" source, which reads the rows of a list with its columns and formats.

While it writes, the job stores the rows written after each page, so a page can show the
progress. The file lies in data_dir/exports, named by the job's id, and appears there only
once complete. A failed job stores its reason in English and Chinese and leaves no file.
Jobs and their files older than the retention (Settings.export_retention_days) are removed
by `remove_expired`, which the job queue runs at most once an hour.

NOTE: a job whose worker stopped while writing stays "running" until the cleanup removes it.
"""

from __future__ import annotations

import datetime
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Connection, Table, delete, insert, select, update

from runtime.access import Actor
from runtime.database import WRITE_OPTION
from runtime.errors import NotFound, PermissionDenied, RecordError
from runtime.schema import SYSTEM_PREFIX
from runtime.spreadsheets import write_csv, write_xlsx

if TYPE_CHECKING:
    from runtime.app import Runtime
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: Name of the Huey task that writes an export file.
EXPORT_TASK = "export_file"
TABLE_NAME = SYSTEM_PREFIX + "export_job"
STATUSES = ("queued", "running", "done", "failed")
FORMATS = ("csv", "xlsx")
#: The cleanup runs at most this often, in seconds.
CLEANUP_INTERVAL = 3600.0


@dataclass(frozen=True)
class ExportJob:
    id: int
    user_id: str
    entity: str
    source: str
    format: str
    #: Parameters of the source, such as a list's filters, and the user's language under "lang".
    request: Mapping[str, Any]
    address: str | None
    status: str
    rows_written: int
    rows_total: int | None
    file_name: str
    file_size: int | None
    error: str | None
    error_zh: str | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ExportJob:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    @property
    def lang(self) -> str:
        return str(self.request.get("lang") or "zh-CN")

    @property
    def percent(self) -> int:
        """Share of the rows written, from 0 to 100; 100 once done."""
        if self.status == "done":
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_written * 100 // self.rows_total)


@dataclass
class ExportContent:
    """The rows a source returns for a file: its sheet name and header, the count, and the rows a page at a time."""

    sheet_name: str
    headers: list[str]
    #: Number of records that matched when the export started.
    total: int
    pages: Iterable[list[Sequence[Any]]]


#: Reads the rows of a job as its user, writing the export's audit entry before the first row.
ExportSource = Callable[["RecordService", Actor, ExportJob], ExportContent]
_SOURCES: dict[str, ExportSource] = {}


def register_source(name: str, source: ExportSource) -> None:
    """Register the source that reads the rows of jobs submitted with `name`; registering a name again replaces it."""
    _SOURCES[name] = source


class ExportFailed(Exception):
    """An export job that cannot finish, with its reason in English and Chinese."""

    def __init__(self, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_zh = message_zh


class ExportJobs:
    """The export jobs of one application: submitting, running, reading and removing them."""

    def __init__(
        self,
        runtime: Runtime,
        records: Callable[[], RecordService],
        enqueue: Callable[[Connection, int], None],
    ) -> None:
        self.engine = runtime.engine
        self.table: Table = runtime.schema.metadata.tables[TABLE_NAME]
        self.folder = runtime.settings.data_dir / "exports"
        self.retention = datetime.timedelta(days=runtime.settings.export_retention_days)
        self.accounts = runtime.accounts()
        self._system_records = runtime.records
        self.model = runtime.model
        self._records = records
        self._enqueue = enqueue
        self._last_cleanup: float | None = None

    def clock(self) -> datetime.datetime:
        """Return the time now, read from the system record service's clock, which tests may set."""
        return self._system_records.clock()

    # Submitting and reading -------------------------------------------------------------------

    def submit(self, actor: Actor, entity: str, source: str, file_format: str, request: Mapping[str, Any],
               file_name: str) -> ExportJob:
        """Store a queued job for `actor` and enqueue its task once stored."""
        if file_format not in FORMATS:
            raise ValueError(f"export format {file_format!r} is not one of {', '.join(FORMATS)}")
        values = {
            "user_id": actor.id, "entity": entity, "source": source, "format": file_format,
            "request": {**request, "lang": actor.lang}, "address": actor.address, "status": "queued",
            "rows_written": 0, "file_name": file_name, "created_at": self.clock(),
        }
        with self._write() as connection:
            inserted = connection.execute(insert(self.table).values(**values)).inserted_primary_key
            job_id = int(inserted[0]) if inserted is not None else 0
            self._enqueue(connection, job_id)
        logger.info("export job %s of %s as %s queued for %s", job_id, entity, file_format, actor.id)
        job = self.job(job_id)
        if job is None:
            raise NotFound(TABLE_NAME, job_id)
        return job

    def job(self, job_id: int) -> ExportJob | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(self.table).where(self.table.c.id == job_id)).mappings().first()
        return ExportJob.from_row(row) if row is not None else None

    def of_user(self, user_id: str, *, limit: int = 50) -> list[ExportJob]:
        """Return a user's latest jobs, newest first."""
        query = (select(self.table).where(self.table.c.user_id == user_id)
                 .order_by(self.table.c.created_at.desc(), self.table.c.id.desc()).limit(limit))
        with self.engine.connect() as connection:
            return [ExportJob.from_row(row) for row in connection.execute(query).mappings()]

    def download(self, actor: Actor, job_id: int) -> tuple[ExportJob, Path]:
        """Return a finished job of `actor` and its file; raise NotFound for another user's job, or one without a file."""
        job = self.job(job_id)
        if job is None or job.user_id != actor.id or job.status != "done":
            raise NotFound(TABLE_NAME, job_id)
        path = self.path_of(job)
        if not path.is_file():
            raise NotFound(TABLE_NAME, job_id)
        return job, path

    def path_of(self, job: ExportJob) -> Path:
        return self.folder / f"{job.id}.{job.format}"

    # Running ----------------------------------------------------------------------------------

    def run(self, job_id: int) -> None:
        """Write the file of a queued job as its user; a job in any other state is left as it is.

        A failure is stored with its reason, then raised again so that the job log records it too.
        Nothing is returned, so Huey stores no result that nobody would read.
        """
        job = self.job(job_id)
        if job is None or job.status != "queued":
            logger.info("export job %s skipped: %s", job_id, "not found" if job is None else f"already {job.status}")
            return
        self._update(job_id, status="running", started_at=self.clock())
        logger.info("export job %s of %s as %s started for %s", job_id, job.entity, job.format, job.user_id)
        try:
            written = self._write_file(job)
        except PermissionDenied as denied:
            self._fail(job, *self._denied_messages(denied))
            raise
        except (ExportFailed, RecordError) as failed:
            self._fail(job, failed.message_en, failed.message_zh)
            raise
        except Exception as error:
            # Huey logs the traceback of the exception raised again below.
            self._fail(job, f"The file could not be written ({type(error).__name__}). The server log has the details.",
                       f"文件写入失败（{type(error).__name__}），详情见服务器日志。")
            raise
        size = self.path_of(job).stat().st_size
        self._update(job_id, status="done", rows_written=written, file_size=size, finished_at=self.clock())
        logger.info("export job %s finished: %s rows, %s bytes", job_id, written, size)

    def _write_file(self, job: ExportJob) -> int:
        user = self.accounts.user(job.user_id)
        if user is None:
            raise ExportFailed(f"The user {job.user_id} is no longer active.", f"用户 {job.user_id} 已停用。")
        source = _SOURCES.get(job.source)
        if source is None:
            raise ExportFailed(f"No export source {job.source!r} is registered in the worker process. "
                               "Run the worker with `metadesk worker`, which loads the sources of the web screens.",
                               f"后台任务进程中没有注册导出来源 {job.source!r}。请用 `metadesk worker` 运行后台任务进程，"
                               "它会加载页面注册的导出来源。")
        actor = self.accounts.actor(user, address=job.address, lang=job.lang)
        content = source(self._records(), actor, job)
        self._update(job.id, rows_total=content.total)

        counter = _RowCounter(lambda written: self._update(job.id, rows_written=written))
        rows = counter.rows(content.pages)
        if job.format == "xlsx":
            write_xlsx(self.path_of(job), content.sheet_name, content.headers, rows)
        else:
            write_csv(self.path_of(job), content.headers, rows)
        return counter.written

    def _denied_messages(self, denied: PermissionDenied) -> tuple[str, str]:
        """Return the reason of a job whose user lost a permission after asking, naming the entity by its label."""
        entity = self.model.entities.get(denied.entity)
        label_en, label_zh = (entity.label.en, entity.label.zh_cn) if entity is not None else (denied.entity, denied.entity)
        verbs = {"read": ("view", "查看"), "export": ("export", "导出")}.get(denied.action, (denied.action, denied.action))
        return (f"You may no longer {verbs[0]} {label_en} records, so the file was not written.",
                f"您已无权{verbs[1]}{label_zh}，文件未生成。")

    def _fail(self, job: ExportJob, message_en: str, message_zh: str) -> None:
        logger.warning("export job %s failed: %s", job.id, message_en)
        self._update(job.id, status="failed", error=message_en, error_zh=message_zh, finished_at=self.clock())

    def _update(self, job_id: int, **values: Any) -> None:
        with self._write() as connection:
            connection.execute(update(self.table).where(self.table.c.id == job_id).values(**values))

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
            yield connection

    # Removing ---------------------------------------------------------------------------------

    def remove_expired(self) -> int:
        """Remove the jobs created longer ago than the retention, with their files, and stray files as old; return the jobs removed."""
        cutoff = self.clock() - self.retention
        with self._write() as connection:
            expired = [int(job_id) for job_id in connection.execute(
                select(self.table.c.id).where(self.table.c.created_at < cutoff)).scalars()]
            if expired:
                connection.execute(delete(self.table).where(self.table.c.id.in_(expired)))
            known = {int(job_id) for job_id in connection.execute(select(self.table.c.id)).scalars()}
        removed_files = self._remove_files(expired, known, cutoff)
        if expired or removed_files:
            logger.info("export cleanup removed %s jobs and %s files", len(expired), removed_files)
        return len(expired)

    def _remove_files(self, expired: list[int], known: set[int], cutoff: datetime.datetime) -> int:
        if not self.folder.is_dir():
            return 0
        removed = 0
        expired_ids = set(expired)
        for path in self.folder.iterdir():
            stem = path.name.split(".", 1)[0]
            job_id = int(stem) if stem.isdigit() else None
            modified = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
            # Files of removed jobs go at once; files of no job (a worker stopped mid-write) once as old as the retention.
            if job_id in expired_ids or (job_id not in known and modified < cutoff):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def remove_expired_if_due(self) -> int:
        """Remove expired jobs unless this process did so within the last hour."""
        now = time.monotonic()
        if self._last_cleanup is not None and now - self._last_cleanup < CLEANUP_INTERVAL:
            return 0
        self._last_cleanup = now
        return self.remove_expired()


class _RowCounter:
    """Counts the rows read from pages, and reports the count after each page."""

    def __init__(self, report: Callable[[int], None]) -> None:
        self.report = report
        self.written = 0

    def rows(self, pages: Iterable[list[Sequence[Any]]]) -> Iterator[Sequence[Any]]:
        for page in pages:
            yield from page
            # The writer asks for the next row only after writing the page's last one.
            self.written += len(page)
            self.report(self.written)
