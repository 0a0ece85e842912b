"""Settings: defaults for the embedded set-up, and the signing secret created only when needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.settings import Settings


def test_defaults_without_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment({"METADESK_DATA_DIR": str(tmp_path / "data")})

    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'metadesk.db'}"
    assert settings.redis_url is None
    assert not (tmp_path / "data").exists()


def test_secret_created_once_when_needed(tmp_path: Path) -> None:
    settings = Settings.from_environment({"METADESK_DATA_DIR": str(tmp_path)})

    first = settings.signing_secret()

    assert first == settings.signing_secret()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_empty_secret_file_rejected(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("", encoding="utf-8")

    with pytest.raises(ValueError, match="is empty"):
        Settings.from_environment({"METADESK_DATA_DIR": str(tmp_path)}).signing_secret()


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings.from_environment({"METADESK_DATA_DIR": str(tmp_path), "METADESK_SECRET_KEY": "s3cret"})

    assert settings.signing_secret() == "s3cret"
    assert not (tmp_path / "secret_key").exists()
