"""Settings: defaults for the embedded set-up, and the signing secret created only when needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.settings import SettingError, Settings
from tests.conftest import REPOSITORY
from ui.cli import main

GUARANTEE = REPOSITORY / "configs" / "guarantee"


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


@pytest.mark.parametrize("value", ["ten", "0", "-5", "1.5"])
def test_bad_whole_number_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_environment({"METADESK_DATA_DIR": str(tmp_path), "METADESK_EXPORT_JOB_ROWS": value})
    assert raised.value.en == (f"METADESK_EXPORT_JOB_ROWS={value!r} cannot be used: set it to a whole number of at least 1, "
                               "or unset it for the default")
    assert raised.value.zh.startswith(f"METADESK_EXPORT_JOB_ROWS={value!r} 无法使用：请设为不小于 1 的整数")


def test_command_reports_a_bad_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("METADESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("METADESK_IMPORT_RETENTION_DAYS", "a week")
    assert main(["catalogs", str(GUARANTEE), "--lang", "en"]) == 1
    assert "Error: METADESK_IMPORT_RETENTION_DAYS='a week' cannot be used" in capsys.readouterr().err
