"""Keep catalog rows declared in YAML in the database, at start-up and whenever the YAML changes.

A row is found by the catalog's key field. New rows are created, changed rows updated,
rows that came back to the YAML restored. A row removed from the YAML is purged when no
record refers to it and otherwise only retired (soft-deleted), so that the records using
it keep a valid reference while new records can no longer choose it. Reference values
in rows name the key of a row in the target entity's catalog. Every change goes through
the record service as the system actor, so it is validated and audited like any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import delete, insert, select

from metamodel import model as m
from metamodel.model import thaw
from metamodel.values import check_value
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.errors import ValidationFailed
from runtime.record_query import Condition, ListQuery
from runtime.records import RecordService

logger = logging.getLogger(__name__)

SYNC_REASON = "catalog YAML synchronized"
REMOVED_REASON = "removed from the catalog YAML"


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any((self.created, self.updated, self.restored, self.retired, self.purged))


class CatalogSyncFailed(Exception):
    def __init__(self, catalog: str, key: str, error: ValidationFailed) -> None:
        super().__init__(f"catalog {catalog}, row {key}: {error}")
        self.catalog = catalog
        self.key = key
        self.error = error


def sync_catalogs(records: RecordService, actor: Actor = SYSTEM_ACTOR) -> SyncReport:
    """Bring every catalog's rows in the database in line with the YAML."""
    report = SyncReport()
    model = records.model
    for catalog in _in_dependency_order(model):
        _sync_one(records, actor, catalog, report)
    return report


def _in_dependency_order(model: m.AppModel) -> list[m.Catalog]:
    """Order catalogs so that a catalog comes after the catalogs its references point to."""
    ordered: list[m.Catalog] = []
    pending = list(model.catalogs.values())
    while pending:
        entities_left = {catalog.entity for catalog in pending}
        for catalog in list(pending):
            entity = model.entities[catalog.entity]
            targets = {item.entity for item in entity.fields.values() if item.type in m.REFERENCE_TYPES}
            if not (targets - {catalog.entity}) & entities_left or len(pending) == 1:
                ordered.append(catalog)
                pending.remove(catalog)
                break
        else:
            ordered.extend(pending)  # a reference cycle: keep YAML order
            break
    return ordered


def _keys_to_ids(records: RecordService, actor: Actor, catalog: m.Catalog, row: Mapping[str, Any]) -> dict[str, Any]:
    """Replace catalog keys in reference fields with the ids of the rows they name."""
    entity = records.model.entities[catalog.entity]
    values: dict[str, Any] = thaw(row)
    for name, value in row.items():
        item = entity.fields.get(name)
        if item is None or item.type not in m.REFERENCE_TYPES or item.entity is None or value is None:
            continue
        target_catalog = next((other for other in records.model.catalogs.values() if other.entity == item.entity), None)
        if target_catalog is None:
            continue
        keys = list(value) if isinstance(value, (list, tuple)) else [value]
        ids = [_record_id(records, actor, target_catalog, str(key)) for key in keys]
        values[name] = ids if isinstance(value, (list, tuple)) else ids[0]
    return values


def _record_id(records: RecordService, actor: Actor, catalog: m.Catalog, key: str) -> int | None:
    table = records.schema.catalog_rows
    with records.engine.connect() as connection:
        found = connection.scalar(select(table.c.record_id).where(table.c.catalog == catalog.name, table.c.key == key))
    return int(found) if found is not None else None


def _find(records: RecordService, actor: Actor, catalog: m.Catalog, key: Any) -> tuple[dict[str, Any] | None, bool]:
    """Return the record holding a key, live or retired, and whether it is retired."""
    for deleted in (False, True):
        page = records.list(actor, catalog.entity, ListQuery(where=Condition(catalog.key, "eq", key), deleted=deleted, limit=1))
        if page.rows and not deleted:
            # A list row lacks child rows and links; the whole record is compared with the YAML.
            return records.get(actor, catalog.entity, page.rows[0]["id"]), False
        if page.rows:
            return page.rows[0], True
    return None, False


def _sync_one(records: RecordService, actor: Actor, catalog: m.Catalog, report: SyncReport) -> None:
    tracking = records.schema.catalog_rows
    entity = records.model.entities[catalog.entity]
    declared: set[str] = set()
    for row in catalog.rows:
        key = row[catalog.key]
        label = f"{catalog.name}:{key}"
        declared.add(str(key))
        values = _keys_to_ids(records, actor, catalog, row)
        existing, retired = _find(records, actor, catalog, key)
        try:
            if existing is None:
                existing = records.create(actor, catalog.entity, values, reason=SYNC_REASON)
                report.created.append(label)
            else:
                if retired:
                    existing = records.restore(actor, catalog.entity, existing["id"], version=existing["version"], reason=SYNC_REASON)
                    report.restored.append(label)
                changes = {name: value for name, value in values.items() if _differs(entity, name, existing.get(name), value)}
                if changes:
                    existing = records.update(
                        actor, catalog.entity, existing["id"], changes, version=existing["version"], reason=SYNC_REASON
                    )
                    report.updated.append(label)
        except ValidationFailed as error:
            raise CatalogSyncFailed(catalog.name, str(key), error) from error
        _track(records, catalog, str(key), existing["id"])

    with records.engine.connect() as connection:
        tracked = connection.execute(select(tracking.c.key, tracking.c.record_id).where(tracking.c.catalog == catalog.name)).all()
    for key, record_id in tracked:
        if key in declared:
            continue
        label = f"{catalog.name}:{key}"
        if records.purge(actor, catalog.entity, record_id, reason=REMOVED_REASON):
            report.purged.append(label)
        else:
            current, retired = _find(records, actor, catalog, key)
            if current is not None and not retired:
                records.delete(actor, catalog.entity, record_id, version=current["version"], reason=REMOVED_REASON)
                report.retired.append(label)
            continue
        with records.engine.begin() as connection:
            connection.execute(delete(tracking).where(tracking.c.catalog == catalog.name, tracking.c.key == key))
    for label in report.created + report.updated + report.restored + report.retired + report.purged:
        logger.debug("catalog row synced: %s", label)


def _differs(entity: m.Entity, name: str, stored: Any, declared: Any) -> bool:
    """Tell whether a declared value differs from the stored one, compared as the field stores it."""
    item = entity.fields.get(name)
    if item is None:
        return False
    if item.type in m.REFERENCE_TYPES:
        return bool(stored != declared)
    normalized, problems = check_value(item, declared)
    if problems:
        return True
    if item.type == "child" and isinstance(stored, list):
        stored = [{key: value for key, value in row.items() if key != "id"} for row in stored]
    return bool(normalized != stored)


def _track(records: RecordService, catalog: m.Catalog, key: str, record_id: int) -> None:
    tracking = records.schema.catalog_rows
    with records.engine.begin() as connection:
        known = connection.scalar(select(tracking.c.record_id).where(tracking.c.catalog == catalog.name, tracking.c.key == key))
        if known is None:
            connection.execute(insert(tracking).values(catalog=catalog.name, key=key, entity=catalog.entity, record_id=record_id))
