"""The record service: the one way every caller reads and writes records.

Each operation takes the acting user, checks with the `Access` that the action is allowed,
puts the actor's data scope inside the SQL, runs in one transaction and appends to the
audit log in that same transaction. A record outside the actor's scope is reported
exactly like one that does not exist.

Lifecycle of a record: it is created live with version 1. Every update and delete needs
the version the caller read, and raises StaleVersion when someone else changed it first.
Delete only sets `deleted_at`, so the record leaves every list and get; restore clears it.
"""

from __future__ import annotations

import builtins
import datetime
import logging
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from metamodel import model as m
from runtime import entity_hooks
from runtime.access import Actor, SystemAccess
from runtime.errors import FieldError, NotFound, ReasonRequired, StaleVersion, ValidationFailed
from runtime.approvals import ApprovalProgress, LevelProgress
from runtime.flow_versions import version_id
from runtime.entity_actions import available_actions, run_action, run_hook
from runtime.flow_availability import available_transitions
from runtime.approval_actions import add_approver, approval_progress
from runtime.flows import after_write, fire
from runtime.masked_input import restore_masked
from runtime.record_deletes import purge, set_deleted
from runtime.record_guards import reference_scope_errors, state_lock_errors
from runtime.record_codec import RecordCodec, changed_fields
from runtime.record_reads import Clock, RecordReads, utc_now
from runtime.record_validation import Checked
from runtime.schema import SEARCH_COLUMN

logger = logging.getLogger(__name__)

__all__ = ["Clock", "RecordService", "utc_now"]


class RecordService(RecordReads):
    """Reads (get, list) and writes (create, update, delete, restore, purge) of records."""

    # Writing ----------------------------------------------------------------

    def create(self, actor: Actor, entity_name: str, values: Mapping[str, Any], *, reason: str | None = None) -> dict[str, Any]:
        """Validate and insert a record with its child rows; raise ValidationFailed with every field error."""
        entity = self._entity(entity_name)
        access = self._require(actor, "create", entity_name)
        if entity.reason_required and not (reason and reason.strip()):
            raise ReasonRequired(entity_name)
        tables = self.schema.entities[entity_name]
        now = self.clock()

        values = restore_masked(entity, self.codecs[entity_name], access, values, None)
        with self._write() as connection:
            values = entity_hooks.before_validate(self, connection, actor, entity, values, None)
            checked = self._validator(connection, entity).check(connection, actor, access, values, None, now.date())
            if not checked.errors:
                checked.errors.update(reference_scope_errors(self, connection, actor, entity, checked.values, None))
            if checked.errors:
                raise ValidationFailed(entity_name, checked.errors)
            checked = entity_hooks.before_save(self, connection, actor, entity, values, checked, None, now.date())
            row = self._new_row(connection, entity, checked, actor, now)
            record_id = self._insert(connection, entity_name, tables.table, row)
            self._save_children(connection, entity, record_id, checked.values, replace=False)
            self.audit.append(
                connection, at=now, actor=actor.id, address=actor.address, action="create", entity=entity_name,
                record_id=record_id, reason=reason,
                changes={name: [None, value] for name, value in self._audit_values(entity, checked.values).items()},
            )
            after_write(self, connection, actor, entity, record_id, now, created=True)
            entity_hooks.after(self, connection, actor, entity, "after_save", record_id)
            record = self._created(connection, actor, entity, record_id, row)
        logger.info("created %s %s by %s", entity_name, record_id, actor.id)
        return record

    def create_many(
        self, actor: Actor, entity_name: str, rows: Sequence[Mapping[str, Any]], *, reason: str | None = None
    ) -> builtins.list[int]:
        """Validate every row, then insert them all in one transaction, or none; return the new ids in order.

        Errors of every row are reported together, keyed `rows[<index>].<field>`; values that
        must be unique may not repeat within the batch either. Each record gets its own audit entry.
        """
        entity = self._entity(entity_name)
        access = self._require(actor, "create", entity_name)
        if entity.reason_required and not (reason and reason.strip()):
            raise ReasonRequired(entity_name)
        if not rows:
            return []
        tables = self.schema.entities[entity_name]
        now = self.clock()

        with self._write() as connection:
            validator = self._validator(connection, entity)
            errors: dict[str, builtins.list[FieldError]] = {}
            batch: builtins.list[Checked] = []
            for index, values in enumerate(rows):
                values = entity_hooks.before_validate(self, connection, actor, entity, values, None)
                checked = validator.check(connection, actor, access, values, None, now.date())
                if not checked.errors:
                    checked.errors.update(reference_scope_errors(self, connection, actor, entity, checked.values, None))
                if not checked.errors:
                    checked = entity_hooks.before_save(self, connection, actor, entity, values, checked, None, now.date())
                for path, items in checked.errors.items():
                    errors[f"rows[{index}].{path}"] = items
                batch.append(checked)
            self._check_unique_within(entity, batch, errors)
            if errors:
                raise ValidationFailed(entity_name, errors)

            encoded = [self._new_row(connection, entity, checked, actor, now) for checked in batch]
            # One executemany needs the same keys in every row; absent optional fields are stored empty.
            columns = sorted({key for row in encoded for key in row})
            statement = insert(tables.table).returning(tables.table.c.id, sort_by_parameter_order=True)
            try:
                ids = [int(value) for value in connection.execute(statement, [{key: row.get(key) for key in columns} for row in encoded]).scalars()]
            except IntegrityError as exc:
                raise self._integrity_failure(entity_name, exc) from exc
            for record_id, checked in zip(ids, batch):
                self._save_children(connection, entity, record_id, checked.values, replace=False)
            self.audit.append_many(connection, [
                {"at": now, "actor": actor.id, "address": actor.address, "action": "create", "entity": entity_name,
                 "record_id": record_id, "reason": reason,
                 "changes": {name: [None, value] for name, value in self._audit_values(entity, checked.values).items()}}
                for record_id, checked in zip(ids, batch)
            ])
            for record_id in ids:
                after_write(self, connection, actor, entity, record_id, now, created=True)
                entity_hooks.after(self, connection, actor, entity, "after_save", record_id)
        logger.info("created %s %s records by %s", len(ids), entity_name, actor.id)
        return ids

    def _new_row(
        self, connection: Connection, entity: m.Entity, checked: Checked, actor: Actor, now: datetime.datetime
    ) -> dict[str, Any]:
        """Return the columns of a new record: its encoded values, system columns, flow state and search text."""
        codec = self.codecs[entity.name]
        row = codec.encode(checked.values)
        row.update(created_at=now, created_by=actor.id, updated_at=now, updated_by=actor.id,
                   org_unit=self.access.owning_unit(actor, entity.name), version=1)
        if codec.has_flow:
            row.update(self._initial_state(connection, entity, checked, actor, now))
        if SEARCH_COLUMN in codec.table.c:
            row[SEARCH_COLUMN] = codec.search_text(checked.values)
        return row

    def _check_unique_within(
        self, entity: m.Entity, batch: builtins.list[Checked], errors: dict[str, builtins.list[FieldError]]
    ) -> None:
        """Report values of unique fields that repeat inside one batch of new records."""
        for name, field in entity.fields.items():
            if not field.unique:
                continue
            first_row: dict[Any, int] = {}
            for index, checked in enumerate(batch):
                value = checked.values.get(name)
                if value is None:
                    continue
                if value in first_row:
                    errors.setdefault(f"rows[{index}].{name}", []).append(FieldError(
                        "unique", f"the same value as row {first_row[value] + 1} of this batch",
                        f"与本批第 {first_row[value] + 1} 行的值相同"))
                else:
                    first_row[value] = index

    def _insert(self, connection: Connection, entity_name: str, table: Any, row: Mapping[str, Any]) -> int:
        try:
            # Values go as parameters, so the compiled statement is cached across calls.
            return int(connection.execute(insert(table).returning(table.c.id), dict(row)).scalar_one())
        except IntegrityError as exc:
            raise self._integrity_failure(entity_name, exc) from exc

    def _integrity_failure(self, entity_name: str, exc: IntegrityError) -> ValidationFailed:
        """Turn a constraint the checks did not foresee (a concurrent insert of a unique value) into an error."""
        logger.warning("constraint failure on %s: %s", entity_name, exc.orig)
        return ValidationFailed(
            entity_name,
            {"_record": [FieldError("constraint", "another record was saved with the same unique value at the same time; try again",
                                    "另一条记录同时保存了相同的唯一值；请重试")]},
        )

    def _initial_state(
        self, connection: Connection, entity: m.Entity, checked: Checked, actor: Actor, now: datetime.datetime
    ) -> dict[str, Any]:
        """Choose the record's flow by applies_when and start it in the flow's initial state, on its current version."""
        names = self._validator(connection, entity).expression_names(checked.values, actor, now.date())
        for flow in self.model.flows_for(entity.name):
            if flow.applies_when is None:
                return {"flow": flow.name, "state": flow.initial_state, "flow_version": version_id(flow)}
            try:
                selected = flow.applies_when.evaluate(names)
            except Exception as exc:  # noqa: BLE001 - a selector over a missing value selects nothing
                logger.debug("flow %s not selected for a new %s: %s", flow.name, entity.name, exc)
                continue
            if selected:
                return {"flow": flow.name, "state": flow.initial_state, "flow_version": version_id(flow)}
        return {"flow": None, "state": None, "flow_version": None}

    def _save_children(
        self, connection: Connection, entity: m.Entity, record_id: int, values: Mapping[str, Any], *, replace: bool = True
    ) -> None:
        """Write the child rows and links given in `values`, replacing the stored ones when `replace` is set."""
        tables = self.schema.entities[entity.name]
        for name, child in tables.children.items():
            if name not in values:
                continue
            if replace:
                connection.execute(delete(child).where(child.c.parent_id == record_id))
            rows = values[name] or []
            field = entity.fields[name]
            child_entity = m.Entity(name, field.label, field.source, m.frozen_mapping({item.name: item for item in field.fields}))
            child_codec = RecordCodec(child_entity, child, self.keys)
            # One INSERT per set of columns: executemany takes its columns from the first row, and
            # rows that leave different optional fields empty would miss values or lose defaults.
            by_columns: dict[tuple[str, ...], builtins.list[dict[str, Any]]] = {}
            for index, row in enumerate(rows):
                encoded = {**child_codec.encode(row), "parent_id": record_id, "position": index}
                by_columns.setdefault(tuple(sorted(encoded)), []).append(encoded)
            for group in by_columns.values():
                connection.execute(insert(child), group)
        for name, link in tables.links.items():
            if name not in values:
                continue
            if replace:
                connection.execute(delete(link).where(link.c.parent_id == record_id))
            targets = values[name] or []
            if targets:
                connection.execute(
                    insert(link), [{"parent_id": record_id, "target_id": target, "position": index} for index, target in enumerate(targets)]
                )

    def _created(
        self, connection: Connection, actor: Actor, entity: m.Entity, record_id: int, row: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Return a new record from the row just inserted when that is the whole story, else read it back.

        The inserted row contains every stored value already normalized, so decoding it gives what
        a read would. Child rows, links and a data scope need the database.
        """
        tables = self.schema.entities[entity.name]
        readable = self.access.allows(actor, "read", entity.name)
        if (tables.children or tables.links or not readable or entity.hooks.get("after_save")
                or self.access.scope(actor, entity.name, tables.table) is not None):
            return self._read_back(connection, actor, entity, record_id)
        access = self.access.fields(actor, entity.name)
        codec = self.codecs[entity.name]
        stored = {column.name: row.get(column.name) for column in codec.columns_for(access)}
        stored.update(id=record_id, deleted_at=None)
        return codec.decode(stored, access)

    def _read_back(self, connection: Connection, actor: Actor, entity: m.Entity, record_id: int) -> dict[str, Any]:
        """Return the record just written, inside its transaction; an actor who may not read it gets id and version only."""
        access = self.access.fields(actor, entity.name)
        if self.access.allows(actor, "read", entity.name):
            record = self._read(connection, actor, entity, access, record_id)
            if record is not None:
                return record
        table = self.schema.entities[entity.name].table
        version = connection.scalar(select(table.c.version).where(table.c.id == record_id))
        return {"id": record_id, "version": version}

    def update(
        self,
        actor: Actor,
        entity_name: str,
        record_id: int,
        values: Mapping[str, Any],
        *,
        version: int,
        reason: str | None = None,
        trusted: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """Change fields of a live record; raise StaleVersion if `version` is not the stored one.

        Masked values sent back as read keep the stored ones (runtime.masked_input). `trusted` is
        for the runtime's own services: fields whose values they produced.
        """
        entity = self._entity(entity_name)
        now = self.clock()
        with self._write() as connection:
            self._update_in(connection, actor, entity, record_id, values, version=version, reason=reason, trusted=trusted, now=now)
            after_write(self, connection, actor, entity, record_id, now, created=False)
            record = self._read_back(connection, actor, entity, record_id)
        logger.info("updated %s %s to version %s by %s", entity_name, record_id, version + 1, actor.id)
        return record

    def _update_in(
        self, connection: Connection, actor: Actor, entity: m.Entity, record_id: int, values: Mapping[str, Any], *, version: int,
        reason: str | None, trusted: frozenset[str], now: datetime.datetime, action: str = "update",
    ) -> None:
        """Check and write an update inside the caller's transaction, without firing automatic transitions.

        An entity's own `action` writes the values its hook returned: the action's grant and scope
        apply instead of update's, and read-only fields may be written, as the application computed them.
        """
        entity_name = entity.name
        access = self._require(actor, action, entity_name)
        if action != "update":
            access = SystemAccess().fields(actor, entity_name)
        if entity.reason_required and not (reason and reason.strip()):
            raise ReasonRequired(entity_name)
        tables = self.schema.entities[entity_name]
        codec = self.codecs[entity_name]
        table = tables.table

        current = self._read(connection, actor, entity, SystemAccess().fields(actor, entity_name), record_id)
        if current is None:
            raise NotFound(entity_name, record_id)
        if current["version"] != version:
            raise StaleVersion(entity_name, record_id, version, current["version"], current["updated_by"], current["updated_at"])
        values = restore_masked(entity, codec, access, values, current)
        values = entity_hooks.before_validate(self, connection, actor, entity, values, current)
        checked = self._validator(connection, entity).check(
            connection, actor, access, values, current, now.date(), trusted
        )
        changes = changed_fields(current, checked.values, checked.values.keys())
        if not checked.errors:
            checked.errors.update(state_lock_errors(self, connection, entity, current, changes, access))
            checked.errors.update(reference_scope_errors(self, connection, actor, entity, checked.values, current))
        if checked.errors:
            raise ValidationFailed(entity_name, checked.errors)
        if entity_hooks.has_save_work(entity):
            checked = entity_hooks.before_save(self, connection, actor, entity, values, checked, current, now.date())
            changes = changed_fields(current, checked.values, checked.values.keys())

        row = codec.encode({name: checked.values[name] for name in changes})
        if SEARCH_COLUMN in table.c:
            row[SEARCH_COLUMN] = codec.search_text({**current, **checked.values})
        row.update(updated_at=now, updated_by=actor.id, version=table.c.version + 1)
        statement = (
            update(table)
            .where(table.c.id == record_id, table.c.version == version, table.c.deleted_at.is_(None),
                   self._scoped(actor, entity_name, action))
            .values(**row)
        )
        try:
            updated = connection.execute(statement).rowcount
        except IntegrityError as exc:
            raise self._integrity_failure(entity_name, exc) from exc
        if updated != 1:
            raise self._lost_race(connection, entity_name, record_id, version)
        self._save_children(connection, entity, record_id, {name: checked.values[name] for name in changes})
        self.audit.append(
            connection, at=now, actor=actor.id, address=actor.address, action=action if action == "update" else f"action:{action}",
            entity=entity_name, record_id=record_id, reason=reason,
            changes={name: [self._audit_values(entity, {name: old})[name], self._audit_values(entity, {name: new})[name]]
                     for name, (old, new) in changes.items()},
        )
        entity_hooks.after(self, connection, actor, entity, "after_save", record_id)

    def actions_for(self, actor: Actor, entity_name: str, record: Mapping[str, Any]) -> builtins.list[m.EntityAction]:
        """Return the entity's own actions the actor may run on a record it has read."""
        return available_actions(self, actor, entity_name, record)

    def run_action(self, actor: Actor, entity_name: str, record_id: int, name: str, *, version: int,
                   comment: str | None = None) -> dict[str, Any]:
        """Run the entity's action `name` on a record (runtime/entity_actions.py)."""
        return run_action(self, actor, entity_name, record_id, name, version=version, comment=comment)

    def run_hook(self, entity_name: str, record_id: int, hook_name: str, *, version: int) -> dict[str, Any]:
        """Run a hook on a record as the system and save what it returns (runtime/entity_actions.py)."""
        return run_hook(self, entity_name, record_id, hook_name, version=version)

    def transitions_for(self, actor: Actor, entity_name: str, record: Mapping[str, Any]) -> builtins.list[m.Transition]:
        """Return the flow transitions the actor may fire by hand on a record it has read."""
        return available_transitions(self, actor, entity_name, record)

    def transition(
        self, actor: Actor, entity_name: str, record_id: int, name: str, *, version: int, comment: str | None = None,
        on_behalf_of: str | None = None, values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Fire (or sign) a flow transition; see runtime.flows for the checks, in the order they run.

        `on_behalf_of` names the delegator to act for; without it the actor's own permissions
        apply first, then those of each user who delegated to the actor. `values` are saved in the
        same transaction first, so a failed transition saves nothing.
        """
        return fire(self, actor, entity_name, record_id, name, version=version, comment=comment, on_behalf_of=on_behalf_of,
                    values=values)

    def add_approver(
        self, actor: Actor, entity_name: str, record_id: int, name: str, user_id: str, *, version: int
    ) -> LevelProgress:
        """Add a user to the current level of an approval step (加签)."""
        return add_approver(self, actor, entity_name, record_id, name, user_id, version=version)

    def approval_progress(self, actor: Actor, entity_name: str, record: Mapping[str, Any]) -> builtins.list[ApprovalProgress]:
        """Return who has signed and who has not, for each approval open in the record's state."""
        return approval_progress(self, actor, entity_name, record)

    def _lost_race(self, connection: Connection, entity_name: str, record_id: int, version: int) -> Exception:
        table = self.schema.entities[entity_name].table
        row = connection.execute(
            select(table.c.version, table.c.updated_by, table.c.updated_at, table.c.deleted_at).where(table.c.id == record_id)
        ).first()
        if row is None or row.deleted_at is not None:
            return NotFound(entity_name, record_id)
        updated_at = row.updated_at.replace(tzinfo=datetime.timezone.utc) if row.updated_at.tzinfo is None else row.updated_at
        return StaleVersion(entity_name, record_id, version, row.version, row.updated_by, updated_at)

    def delete(self, actor: Actor, entity_name: str, record_id: int, *, version: int, reason: str | None = None) -> None:
        """Soft-delete a live record: it leaves every list and get until restored."""
        self._set_deleted(actor, entity_name, record_id, version, reason, deleting=True)

    def restore(self, actor: Actor, entity_name: str, record_id: int, *, version: int, reason: str | None = None) -> dict[str, Any]:
        """Bring back a soft-deleted record."""
        self._set_deleted(actor, entity_name, record_id, version, reason, deleting=False)
        return self.get(actor, entity_name, record_id)

    def _set_deleted(self, actor: Actor, entity_name: str, record_id: int, version: int, reason: str | None, *, deleting: bool) -> None:
        set_deleted(self, actor, entity_name, record_id, version, reason, deleting=deleting)

    def purge(self, actor: Actor, entity_name: str, record_id: int, *, reason: str | None = None) -> bool:
        """Remove a record for good, with its child rows; return False, changing nothing, if other records refer to it."""
        return purge(self, actor, entity_name, record_id, reason=reason)
