"""The imports users started: each upload's stored file, status, progress and the outcome of its rows.

Lifecycle of an import, as `ImportRuns.set_status` enforces it:
uploaded -> checking -> checked -> writing -> done, and any of them -> failed.
A checked import may be checked again (for a new attempt after the data changed) and, when
nothing was written, written again. Progress counts are written by the job that does the
work, outside the transaction of the rows, so a page that polls them shows them grow.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

from sqlalchemy import Connection, Engine, Table, delete, insert, select, update

from runtime.database import WRITE_OPTION
from runtime.imports_check import RowOutcome
from runtime.schema import SYSTEM_PREFIX, Schema

logger = logging.getLogger(__name__)

STATUSES = ("uploaded", "checking", "checked", "writing", "done", "failed")

_NEXT = {
    "uploaded": {"checking", "failed"},
    "checking": {"checked", "failed"},
    "checked": {"checking", "writing", "failed"},
    "writing": {"done", "checked", "failed"},
    "done": set(),
    "failed": set(),
}

#: Bytes copied at a time when an upload is stored.
_COPY_SIZE = 1024 * 1024


@dataclass(frozen=True)
class ImportRun:
    id: int
    entity: str
    user_id: str
    filename: str
    stored_name: str
    status: str
    mode: str | None
    total_rows: int
    checked_rows: int
    written_rows: int
    outcomes: tuple[RowOutcome, ...]
    message_en: str | None
    message_zh: str | None
    created_at: datetime.datetime

    @property
    def extension(self) -> str:
        return self.stored_name.rsplit(".", 1)[-1]

    @property
    def invalid(self) -> list[RowOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "invalid"]

    @property
    def present(self) -> list[RowOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "present"]

    @property
    def valid_count(self) -> int:
        return self.total_rows - len(self.outcomes)

    def message(self, lang: str) -> str | None:
        return self.message_en if lang == "en" else self.message_zh


class ImportRuns:
    """The import table and the folder of uploaded files, data_dir/imports."""

    def __init__(self, engine: Engine, schema: Schema, data_dir: Path, clock: Any) -> None:
        self.engine = engine
        self.table: Table = schema.metadata.tables[SYSTEM_PREFIX + "import"]
        self.folder = data_dir / "imports"
        self.clock = clock

    def path_of(self, run: ImportRun) -> Path:
        return self.folder / run.stored_name

    def start(self, entity: str, user_id: str, filename: str, extension: str, stream: BinaryIO) -> ImportRun:
        """Store an uploaded file under a random name and record the import; return it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stored_name = f"{secrets.token_hex(16)}.{extension}"
        with (self.folder / stored_name).open("xb") as target:
            for chunk in iter(lambda: stream.read(_COPY_SIZE), b""):
                target.write(chunk)
        now = self.clock()
        with self._write() as connection:
            run_id = connection.execute(insert(self.table).returning(self.table.c.id), {
                "entity": entity, "user_id": user_id, "filename": filename[:255], "stored_name": stored_name,
                "status": "uploaded", "total_rows": 0, "checked_rows": 0, "written_rows": 0,
                "created_at": now, "updated_at": now,
            }).scalar_one()
        logger.info("import %s of %s started by %s from %s", run_id, entity, user_id, filename)
        return self.get(int(run_id))

    def get(self, run_id: int) -> ImportRun:
        with self.engine.connect() as connection:
            row = connection.execute(select(self.table).where(self.table.c.id == run_id)).mappings().first()
        if row is None:
            raise KeyError(run_id)
        return ImportRun(
            int(row["id"]), row["entity"], row["user_id"], row["filename"], row["stored_name"], row["status"], row["mode"],
            int(row["total_rows"]), int(row["checked_rows"]), int(row["written_rows"]),
            tuple(RowOutcome.from_json(item) for item in row["outcomes"] or ()), row["message_en"], row["message_zh"],
            row["created_at"],
        )

    def set_status(self, run: ImportRun, status: str, **values: Any) -> ImportRun:
        """Move an import to `status`, with other columns; raise ValueError for a change its lifecycle does not allow.

        The status is checked inside the UPDATE, so of two requests that start writing the same import only one succeeds.
        """
        previous = [name for name, following in _NEXT.items() if status in following]
        if "outcomes" in values and values["outcomes"] is not None:
            values["outcomes"] = [outcome.to_json() for outcome in values["outcomes"]]
        with self._write() as connection:
            changed = connection.execute(
                update(self.table).where(self.table.c.id == run.id, self.table.c.status.in_(previous))
                .values(status=status, updated_at=self.clock(), **values)
            ).rowcount
        if changed != 1:
            raise ValueError(f"import {run.id} cannot go from {self.get(run.id).status} to {status}")
        logger.info("import %s of %s is %s", run.id, run.entity, status)
        return self.get(run.id)

    def remove_expired(self, retention: datetime.timedelta) -> int:
        """Remove the imports not touched for `retention`, with their uploaded files; return how many.

        Uploads hold personal data, so they are kept no longer than the retention. An import
        still checking or writing is kept; a stored file that no import names goes once as old.
        """
        cutoff = self.clock() - retention
        busy = ("checking", "writing")
        with self._write() as connection:
            expired = connection.execute(select(self.table.c.id, self.table.c.stored_name).where(
                self.table.c.updated_at < cutoff, self.table.c.status.not_in(busy))).all()
            if expired:
                connection.execute(delete(self.table).where(self.table.c.id.in_([row.id for row in expired])))
            kept = set(connection.execute(select(self.table.c.stored_name)).scalars())
        removed_files = 0
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                modified = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
                if path.name not in kept and (path.name in {row.stored_name for row in expired} or modified < cutoff):
                    path.unlink(missing_ok=True)
                    removed_files += 1
        if expired or removed_files:
            logger.info("import cleanup removed %s imports and %s files", len(expired), removed_files)
        return len(expired)

    def progress(self, run: ImportRun, **counts: int) -> None:
        """Record how many rows were checked or written so far."""
        self._update(run.id, **counts)

    def _update(self, run_id: int, **values: Any) -> None:
        with self._write() as connection:
            connection.execute(update(self.table).where(self.table.c.id == run_id).values(updated_at=self.clock(), **values))

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
            yield connection
