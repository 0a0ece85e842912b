"""Input that sends back the masked values an actor read: such a value keeps what is stored.

An actor whose field rules mask a field reads "138****5678" instead of the stored number. A
client that sends the record back unchanged sends that text again, and means to leave the value
alone. The record service runs `restore_masked` on every create and update, so the screens and
the API treat such input alike:

- A field the actor reads masked, sent back as read, is left out of the changes.
- A child row names the stored row it edits by its id (ROW_ID, as reads return it). Each of its
  cells that the actor reads masked and sends back as read gets the stored value of that row.
- The row ids are dropped, because a save replaces every row of a child table.

Input is compared with the masked form of the stored value. So a value the actor typed in full
is saved as typed, and a row id restores only that row's own cells, in its own record.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from metamodel import model as m
from runtime.access import FieldAccess
from runtime.record_codec import RecordCodec, mask_value

#: Key of a child row that names the stored row it edits. Reads return each row's id under it.
ROW_ID = "id"


def restore_masked(
    entity: m.Entity,
    codec: RecordCodec,
    access: FieldAccess,
    values: Mapping[str, Any],
    stored: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """Return the changes with masked values sent back as read replaced by what is stored.

    `stored` is the record with its values in clear (or a function that reads it, called only
    when some input needs it), or None for a new record.
    """
    restored = dict(values)
    clear: Mapping[str, Any] | None = None

    def clear_record() -> Mapping[str, Any]:
        nonlocal clear
        if clear is None:
            clear = (stored() if callable(stored) else stored) or {}
        return clear

    for name, value in values.items():
        field = entity.fields.get(name)
        if field is None:
            continue
        if field.type == "child":
            if isinstance(value, list):
                restored[name] = _restore_rows(field, codec, access, value, clear_record if stored is not None else None)
            continue
        if stored is None or value is None or not codec.is_masked(field, access):
            continue
        before = clear_record().get(name)
        if before is not None and value == mask_value(field, before):
            del restored[name]
    return restored


def _restore_rows(
    field: m.Field, codec: RecordCodec, access: FieldAccess, rows: list[Any],
    clear_record: Callable[[], Mapping[str, Any]] | None,
) -> list[Any]:
    masked = [row_field for row_field in field.fields if codec.is_masked(row_field, access)]
    stored_rows: dict[str, Mapping[str, Any]] | None = None
    restored: list[Any] = []
    for row in rows:
        if not isinstance(row, Mapping):
            restored.append(row)
            continue
        row = dict(row)
        row_id = row.pop(ROW_ID, None)
        sent_back = [cell for cell in masked if row.get(cell.name) is not None]
        if clear_record is not None and row_id not in (None, "") and sent_back:
            if stored_rows is None:
                items = clear_record().get(field.name) or []
                stored_rows = {str(item.get(ROW_ID)): item for item in items if isinstance(item, Mapping)}
            before = stored_rows.get(str(row_id))
            for cell in sent_back:
                value = before.get(cell.name) if before is not None else None
                if value is not None and row[cell.name] == mask_value(cell, value):
                    row[cell.name] = value
        restored.append(row)
    return restored
