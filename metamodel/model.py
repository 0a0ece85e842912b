"""The immutable application model that the loader builds from YAML.

Every class here is a frozen dataclass holding tuples and read-only mappings,
so an `AppModel` can be shared between threads and requests without copying.
Nothing here performs I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Mapping

from metamodel.expressions import Expression

#: Columns the runtime adds to every table; entity fields may not reuse these names.
SYSTEM_FIELDS: tuple[str, ...] = (
    "id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "org_unit",
    "version",
    "state",
    "deleted_at",
)

#: Every field type an entity may declare.
FIELD_TYPES: tuple[str, ...] = (
    "string",
    "text",
    "integer",
    "decimal",
    "money",
    "percent",
    "boolean",
    "date",
    "datetime",
    "enum",
    "reference",
    "multi_reference",
    "child",
    "attachment",
    "attachments",
    "json",
    "geo_point",
    "resident_id",
    "uscc",
    "vin",
    "plate",
    "mobile",
    "bank_card",
)

NUMERIC_TYPES = frozenset({"integer", "decimal", "money", "percent"})
TEXT_TYPES = frozenset({"string", "text"})
IDENTIFIER_TYPES = frozenset({"resident_id", "uscc", "vin", "plate", "mobile", "bank_card"})
REFERENCE_TYPES = frozenset({"reference", "multi_reference"})

#: Total digits and default digits after the point of each decimal type. Values are stored
#: exactly: as NUMERIC on PostgreSQL and as integers scaled by 10**places on SQLite, whose
#: 64-bit integers hold 18 digits.
DECIMAL_STORAGE: dict[str, tuple[int, int]] = {"money": (18, 2), "decimal": (18, 6), "percent": (12, 6)}


def decimal_places(field: Field) -> int:
    """Return the digits after the point a decimal, money or percent field stores."""
    return field.places if field.places is not None else DECIMAL_STORAGE[field.type][1]


def decimal_integer_digits(field: Field) -> int:
    """Return the digits a decimal, money or percent field allows before the point."""
    return DECIMAL_STORAGE[field.type][0] - decimal_places(field)


#: Actions every entity has; each flow transition adds one more action of its own name.
STANDARD_ACTIONS: tuple[str, ...] = ("read", "create", "update", "delete", "export", "import", "print")

#: The resource that grants name for the application's own administration instead of an entity.
SYSTEM_RESOURCE = "system"
#: administer: users, roles, org units, permissions and the loaded configuration;
#: audit: the audit log and record histories of every entity; jobs: the job and schedule pages;
#: organize: org units, accounts and role assignments that hooks make for the acting user, inside the
#: units its grant's data scope reaches (runtime/hook_organization.py).
SYSTEM_ACTIONS: tuple[str, ...] = ("administer", "audit", "jobs", "organize")

#: Data scopes a grant may carry besides a named filter expression.
SCOPES: tuple[str, ...] = ("own", "unit", "unit_and_below", "all")


def frozen_mapping(items: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(items))


def deep_freeze(value: Any) -> Any:
    """Return plain YAML data with every mapping made read-only and every list a tuple."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: deep_freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(deep_freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Return a mutable copy of frozen data: dicts and lists again, as JSON expects."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


@dataclass(frozen=True)
class Label:
    """A text shown to users, in Simplified Chinese and English."""

    zh_cn: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh_cn


@dataclass(frozen=True)
class Source:
    """The position of a declaration in the application's YAML."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Choice:
    value: str
    label: Label


@dataclass(frozen=True)
class Field:
    """One field of an entity, or of a child table's rows."""

    name: str
    type: str
    label: Label
    source: Source
    required: bool = False
    unique: bool = False
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    #: What users read when a text does not match `pattern`, in place of the pattern itself.
    pattern_message: Label | None = None
    default: Any = None
    read_only: bool = False
    computed: Expression | None = None
    #: A hook that computes the value on every save; such a field is read-only to users.
    computed_by: str | None = None
    masked: bool = False
    encrypted: bool = False
    indexed: bool = False
    searchable: bool = False
    renamed_from: str | None = None
    help: Label | None = None
    #: Digits after the decimal point for decimal, money and percent fields.
    places: int | None = None
    choices: tuple[Choice, ...] = ()
    #: Target entity of a reference or multi-reference field.
    entity: str | None = None
    #: Row fields of a child table.
    fields: tuple[Field, ...] = ()
    #: File types an attachment field accepts, by extension without the dot.
    accept: tuple[str, ...] = ()
    #: Largest file an attachment field accepts, in megabytes.
    max_size_mb: Decimal | None = None

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)


@dataclass(frozen=True)
class Index:
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class Rule:
    """A cross-field validation rule: `check` must hold for a record to be saved."""

    name: str
    check: Expression
    message: Label
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListSpec:
    columns: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    #: Default sort, field names with a leading "-" for descending order.
    sort: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entity:
    name: str
    label: Label
    source: Source
    fields: Mapping[str, Field]
    title: str | None = None
    description: Label | None = None
    list: ListSpec = ListSpec()
    indexes: tuple[Index, ...] = ()
    rules: tuple[Rule, ...] = ()
    #: Whether every create, update and delete must carry a reason.
    reason_required: bool = False
    #: Hook names by entity event (ENTITY_EVENTS), run in the order given.
    hooks: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: frozen_mapping({}))
    #: Buttons on a record that run a hook, each granted as an action of its own.
    actions: tuple[EntityAction, ...] = ()
    #: Lists of other entities' records that refer to a record, shown on its detail page.
    related: tuple[RelatedList, ...] = ()


#: Records a related list shows when its YAML sets no limit.
RELATED_LIMIT = 10


@dataclass(frozen=True)
class RelatedList:
    """The records of `entity` whose reference `field` names the record shown, newest first."""

    entity: str
    field: str
    #: The heading; None shows the label of `entity`.
    label: Label | None = None
    #: Columns shown; empty shows the list columns of `entity`.
    columns: tuple[str, ...] = ()
    limit: int = RELATED_LIMIT


@dataclass(frozen=True)
class EntityAction:
    """A button on a record that runs a hook: the values the hook returns are written to the record."""

    name: str
    label: Label
    hook: str
    #: Text of a confirmation asked before the action runs, or None.
    confirm: Label | None = None
    #: States the record must be in; empty means any state.
    states: tuple[str, ...] = ()


#: The entity events hooks may run on: before the input is checked, before the row is written,
#: after it is written (create and update), and after a delete.
ENTITY_EVENTS = ("before_validate", "before_save", "after_save", "after_delete")


@dataclass(frozen=True)
class FormField:
    field: str
    widget: str | None = None
    span: int = 1
    visible: Expression | bool = True
    required: Expression | bool | None = None
    read_only: Expression | bool | None = None


@dataclass(frozen=True)
class FormSection:
    name: str
    label: Label
    columns: int
    fields: tuple[FormField, ...]
    visible: Expression | bool = True


@dataclass(frozen=True)
class Form:
    name: str
    entity: str
    label: Label
    source: Source
    sections: tuple[FormSection, ...]


@dataclass(frozen=True)
class State:
    name: str
    label: Label
    initial: bool = False
    final: bool = False
    #: The fields a record in this state may change; None when the state leaves them to the other
    #: rules, an empty tuple when nothing may change.
    editable: tuple[str, ...] | None = None
    #: Hooks run when a record enters the state and when it leaves it, in the firing's transaction.
    on_enter: tuple[str, ...] = ()
    on_leave: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalLevel:
    """One level of a sequential approval: who signs it and how many signatures it needs."""

    name: str
    label: Label
    roles: tuple[str, ...]
    #: Signatures needed: a count, a ratio of the eligible approvers, or all of them when both are None.
    quorum: int | None = 1
    ratio: Decimal | None = None


@dataclass(frozen=True)
class RangeCondition:
    """A numeric interval of a decision-table cell; `min`/`max` are inclusive, `above`/`below` exclusive."""

    min: Decimal | None = None
    max: Decimal | None = None
    above: Decimal | None = None
    below: Decimal | None = None


#: A decision-table cell: an interval, or the set of values that match.
Condition = RangeCondition | frozenset[str]


@dataclass(frozen=True)
class DecisionRule:
    """A row of a decision table: the conditions per input (an input not named matches anything) and the result."""

    when: Mapping[str, Condition]
    result: tuple[str, ...]


@dataclass(frozen=True)
class DecisionTable:
    """Rules over named inputs, each input an expression over the record; exactly one rule must match."""

    inputs: Mapping[str, Expression]
    rules: tuple[DecisionRule, ...]


@dataclass(frozen=True)
class Approval:
    """How many decisions a step needs: single, any_of, countersign (all, a quorum or a ratio) or levels."""

    mode: str
    roles: tuple[str, ...] = ()
    quorum: int | None = None
    ratio: Decimal | None = None
    #: The levels of mode "levels", in order.
    levels: tuple[ApprovalLevel, ...] = ()
    #: Chooses the levels that apply to a record, by name; None means every level.
    routing: DecisionTable | None = None

    @property
    def collective(self) -> bool:
        """Return whether the step waits for several decisions before the transition fires."""
        return self.mode in ("countersign", "levels")

    def steps(self) -> tuple[ApprovalLevel, ...]:
        """Return the levels, or the one level that a single, any_of or countersign step amounts to."""
        if self.mode == "levels":
            return self.levels
        quorum = 1 if self.mode in ("single", "any_of") else self.quorum
        ratio = self.ratio if self.mode == "countersign" else None
        return (ApprovalLevel("approval", Label(zh_cn="审批", en="Approval"), self.roles, quorum, ratio),)


@dataclass(frozen=True)
class Sla:
    hours: Decimal | None = None
    working_days: int | None = None
    remind_before_hours: Decimal | None = None
    escalate_to: str | None = None
    on_expiry: str | None = None


@dataclass(frozen=True)
class Transition:
    name: str
    label: Label
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...] = ()
    guard: Expression | None = None
    #: What users read when the guard does not hold, instead of the guard's expression.
    guard_message: Label | None = None
    required_fields: tuple[str, ...] = ()
    required_documents: tuple[str, ...] = ()
    comment: str = "optional"
    confirm: Label | None = None
    automatic: bool = False
    approval: Approval | None = None
    sla: Sla | None = None
    hooks: tuple[str, ...] = ()
    #: "normal"; "return" goes back to a state the record has passed through and needs a reason;
    #: "reject" ends the record and needs a reason; "withdraw" is fired by whoever moved the
    #: record into its state, before anyone else has decided on it.
    kind: str = "normal"


@dataclass(frozen=True)
class Flow:
    name: str
    entity: str
    label: Label
    source: Source
    states: Mapping[str, State]
    transitions: Mapping[str, Transition]
    #: Chooses this flow for a record when true; None means the entity's only flow.
    applies_when: Expression | None = None

    @property
    def initial_state(self) -> str:
        return next(state.name for state in self.states.values() if state.initial)


@dataclass(frozen=True)
class Role:
    name: str
    label: Label
    inherits: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrgUnit:
    name: str
    label: Label
    kind: str
    parent: str | None = None


@dataclass(frozen=True)
class Grant:
    role: str
    entity: str
    actions: tuple[str, ...]
    #: One of SCOPES, or "filter" with `filter` set.
    scope: str
    filter: Expression | None = None


@dataclass(frozen=True)
class FieldRule:
    role: str
    entity: str
    hidden: tuple[str, ...] = ()
    masked: tuple[str, ...] = ()
    #: Fields the entity masks that this role may read in clear.
    unmasked: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()


@dataclass(frozen=True)
class Permissions:
    roles: Mapping[str, Role] = field(default_factory=lambda: frozen_mapping({}))
    org_units: Mapping[str, OrgUnit] = field(default_factory=lambda: frozen_mapping({}))
    grants: tuple[Grant, ...] = ()
    field_rules: tuple[FieldRule, ...] = ()


@dataclass(frozen=True)
class Dimension:
    field: str
    bucket: str | None = None
    label: Label | None = None


@dataclass(frozen=True)
class Measure:
    name: str
    label: Label
    aggregate: str
    field: str | None = None
    #: Names of the numerator and denominator measures when aggregate is "ratio".
    ratio: tuple[str, str] | None = None


@dataclass(frozen=True)
class Chart:
    type: str
    x: str
    y: tuple[str, ...]
    stacked: bool = False


@dataclass(frozen=True)
class Report:
    name: str
    label: Label
    source_entity: str
    source: Source
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    filters: tuple[str, ...] = ()
    sort: tuple[str, ...] = ()
    limit: int | None = None
    pivot: tuple[str, str] | None = None
    charts: tuple[Chart, ...] = ()


#: Views of its report that a dashboard widget may show.
WIDGET_VIEWS: tuple[str, ...] = ("chart", "table")


@dataclass(frozen=True)
class Widget:
    """One report on a dashboard: its chart (by position among the report's charts) or its table."""

    report: str
    label: Label | None = None
    show: str = "chart"
    chart: int = 0
    #: Columns of the dashboard's 12-column grid that the widget spans.
    width: int = 6


@dataclass(frozen=True)
class Dashboard:
    """Report widgets on the home page of every user who has one of the roles."""

    name: str
    label: Label
    source: Source
    roles: tuple[str, ...]
    widgets: tuple[Widget, ...]


@dataclass(frozen=True)
class Catalog:
    name: str
    entity: str
    key: str
    source: Source
    rows: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Schedule:
    name: str
    label: Label
    cron: str
    hook: str
    source: Source
    enabled: bool = True


@dataclass(frozen=True)
class Integration:
    """The provider implementation chosen for one integration interface, with its settings."""

    name: str
    interface: str
    provider: str
    source: Source
    settings: Mapping[str, Any] = field(default_factory=lambda: frozen_mapping({}))


@dataclass(frozen=True)
class Position:
    """A field printed at a fixed place on a pre-printed form.

    `x_mm` and `y_mm` are millimetres from the paper's top left corner to the top left of the
    field's text box; `width_mm` is the box's width and `font_size` is in points.
    """

    field: str
    x_mm: Decimal
    y_mm: Decimal
    width_mm: Decimal | None = None
    font_size: Decimal | None = None


@dataclass(frozen=True)
class Template:
    name: str
    label: Label
    entity: str
    kind: str
    source: Source
    #: Path of the Jinja HTML file, relative to the folder of the template's YAML file.
    file: str | None = None
    paper: str = "A4"
    positions: tuple[Position, ...] = ()
    #: Masked fields the printed document shows in full, by path from the entity (`customer.id_number`),
    #: for a contract or form that must carry them. Hidden fields stay hidden.
    reveal: tuple[str, ...] = ()
    #: The flow states in which records may be printed with the template; empty means any state.
    states: tuple[str, ...] = ()


#: Text generators a seed hint may name, realistic in Simplified Chinese.
SEED_GENERATORS: tuple[str, ...] = ("person_name", "company", "address", "street_address", "city", "province", "job", "email", "sentence", "word")


@dataclass(frozen=True)
class SeedField:
    """How the demo seeder fills one field: at most one generator, else the field's type decides."""

    field: str
    #: An expression over the record's other fields.
    value: Expression | None = None
    #: Lowest and highest value, each a Decimal or an expression; days from today for dates.
    range: tuple[Decimal | Expression, Decimal | Expression] | None = None
    step: Decimal | None = None
    choices: tuple[Any, ...] = ()
    #: One of SEED_GENERATORS.
    faker: str | None = None
    #: A format string with {n}, the record's number, and {year}.
    format: str | None = None
    #: Share of records that get a value; None lets the seeder decide by whether the field is required.
    probability: Decimal | None = None
    #: With choices: record n takes choice n (counting from 1, starting over after the last) instead of one at
    #: random, so that fields whose choices are listed in the same order stay matched within a record.
    in_turn: bool = False
    #: For a reference: each record takes a referenced record no other demo record of the entity took, while any is left.
    distinct: bool = False
    #: What the value starts with; record n takes the n-th prefix, starting over after the last. Identifiers get
    #: the rest and their check characters drawn, texts get the generated text appended.
    prefix: tuple[str, ...] = ()
    #: An expression over the record's other fields; where it does not hold, the field stays empty.
    when: Expression | None = None


@dataclass(frozen=True)
class SeedCreate:
    """A record the seeder creates before a transition, linked to the record being walked."""

    entity: str
    #: The reference field of the new record that points at the walked record.
    link: str
    #: Fixed values of the new record; its other fields are drawn from its own hints.
    values: Mapping[str, Any] = field(default_factory=lambda: frozen_mapping({}))
    #: Actions of the new record to run once it is created, in order.
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedStep:
    """What the seeder does before it fires one transition of a walked record, in this order."""

    transition: str
    #: Records to create, linked to the walked record.
    create: tuple[SeedCreate, ...] = ()
    #: Actions of the walked record to run, as a demo user allowed to.
    actions: tuple[str, ...] = ()
    #: Hooks run as the system on the walked record; the values they return are saved. For demo data
    #: that users would enter over time, such as payments.
    hooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedEntity:
    name: str
    count: int | None = None
    owners: tuple[str, ...] = ()
    fields: Mapping[str, SeedField] = field(default_factory=lambda: frozen_mapping({}))
    #: Flow states the records aim at, record n at state n (starting over after the last), instead of every reachable state in turn.
    states: tuple[str, ...] = ()
    #: Work done before transitions of the walk, by transition name.
    steps: Mapping[str, SeedStep] = field(default_factory=lambda: frozen_mapping({}))


@dataclass(frozen=True)
class Seed:
    """Hints for the demo users and records, from seed.yaml; the seeder derives everything left out."""

    source: Source
    #: Org units that own the demo records, taken in turn.
    owners: tuple[str, ...] = ()
    #: The org unit of each role's demo user.
    users: Mapping[str, str] = field(default_factory=lambda: frozen_mapping({}))
    entities: Mapping[str, SeedEntity] = field(default_factory=lambda: frozen_mapping({}))


@dataclass(frozen=True)
class MenuItem:
    label: Label | None
    entity: str | None = None
    report: str | None = None
    page: str | None = None


@dataclass(frozen=True)
class Menu:
    name: str
    label: Label
    items: tuple[MenuItem, ...]
    icon: str | None = None


@dataclass(frozen=True)
class AppSpec:
    name: str
    label: Label
    source: Source
    locales: tuple[str, ...] = ("zh-CN", "en")
    default_locale: str = "zh-CN"
    menus: tuple[Menu, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=lambda: frozen_mapping({}))


@dataclass(frozen=True)
class AppModel:
    """A whole application, validated and cross-checked."""

    directory: str
    app: AppSpec
    entities: Mapping[str, Entity]
    forms: Mapping[str, Form]
    flows: Mapping[str, Flow]
    permissions: Permissions
    reports: Mapping[str, Report]
    catalogs: Mapping[str, Catalog]
    schedules: Mapping[str, Schedule]
    integrations: Mapping[str, Integration]
    templates: Mapping[str, Template]
    #: Hints for `metadesk seed`; None when the application has no seed.yaml.
    seed: Seed | None = None
    dashboards: Mapping[str, Dashboard] = field(default_factory=lambda: frozen_mapping({}))

    def flows_for(self, entity: str) -> tuple[Flow, ...]:
        return tuple(flow for flow in self.flows.values() if flow.entity == entity)

    def states_for(self, entity: str) -> dict[str, State]:
        """Return the states of the entity's flows in flow order: the longest flow's, with each other state after its predecessor."""
        flows = sorted(self.flows_for(entity), key=lambda flow: -len(flow.states))
        if not flows:
            return {}
        order = list(flows[0].states)
        for flow in flows[1:]:
            previous: str | None = None
            for name in flow.states:
                if name not in order:
                    order.insert(order.index(previous) + 1 if previous is not None else len(order), name)
                previous = name
        return {name: next(flow.states[name] for flow in flows if name in flow.states) for name in order}

    def actions_for(self, entity: str) -> tuple[str, ...]:
        """List the standard actions, every transition of the entity's flows and the entity's own actions."""
        if entity == SYSTEM_RESOURCE and entity not in self.entities:
            return SYSTEM_ACTIONS
        actions = list(STANDARD_ACTIONS)
        for flow in self.flows_for(entity):
            actions.extend(name for name in flow.transitions if name not in actions)
        declared = self.entities.get(entity)
        if declared is not None:
            actions.extend(action.name for action in declared.actions if action.name not in actions)
        return tuple(actions)
