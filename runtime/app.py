"""Assemble the runtime of one application from its folder and the settings."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect

from metamodel import load_app
from metamodel.model import AppModel
from runtime.access import Access, SystemAccess
from runtime.accounts import Accounts
from runtime.crypto import ENCRYPTION_KEYS_VARIABLE, HASH_KEY_VARIABLE, KEY_FILE_NAME, KeyRing, KeyRingError
from runtime.database import make_engine
from runtime.files import FileStore
from runtime.flow_versions import register_versions
from runtime.hook_loading import load_app_hooks
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess
from runtime.providers import Providers
from runtime.records import RecordService
from runtime.schema import SYSTEM_PREFIX, Schema, build_schema
from runtime.settings import Settings

logger = logging.getLogger(__name__)

SCHEMA_REGISTRY = SYSTEM_PREFIX + "schema_table"


def _refuse_new_keys_for_old_data(engine: Engine, settings: Settings) -> None:
    """Refuse to generate keys for a database that already has tables: its values need their old keys."""
    from_environment = os.environ.get(ENCRYPTION_KEYS_VARIABLE) or os.environ.get(HASH_KEY_VARIABLE)
    if from_environment or (settings.data_dir / KEY_FILE_NAME).exists():
        return
    if inspect(engine).has_table(SCHEMA_REGISTRY):
        safe_url = engine.url.render_as_string(hide_password=True)
        raise KeyRingError(
            f"{settings.data_dir / KEY_FILE_NAME} does not exist, but the database {safe_url} already has tables, "
            "so its encrypted values were written with other keys. Set METADESK_DATA_DIR to the folder that "
            f"holds {KEY_FILE_NAME}, or restore the file from a backup, or set {ENCRYPTION_KEYS_VARIABLE} "
            f"and {HASH_KEY_VARIABLE}."
        )


@dataclass
class Runtime:
    """Everything the runtime holds for one application: model, tables, engine, keys and services."""

    model: AppModel
    schema: Schema
    settings: Settings
    engine: Engine
    keys: KeyRing
    files: FileStore
    #: The record service of the system's own work (migrations, catalogs, jobs): it grants everything.
    records: RecordService
    _permissions: PermissionStore | None = None

    @classmethod
    def open(cls, directory: str | Path, settings: Settings | None = None, *, access: Access | None = None) -> Runtime:
        """Load the application (raising ConfigError on any problem) and connect to its database.

        On a migrated database this registers the current version of every flow (runtime/flow_versions.py).
        """
        settings = settings or Settings.from_environment()
        model = load_app(directory)
        load_app_hooks(directory, model.app.name)
        schema = build_schema(model)
        engine = make_engine(settings.database_url)
        _refuse_new_keys_for_old_data(engine, settings)
        keys = KeyRing.from_environment(os.environ, settings.data_dir)
        files = FileStore(settings.data_dir / "files")
        records = RecordService(model, schema, engine, access=access or SystemAccess(), keys=keys)
        records.providers = Providers(model.integrations, os.environ, settings.data_dir)
        records.files = files
        register_versions(engine, schema, model)
        logger.info("runtime opened for %s on %s", model.app.name, engine.url.render_as_string(hide_password=True))
        runtime = cls(model, schema, settings, engine, keys, files, records)
        records.permission_store = runtime.permissions
        return runtime

    @property
    def backup_root(self) -> Path:
        return self.settings.data_dir / "backups"

    def permissions(self) -> PermissionStore:
        """Return the permission store, loading it on first use; the database must be migrated first."""
        if self._permissions is None:
            self._permissions = PermissionStore(self.model, self.schema, self.engine)
        return self._permissions

    def accounts(self) -> Accounts:
        """Return the user accounts: passwords, sign-in, API tokens and actors."""
        return Accounts(self.model, self.schema, self.engine)

    def records_for_users(self) -> RecordService:
        """Return a record service that enforces the application's permissions, for users' requests."""
        access = PolicyAccess(self.permissions(), self.schema)
        service = RecordService(self.model, self.schema, self.engine, access=access, keys=self.keys)
        service.providers = self.records.providers
        service.files = self.files
        service.permission_store = self.permissions
        return service

    def close(self) -> None:
        """Close the providers' connections and the database pool."""
        if self.records.providers is not None:
            self.records.providers.close()
        self.engine.dispose()
