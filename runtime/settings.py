"""Settings from environment variables prefixed METADESK_, with defaults for the embedded set-up.

With nothing set, data lives under ./data: a SQLite database, the secret key and the
encryption keys, so `make run` works on a fresh machine.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


class SettingError(ValueError):
    """An environment variable whose value cannot be used; the message names it and the value it takes."""

    def __init__(self, name: str, value: str, expected_en: str, expected_zh: str) -> None:
        super().__init__(f"{name}={value!r} cannot be used: set it to {expected_en}, or unset it for the default")
        self.en = str(self)
        self.zh = f"{name}={value!r} 无法使用：请设为{expected_zh}，或删除该变量以使用默认值"


def _whole_number(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """Return a whole-number variable of at least `minimum`, or `default` when it is unset or empty."""
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise SettingError(name, text, f"a whole number of at least {minimum}", f"不小于 {minimum} 的整数")
    return value


@dataclass(frozen=True)
class Settings:
    #: Folder for the embedded database, uploaded files, keys and backups.
    data_dir: Path
    #: SQLAlchemy URL; SQLite under data_dir unless METADESK_DATABASE_URL is set.
    database_url: str
    #: Redis URL for the job queue; None runs Huey on SQLite.
    redis_url: str | None
    #: Key that signs session cookies and tokens; None reads or creates data_dir/secret_key when first needed.
    secret_key: str | None = None
    #: Imports of files with more data rows than this run as a background job (METADESK_IMPORT_JOB_ROWS).
    import_job_rows: int = 1000
    #: List exports of more matching records than this run as a background job (METADESK_EXPORT_JOB_ROWS).
    export_job_rows: int = 10_000
    #: Days the file of a background export is kept before a cleanup removes it (METADESK_EXPORT_RETENTION_DAYS).
    export_retention_days: int = 7
    #: Days an uploaded import file and its check results are kept (METADESK_IMPORT_RETENTION_DAYS).
    import_retention_days: int = 7

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        data_dir = Path(environ.get("METADESK_DATA_DIR") or "data").resolve()
        database_url = environ.get("METADESK_DATABASE_URL") or f"sqlite:///{data_dir / 'metadesk.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=environ.get("METADESK_REDIS_URL") or None,
            secret_key=environ.get("METADESK_SECRET_KEY") or None,
            import_job_rows=_whole_number(environ, "METADESK_IMPORT_JOB_ROWS", 1000, 1),
            export_job_rows=_whole_number(environ, "METADESK_EXPORT_JOB_ROWS", 10_000, 1),
            export_retention_days=_whole_number(environ, "METADESK_EXPORT_RETENTION_DAYS", 7, 1),
            import_retention_days=_whole_number(environ, "METADESK_IMPORT_RETENTION_DAYS", 7, 1),
        )

    def signing_secret(self) -> str:
        """Return the secret that signs sessions: the configured one, or the one kept in the data folder."""
        return self.secret_key or _stored_secret(self.data_dir)


def _stored_secret(data_dir: Path) -> str:
    """Return the secret kept in data_dir/secret_key, creating it on first use."""
    path = data_dir / "secret_key"
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
        raise ValueError(f"{path} is empty; delete it to have a new secret created, or set METADESK_SECRET_KEY")
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(secret)
    return secret
