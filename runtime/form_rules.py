"""The layout of an entity's form and the rules that decide, per user and per record, how each field shows.

A field of the form is, for one actor and one set of values:

- absent when the actor's field rules hide it (it is not in the layout at all);
- invisible when its section's or its own `visible` rule is false;
- read-only when the entity declares it read-only or computed, or the actor's field rules
  make it read-only, or the record's flow state is final or lists `editable` fields without
  it. A true `read_only` rule of the form also makes it read-only, except on a new record
  for a field the entity requires without a default;
- required when the form's `required` rule is true, or when the form sets no rule and the
  entity declares the field required.

A state that declares no `editable` list leaves its fields to the other rules, because the
applications rely on form rules for that case; `editable: []` locks every field. A `read_only` rule of an existing record is
evaluated on the record as stored, so input can neither unlock a field nor lock a field that
the same save changes. Visibility and required rules follow the input.

Rules are expressions over the record's field values, `state`, `user` (id, name, roles,
org_unit, org_units), `today` and `now`. A rule that cannot be evaluated, typically because
an input it compares is still empty, counts as false. The screens and the API both use this
module, so the same rules apply wherever a record is edited.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Mapping

from metamodel import model as m
from metamodel.expressions import Expression
from metamodel.values import check_value
from runtime.access import Actor, FieldAccess
from runtime.errors import NotFound, PermissionDenied
from runtime.flows import flow_of
from runtime.record_validation import ReferenceView

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: Columns of the form generated for an entity that declares none.
GENERATED_COLUMNS = 2
#: Field types that take a whole row of the generated form.
WIDE_TYPES = frozenset({"text", "child", "attachments", "json", "multi_reference"})


def form_for(model: m.AppModel, entity_name: str) -> m.Form:
    """Return the form the application declares for the entity, or a one-section form of all its fields."""
    for form in model.forms.values():
        if form.entity == entity_name:
            return form
    return generated_form(model.entities[entity_name])


def generated_form(entity: m.Entity) -> m.Form:
    fields = tuple(
        m.FormField(name, span=GENERATED_COLUMNS if field.type in WIDE_TYPES else 1)
        for name, field in entity.fields.items()
    )
    section = m.FormSection("main", entity.label, GENERATED_COLUMNS, fields)
    return m.Form(entity.name, entity.name, entity.label, entity.source, (section,))


@dataclass(frozen=True)
class FieldRules:
    """The display state of one form field for one actor and one set of values."""

    name: str
    field: m.Field
    form_field: m.FormField
    visible: bool
    required: bool
    read_only: bool
    #: Whether the stored value reaches the actor masked. A control of such a field starts empty,
    #: and input left empty keeps the stored value.
    masked: bool
    #: Fields of a child table's rows that the actor reads masked; a stored row keeps such a
    #: value when its cell is left empty.
    masked_cells: tuple[str, ...] = ()

    @property
    def editable(self) -> bool:
        return self.visible and not self.read_only


@dataclass(frozen=True)
class SectionRules:
    section: m.FormSection
    visible: bool
    fields: tuple[FieldRules, ...]

    @property
    def name(self) -> str:
        return self.section.name


@dataclass(frozen=True)
class FormRules:
    """The evaluated form: its sections and fields, and the computed values the rules saw."""

    form: m.Form
    entity: m.Entity
    sections: tuple[SectionRules, ...]
    #: Values of the entity's computed fields, computed from the values the rules were evaluated on.
    computed: Mapping[str, Any]

    def field(self, name: str) -> FieldRules | None:
        for section in self.sections:
            for rules in section.fields:
                if rules.name == name:
                    return rules
        return None

    def fields(self) -> list[FieldRules]:
        return [rules for section in self.sections for rules in section.fields]


def evaluate_rules(
    records: RecordService,
    actor: Actor,
    entity_name: str,
    values: Mapping[str, Any],
    *,
    record: Mapping[str, Any] | None = None,
    form: m.Form | None = None,
) -> FormRules:
    """Evaluate the form of an entity for the actor on `values`: stored values with the input applied.

    `record` is the stored record as the actor reads it, or None for a new record; its flow
    state and masked values count. Values may be input text: each is normalized first, and a
    value that does not pass its field's checks counts as empty.
    """
    model = records.model
    entity = model.entities[entity_name]
    form = form or form_for(model, entity_name)
    access = records.access.fields(actor, entity_name)
    codec = records.codecs[entity_name]
    names = expression_names(records, actor, entity, normalized_values(entity, values), record)
    computed = compute_fields(entity, names)
    names.update(computed)
    lock_names = names
    if record is not None:
        lock_names = expression_names(records, actor, entity, normalized_values(entity, record), record)
        lock_names.update(compute_fields(entity, lock_names))
    frozen = _frozen_fields(records, entity, record)

    sections = []
    for section in form.sections:
        section_visible = _holds(section.visible, names, entity_name, section.name)
        fields = []
        for form_field in section.fields:
            field = entity.fields.get(form_field.field)
            if field is None or field.name in access.hidden:
                continue
            masked = _is_masked(records, entity, field, access, record)
            read_only = (
                (field.read_only and not access.writes_read_only)
                or field.computed is not None
                or field.name in access.read_only
                or (frozen is not None and field.name not in frozen)
                or (_holds(form_field.read_only, lock_names, entity_name, field.name, default=False)
                    and not _assigned_on_create(field, record))
            )
            visible = section_visible and _holds(form_field.visible, names, entity_name, field.name)
            required = _holds(form_field.required, names, entity_name, field.name, default=field.required)
            masked_cells = tuple(row_field.name for row_field in field.fields if codec.is_masked(row_field, access))
            fields.append(FieldRules(field.name, field, form_field, visible, required and visible and not read_only,
                                     read_only, masked, masked_cells))
        sections.append(SectionRules(section, section_visible, tuple(fields)))
    return FormRules(form, entity, tuple(sections), computed)


def without_untouched_masked(
    records: RecordService, actor: Actor, entity_name: str, posted: Mapping[str, Any], record: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Drop empty input for fields whose stored value the actor reads masked: an empty control keeps the value."""
    if record is None:
        return dict(posted)
    entity = records.model.entities[entity_name]
    access = records.access.fields(actor, entity_name)
    kept: dict[str, Any] = {}
    for name, value in posted.items():
        field = entity.fields.get(name)
        untouched = value is None or (isinstance(value, str) and not value.strip())
        if field is not None and untouched and _is_masked(records, entity, field, access, record):
            continue
        kept[name] = value
    return kept


def normalized_values(entity: m.Entity, values: Mapping[str, Any]) -> dict[str, Any]:
    """Normalize input for the rules: each value as its field stores it, or None when it fails its checks."""
    normalized: dict[str, Any] = {}
    for name, value in values.items():
        field = entity.fields.get(name)
        if field is None:
            normalized[name] = value
            continue
        checked, problems = check_value(dataclasses.replace(field, required=False), value)
        if any(problem.code != "required" for problem in problems):
            checked = None
        if field.type == "reference" and checked is not None:
            checked = _as_id(checked)
        normalized[name] = checked
    return normalized


def expression_names(
    records: RecordService, actor: Actor, entity: m.Entity, values: Mapping[str, Any], record: Mapping[str, Any] | None,
    *, reader: Actor | None = None,
) -> dict[str, Any]:
    """Return the names a form rule may use; referenced records are read as `reader`, by default the actor."""

    def load(target: str, record_id: int) -> Mapping[str, Any] | None:
        try:
            return records.get(reader or actor, target, record_id)
        except (NotFound, PermissionDenied):
            return None

    names: dict[str, Any] = {name: None for name in entity.fields}
    names.update(values)
    for name, field in entity.fields.items():
        value = names.get(name)
        if field.type == "reference" and field.entity is not None and isinstance(value, int):
            names[name] = ReferenceView(load, field.entity, value)
    units = [actor.org_unit, *actor.org_units] if actor.org_unit else list(actor.org_units)
    names.update({
        "today": records.clock().date(),
        "now": datetime.datetime.now(datetime.timezone.utc),
        "user": UserView(actor.id, actor.name, list(actor.roles), actor.org_unit, units),
        "state": record.get("state") if record else None,
        "id": record.get("id") if record else None,
    })
    return names


@dataclass(frozen=True)
class UserView:
    """The acting user as rules read it: `user.roles`, `user.org_unit` and so on."""

    id: str
    name: str
    roles: list[str]
    org_unit: str | None
    org_units: list[str]


def _holds(rule: Expression | bool | None, names: Mapping[str, Any], entity: str, subject: str, *, default: bool = True) -> bool:
    if rule is None:
        return default
    if isinstance(rule, bool):
        return rule
    try:
        return bool(rule.evaluate(names))
    except Exception as exc:  # noqa: BLE001 - a rule over inputs still empty does not hold yet
        logger.debug("form rule %r of %s.%s did not evaluate: %s", rule.source, entity, subject, exc)
        return False


def _assigned_on_create(field: m.Field, record: Mapping[str, Any] | None) -> bool:
    """Tell whether a new record sets a field despite the form's read-only rule.

    A number that the entity requires without a default would otherwise make the record
    impossible to save, so the form's rule fixes such a field only once it is stored.
    """
    return record is None and field.required and field.default is None


def _frozen_fields(records: RecordService, entity: m.Entity, record: Mapping[str, Any] | None) -> frozenset[str] | None:
    """Return the fields the record's flow state leaves editable, or None when the state does not limit them."""
    if not record or not record.get("state"):
        return None
    flow = flow_of(records, entity.name, record)
    if flow is None:
        return None
    state = flow.states.get(str(record["state"]))
    if state is None:
        return None
    if state.final:
        return frozenset()
    return frozenset(state.editable) if state.editable is not None else None


def _is_masked(records: RecordService, entity: m.Entity, field: m.Field, access: FieldAccess, record: Mapping[str, Any] | None) -> bool:
    """Tell whether the actor reads the record's stored value of the field masked."""
    if record is None or record.get(field.name) in (None, "", []):
        return False
    codec = records.codecs[entity.name]
    if field.type == "child":
        return any(codec.is_masked(row_field, access) for row_field in field.fields)
    return codec.is_masked(field, access)


def compute_fields(entity: m.Entity, names: Mapping[str, Any]) -> dict[str, Any]:
    """Compute the entity's computed fields in declaration order, as a save would store them."""
    computed: dict[str, Any] = {}
    scope = dict(names)
    for name, field in entity.fields.items():
        if field.computed is None:
            continue
        try:
            raw = field.computed.evaluate(scope)
        except Exception as exc:  # noqa: BLE001 - an input still missing leaves the value empty
            logger.debug("computed field %s.%s left empty: %s", entity.name, name, exc)
            raw = None
        value = None
        if raw is not None:
            if field.type in ("decimal", "money", "percent") and isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
                raw = Decimal(str(raw)).quantize(Decimal(1).scaleb(-m.decimal_places(field)), rounding=ROUND_HALF_UP)
            unconstrained = dataclasses.replace(field, required=False, min=None, max=None, computed=None)
            value, problems = check_value(unconstrained, raw)
            if problems:
                value = None
        computed[name] = value
        scope[name] = value
    return computed


def _as_id(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
