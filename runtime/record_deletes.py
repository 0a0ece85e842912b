"""Soft delete, restore and purge of records: the parts of the record service that remove a record or bring it back."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError

from runtime import entity_hooks
from runtime.access import Actor
from runtime.errors import NotFound, ReasonRequired, ValidationFailed
from runtime.record_guards import in_use_error, live_referrers

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)


def set_deleted(service: RecordService, actor: Actor, entity_name: str, record_id: int, version: int, reason: str | None, *, deleting: bool) -> None:
    entity = service._entity(entity_name)
    service._require(actor, "delete", entity_name)
    if entity.reason_required and not (reason and reason.strip()):
        raise ReasonRequired(entity_name)
    table = service.schema.entities[entity_name].table
    now = service.clock()
    state = table.c.deleted_at.is_(None) if deleting else table.c.deleted_at.is_not(None)
    with service._write() as connection:
        statement = (
            update(table)
            .where(table.c.id == record_id, state, service._scoped(actor, entity_name, "delete"))
            .values(deleted_at=now if deleting else None, version=table.c.version + 1, updated_at=now, updated_by=actor.id)
        )
        current_version = connection.scalar(
            select(table.c.version).where(and_(table.c.id == record_id, state, service._scoped(actor, entity_name, "delete")))
        )
        if current_version is None:
            raise NotFound(entity_name, record_id)
        if current_version != version:
            raise service._lost_race(connection, entity_name, record_id, version)
        # The system's own work may retire a record that others still use, as catalog sync does.
        system_work = service.access.fields(actor, entity_name).writes_read_only
        referrers = live_referrers(service, connection, entity_name, record_id) if deleting and not system_work else []
        if referrers:
            raise ValidationFailed(entity_name, in_use_error(entity, referrers))
        try:
            updated = connection.execute(statement.where(table.c.version == version)).rowcount
        except IntegrityError as exc:
            raise service._integrity_failure(entity_name, exc) from exc
        if updated != 1:
            raise service._lost_race(connection, entity_name, record_id, version)
        service.audit.append(
            connection, at=now, actor=actor.id, address=actor.address, action="delete" if deleting else "restore",
            entity=entity_name, record_id=record_id, reason=reason, changes=None,
        )
        if deleting:
            entity_hooks.after(service, connection, actor, entity, "after_delete", record_id)
    logger.info("%s %s %s by %s", "deleted" if deleting else "restored", entity_name, record_id, actor.id)


def purge(service: RecordService, actor: Actor, entity_name: str, record_id: int, *, reason: str | None = None) -> bool:
    """Remove a record for good, with its child rows; return False, changing nothing, if other records refer to it."""
    service._entity(entity_name)
    service._require(actor, "delete", entity_name)
    table = service.schema.entities[entity_name].table
    now = service.clock()
    try:
        with service._write() as connection:
            removed = connection.execute(
                delete(table).where(table.c.id == record_id, service._scoped(actor, entity_name, "delete"))
            ).rowcount
            if removed != 1:
                raise NotFound(entity_name, record_id)
            service.audit.append(
                connection, at=now, actor=actor.id, address=actor.address, action="purge",
                entity=entity_name, record_id=record_id, reason=reason, changes=None,
            )
    except IntegrityError:
        return False
    logger.info("purged %s %s by %s", entity_name, record_id, actor.id)
    return True
