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
- a stored child row keeps the values the actor reads masked when their cells are left empty.

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
from runtime.form_rules import FormRules, evaluate_rules, without_untouched_masked

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
    posted = without_untouched_masked(records, actor, entity_name, posted, record)
    posted = _restore_masked_cells(records, actor, entity, posted, record)
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
    return submission


def _restore_masked_cells(
    records: RecordService, actor: Actor, entity: m.Entity, posted: Mapping[str, Any], record: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Fill the empty masked cells of stored child rows with their stored values, and drop the row ids.

    A save replaces every row of a child table, and the actor never reads the masked values in clear, so
    a row that names its stored row by ROW_KEY keeps a masked value its cell leaves empty. The
    stored values are read here, inside the runtime, and never reach the actor.
    """
    restored = dict(posted)
    access = records.access.fields(actor, entity.name)
    codec = records.codecs[entity.name]
    clear: Mapping[str, Any] | None = None
    for name, rows in posted.items():
        field = entity.fields.get(name)
        if field is None or field.type != "child" or not isinstance(rows, list):
            continue
        masked = [row_field.name for row_field in field.fields if codec.is_masked(row_field, access)]
        kept_rows: list[Any] = []
        for row in rows:
            if not isinstance(row, Mapping):
                kept_rows.append(row)
                continue
            row = dict(row)
            row_id = row.pop(ROW_KEY, None)
            if record is not None and row_id not in (None, "") and any(_is_empty(row.get(cell)) for cell in masked):
                if clear is None:
                    clear = records.get(SYSTEM_ACTOR, entity.name, int(record["id"]))
                stored = next((item for item in clear.get(name) or [] if str(item.get("id")) == str(row_id)), None)
                for cell in masked:
                    if stored is not None and _is_empty(row.get(cell)):
                        row[cell] = stored.get(cell)
            kept_rows.append(row)
        restored[name] = kept_rows
    return restored


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
