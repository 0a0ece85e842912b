"""Runtime.open: the system's record service grants everything, the users' one enforces the policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.access import SYSTEM_ACTOR, Actor
from runtime.app import Runtime
from runtime.errors import PermissionDenied
from runtime.migrate import migrate
from runtime.settings import Settings
from tests.conftest import REPOSITORY


def test_users_records_enforce_policies(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None, secret_key="test")
    runtime = Runtime.open(REPOSITORY / "tests" / "apps" / "requisition", settings)
    try:
        migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
        entity = next(iter(runtime.model.entities))
        stranger = Actor(id="nobody", org_unit=None)

        assert runtime.records.access.allows(SYSTEM_ACTOR, "read", entity)
        with pytest.raises(PermissionDenied):
            runtime.records_for_users().list(stranger, entity)
        assert runtime.permissions() is runtime.permissions()
    finally:
        runtime.close()
