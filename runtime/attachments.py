"""Files attached to records: upload into a record's field, remove, and open under the record's permissions.

A file is stored once by its SHA-256 (runtime/files.py); the record keeps the file's
description (checksum, size, detected type, original name) in its attachment field.
A file is only ever served through a record the actor may read, so the record's
permission check and data scope decide who can open it.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, BinaryIO

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import NotFound
from runtime.files import FileStore, duplicate_file
from runtime.records import RecordService

logger = logging.getLogger(__name__)

FILE_FIELD_TYPES = ("attachment", "attachments")


class Attachments:
    def __init__(self, records: RecordService, files: FileStore) -> None:
        self.records = records
        self.files = files

    def _field(self, entity_name: str, field_name: str) -> m.Field:
        entity = self.records.model.entities.get(entity_name)
        field = entity.fields.get(field_name) if entity is not None else None
        if field is None or field.type not in FILE_FIELD_TYPES:
            raise NotFound(f"{entity_name}.{field_name}", "")
        return field

    def attach(
        self,
        actor: Actor,
        entity_name: str,
        record_id: int,
        field_name: str,
        data: bytes | BinaryIO,
        *,
        filename: str,
        version: int,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Store an upload and add it to the record's field; raise FileRejected for a wrong type or size, or content attached already."""
        field = self._field(entity_name, field_name)
        record = self.records.get(actor, entity_name, record_id)
        if field_name not in record:
            raise NotFound(entity_name, record_id)
        stored = self.files.put(data, filename=filename, field=field)
        description = dataclasses.asdict(stored)
        if field.type == "attachment":
            value: Any = description
        else:
            present = record.get(field_name) or []
            same = next((item for item in present if isinstance(item, dict) and item.get("sha256") == stored.sha256), None)
            if same is not None:
                raise duplicate_file(stored.filename, str(same.get("filename") or ""))
            value = [*present, description]
        logger.info("file %s attached to %s %s.%s by %s", stored.sha256[:12], entity_name, record_id, field_name, actor.id)
        return self.records.update(
            actor, entity_name, record_id, {field_name: value}, version=version, reason=reason, trusted=frozenset({field_name})
        )

    def detach(
        self, actor: Actor, entity_name: str, record_id: int, field_name: str, sha256: str, *, version: int, reason: str | None = None
    ) -> dict[str, Any]:
        """Remove a file from the record's field; the stored bytes stay for the audit trail and other records."""
        field = self._field(entity_name, field_name)
        record = self.records.get(actor, entity_name, record_id)
        current = record.get(field_name)
        if field.type == "attachment":
            if not current or current.get("sha256") != sha256:
                raise NotFound(f"{entity_name} {record_id} file", sha256)
            value: Any = None
        else:
            value = [item for item in current or [] if item.get("sha256") != sha256]
            if len(value) == len(current or []):
                raise NotFound(f"{entity_name} {record_id} file", sha256)
        return self.records.update(actor, entity_name, record_id, {field_name: value}, version=version, reason=reason)

    def open(self, actor: Actor, entity_name: str, record_id: int, field_name: str, sha256: str) -> tuple[dict[str, Any], BinaryIO]:
        """Return a file's description and its bytes, if the actor may read the record and the record contains the file."""
        field = self._field(entity_name, field_name)
        record = self.records.get(actor, entity_name, record_id)
        value = record.get(field_name)
        files = [value] if field.type == "attachment" and value else list(value or [])
        for item in files:
            if isinstance(item, dict) and item.get("sha256") == sha256:
                return item, self.files.open(sha256)
        raise NotFound(f"{entity_name} {record_id} file", sha256)
