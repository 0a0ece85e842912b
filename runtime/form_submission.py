"""Check input from a form against the form's rules before the record service saves it.

The record service checks each value, the required fields of the entity, references,
rules and unique values. A form adds checks of its own layout and rules, which
`prepare_submission` runs here, collecting every problem at once:

- input for a field that is invisible, or not on the form for this actor, is ignored, and so is
  empty input for a field whose stored value the actor reads masked;
- input that changes a read-only field is rejected (the same value as stored is ignored);
- a field that a `required` rule of the form makes required must not be empty;
- every value passes its field's checks (metamodel.values.check_value, as the service runs them);
- a reference may only name records the actor may read, unless the record already had it;
- a stored child row keeps the values the actor reads masked when their cells are left empty;
- the entity's rules hold, as the record service checks them.

The record service checks the entity's rules only once every value passes, so a form that left
them to it would show them one save later. They are checked here on the same values, in the same
pass as the values themselves. A rule that reads a field with an error of its own (or a computed
field made from one) is skipped: its verdict would rest on a value the user must correct first.
The record service still checks everything again when it saves.

Paths of errors follow the record service: `contacts[0].phone` for a field of a child row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from metamodel import model as m
from metamodel.values import check_value
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.errors import FieldError, NotFound, PermissionDenied
from runtime.form_rules import FormRules, compute_fields, evaluate_rules, expression_names, without_untouched_masked
from runtime.masked_input import ROW_ID, restore_masked

if TYPE_CHECKING:
    from runtime.records import RecordService

#: Key of a child row from a form that names the stored row it edits, by the row's id.
ROW_KEY = "_row"


@dataclass
class Submission:
    """The changes to pass to the record service, or the errors that stop them."""

    values: dict[str, Any]
    rules: FormRules
    errors: dict[str, list[FieldError]] = field(default_factory=dict)

    def add(self, path: str, code: str, en: str, zh: str) -> None:
        self.errors.setdefault(path, []).append(FieldError(code, en, zh))


def prepare_submission(
    records: RecordService,
    actor: Actor,
    entity_name: str,
    posted: Mapping[str, Any],
    *,
    record: Mapping[str, Any] | None = None,
    form: m.Form | None = None,
) -> Submission:
    """Check form input for a new record (`record` None) or for changes to `record` as the actor read it.

    The rules are evaluated on the stored values with the input applied, so a field that the
    input itself makes required or read-only is judged by the input.
    """
    entity = records.model.entities[entity_name]
    stored: Mapping[str, Any] = record or {}
    clear = _ClearRecord(records, entity_name, record)
    posted = without_untouched_masked(records, actor, entity_name, posted, record)
    posted = _rows_as_read(records, actor, entity, posted, record)
    stored_clear = clear.get if record is not None else None
    access = records.access.fields(actor, entity_name)
    posted = restore_masked(entity, records.codecs[entity_name], access, posted, stored_clear)
    rules = evaluate_rules(records, actor, entity_name, {**stored, **posted}, record=record, form=form)
    submission = Submission({}, rules)

    for name, value in posted.items():
        field_rules = rules.field(name)
        if field_rules is None or not field_rules.visible:
            continue
        if field_rules.read_only:
            if _differs(field_rules.field, value, stored.get(name)):
                submission.add(name, "read_only", "This field is read-only here, so it cannot be changed; reload the form.",
                               "此项在此处为只读，不能修改；请重新加载表单。")
            continue
        submission.values[name] = value
        _check(submission, field_rules.field, value)

    for field_rules in rules.fields():
        name = field_rules.name
        if not field_rules.required or name in submission.errors:
            continue
        value = submission.values[name] if name in submission.values else stored.get(name)
        if _is_empty(value):
            submission.add(name, "required", "This field is required; enter a value.", "此项为必填项，请填写。")

    _check_reference_scope(records, actor, entity, submission, stored)
    _check_entity_rules(records, actor, entity, submission, clear)
    return submission


class _ClearRecord:
    """The stored record with its values in clear, read once when first needed, or empty for a new record.

    The values stay inside the runtime. They serve the checks and never reach the actor.
    """

    def __init__(self, records: RecordService, entity_name: str, record: Mapping[str, Any] | None) -> None:
        self.records = records
        self.entity_name = entity_name
        self.record = record
        self._clear: Mapping[str, Any] | None = None

    def get(self) -> Mapping[str, Any]:
        if self.record is None:
            return {}
        if self._clear is None:
            self._clear = self.records.get(SYSTEM_ACTOR, self.entity_name, int(self.record["id"]))
        return self._clear


def _rows_as_read(
    records: RecordService, actor: Actor, entity: m.Entity, posted: Mapping[str, Any], record: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return the child rows as the record service takes them: each names its stored row by ROW_ID.

    A masked cell of a stored row starts empty on the form, and left empty it means "keep the
    value". Such a cell is filled here with the masked value as the actor read it, which the
    record service (runtime.masked_input) turns back into the stored value.
    """
    converted = dict(posted)
    access = records.access.fields(actor, entity.name)
    codec = records.codecs[entity.name]
    for name, rows in posted.items():
        field = entity.fields.get(name)
        if field is None or field.type != "child" or not isinstance(rows, list):
            continue
        masked = [row_field.name for row_field in field.fields if codec.is_masked(row_field, access)]
        read_rows = {str(item.get(ROW_ID)): item for item in (record or {}).get(name) or [] if isinstance(item, Mapping)}
        kept_rows: list[Any] = []
        for row in rows:
            if not isinstance(row, Mapping):
                kept_rows.append(row)
                continue
            row = dict(row)
            row_id = row.pop(ROW_KEY, None)
            read = read_rows.get(str(row_id)) if row_id not in (None, "") else None
            if read is not None:
                row[ROW_ID] = read[ROW_ID]
                for cell in masked:
                    if _is_empty(row.get(cell)):
                        row[cell] = read.get(cell)
            kept_rows.append(row)
        converted[name] = kept_rows
    return converted


def _check(submission: Submission, field: m.Field, value: Any) -> None:
    _, problems = check_value(dataclasses.replace(field, required=False), value)
    for problem in problems:
        submission.add(field.name + problem.path, problem.code, problem.message_en, problem.message_zh)


def _check_reference_scope(
    records: RecordService, actor: Actor, entity: m.Entity, submission: Submission, stored: Mapping[str, Any]
) -> None:
    """Reject references to records the actor may not read; the record service checks only that they exist."""
    for name, value in submission.values.items():
        field = entity.fields[name]
        if field.type not in m.REFERENCE_TYPES or field.entity is None or name in submission.errors:
            continue
        checked, problems = check_value(dataclasses.replace(field, required=False), value)
        if problems or checked is None:
            continue
        before = stored.get(name)
        kept = {str(item) for item in (before if isinstance(before, list) else [before]) if item is not None}
        keys = checked if isinstance(checked, list) else [checked]
        target = records.model.entities[field.entity]
        for key in keys:
            if str(key) in kept:
                continue
            try:
                records.get(actor, field.entity, int(key))
            except (NotFound, PermissionDenied, ValueError):
                submission.add(
                    name, "reference",
                    f"No {target.label.en} with id {key} is available to you; choose one from the list.",
                    f"没有您可选择的编号为 {key} 的{target.label.zh_cn}；请从列表中选择。",
                )
                break


def _check_entity_rules(
    records: RecordService, actor: Actor, entity: m.Entity, submission: Submission, clear: _ClearRecord
) -> None:
    """Check the entity's rules on the record as the record service would save it, skipping unsure ones.

    The values are those the record service checks: the stored ones in clear, the defaults of a
    new record, and the input, with referenced records read in full as the service reads them.
    """
    if not entity.rules:
        return
    invalid = {_field_of(path) for path in submission.errors}
    merged: dict[str, Any] = dict(clear.get())
    if clear.record is None:
        for name, field in entity.fields.items():
            if name not in submission.values and field.default is not None and field.computed is None:
                value, problems = check_value(field, field.default)
                if not problems:
                    merged[name] = value
    for name, value in submission.values.items():
        merged[name] = None if name in invalid else _rule_value(entity.fields[name], value)
    names = expression_names(records, actor, entity, merged, clear.get() if clear.record is not None else None,
                             reader=SYSTEM_ACTOR)
    names.update(compute_fields(entity, names))
    for name, field in entity.fields.items():
        if field.computed is not None and any(use.name in invalid for use in field.computed.names):
            invalid.add(name)

    for rule in entity.rules:
        path = rule.fields[0] if rule.fields else "_record"
        if path in invalid or any(use.name in invalid for use in rule.check.names):
            continue
        try:
            passed = rule.check.evaluate(names)
        except Exception:  # noqa: BLE001 - a rule over empty inputs does not apply yet, as in the record service
            continue
        if not passed:
            submission.add(path, f"rule.{rule.name}", rule.message.en, rule.message.zh_cn)


def _rule_value(field: m.Field, value: Any) -> Any:
    """Return input as the record service stores it before its rules: normalized, references as ids."""
    checked, problems = check_value(dataclasses.replace(field, required=False), value)
    if problems:
        return None
    if field.type == "reference" and checked is not None:
        return _as_int(checked)
    if field.type == "multi_reference" and isinstance(checked, list):
        return [_as_int(item) for item in checked]
    return checked


def _as_int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _field_of(path: str) -> str:
    """Return the field an error path belongs to: `contacts` for `contacts[0].phone`."""
    return path.split("[", 1)[0].split(".", 1)[0]


def _differs(field: m.Field, value: Any, stored: Any) -> bool:
    """Tell whether input would change a stored value, comparing both as the field stores them."""
    if _is_empty(value):
        return not _is_empty(stored)
    checked, problems = check_value(dataclasses.replace(field, required=False), value)
    if problems:
        return True
    if field.type in m.REFERENCE_TYPES:
        return _keys(checked) != _keys(stored)
    return bool(checked != stored)


def _keys(value: Any) -> list[str]:
    """Return reference ids as text, whether input text or stored integers."""
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, tuple, dict)) and not value
