"""Demo records of every entity that no catalog fills, created through the record service.

Each record belongs to an owner unit (seed.yaml's `owners`, else the leaf units), taken in
turn, and is created by the demo user who works there, so users of that unit see it.
References point to records of the same unit where there are some. Field values come
from seed.yaml's hints, else from the field's type (runtime/seed_values.py). A record that
fails a rule is drawn again from scratch, up to RECORD_ATTEMPTS times.

The run is idempotent: records created by the demo users or the seed actor count as
demo records, and an entity gets only as many new ones as it lacks. Record number n
is drawn from generators seeded with the entity's name and n, so it is the same on every run.
"""

from __future__ import annotations

import datetime
import logging
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping

from faker import Faker

from metamodel import model as m
from metamodel.expressions import Expression
from metamodel.values import check_value
from runtime.access import Actor
from runtime.errors import ValidationFailed
from runtime.record_query import Condition, ListQuery
from runtime.records import RecordService
from runtime.seed_users import SEED_ACTOR, DemoUser, owner_units
from runtime.seed_values import SeedValueError, ValueMaker

logger = logging.getLogger(__name__)

#: Records per entity when neither --count nor the entity's hint sets a number.
DEFAULT_COUNT = 30

#: How many times one record is drawn again after the record service rejected it.
RECORD_ATTEMPTS = 12

#: Share of records that get a value in an optional field without a hint.
OPTIONAL_SHARE = 0.7

#: Values of a `gender` field that a resident ID encodes: an odd 17th digit for a man, an even one for a woman.
MALE_VALUES: dict[str, bool] = {"male": True, "m": True, "man": True, "female": False, "f": False, "woman": False}

#: The reason written to the audit log where an entity requires one.
SEED_REASON = "demo data created by metadesk seed"

Progress = Callable[[str, int], None]


@dataclass
class EntityReport:
    entity: str
    existing: int = 0
    created: int = 0
    failed: int = 0
    states: Counter[str] = field(default_factory=Counter)
    #: The first reason a record could not be made, in English and Chinese.
    problem: tuple[str, str] | None = None
    #: Records whose flow walk stopped, by the transition that stopped them: how many, and the first reason (en, zh).
    stopped: dict[str, tuple[int, str, str]] = field(default_factory=dict)


class ReferenceValues:
    """A referenced record as hint expressions read it: `vehicle.price`."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._values.get(name)


class RecordSeeder:
    """Creates the demo records of one application, entity by entity, in the order their references need."""

    def __init__(self, records: RecordService, users: list[DemoUser], *, count: int | None = None,
                 today: datetime.date | None = None) -> None:
        self.records = records
        self.model = records.model
        self.users = users
        self.count = count
        self.today = today or datetime.date.today()
        self.demo_ids = sorted({user.id for user in users} | {SEED_ACTOR.id})
        #: Live demo records by entity: id and owner unit.
        self.rows: dict[str, list[tuple[int, str | None]]] = {}
        self._cache: dict[tuple[str, int], Mapping[str, Any]] = {}
        #: The referenced ids demo records hold, by entity and field, for the `distinct` hints.
        self._taken: dict[tuple[str, str], set[int]] = {}

    # Which entities, how many ------------------------------------------------

    def seeded_entities(self) -> tuple[str, ...]:
        """Return the entities that get demo records, referenced entities first; catalogs fill the others."""
        catalogued = {catalog.entity for catalog in self.model.catalogs.values()}
        pending = [name for name in self.model.entities if name not in catalogued]
        ordered: list[str] = []
        while pending:
            for name in pending:
                targets = {item.entity for item in self.model.entities[name].fields.values()
                           if item.type in m.REFERENCE_TYPES and item.required}
                if not (targets - {name}) & set(pending):
                    break
            else:
                name = pending[0]  # a cycle of required references: declaration order
            ordered.append(name)
            pending.remove(name)
        return tuple(ordered)

    def target_count(self, entity: str) -> int:
        """Return how many records of the entity to draw: --count, else the hint, else the default.

        A hint of 0 applies even with --count: such records come only from hooks and seed steps.
        """
        hints = self.model.seed.entities.get(entity) if self.model.seed is not None else None
        if hints is not None and hints.count == 0:
            return 0
        if self.count is not None:
            return self.count
        return hints.count if hints is not None and hints.count is not None else DEFAULT_COUNT

    def load_existing(self, entity: str) -> int:
        """Read the live demo records of an entity, and the ids every reference may choose from."""
        self.rows[entity] = self._list(entity, Condition("created_by", "in", self.demo_ids))
        return len(self.rows[entity])

    def _list(self, entity: str, where: Condition | None) -> list[tuple[int, str | None]]:
        found: list[tuple[int, str | None]] = []
        after = None
        while True:
            page = self.records.list(SEED_ACTOR, entity, ListQuery(where=where, sort=("id",), limit=500, after=after))
            found.extend((int(row["id"]), row.get("org_unit")) for row in page.rows)
            if page.next_cursor is None:
                return found
            after = page.next_cursor

    # Making one record -------------------------------------------------------

    def creator(self, unit: str) -> Actor:
        """Return the actor that creates a record owned by `unit`: the first demo user working there."""
        user = next((user for user in self.users if user.unit == unit), None)
        return Actor(id=user.id if user else SEED_ACTOR.id, name=SEED_ACTOR.name, roles=SEED_ACTOR.roles, org_unit=unit)

    def create(self, entity_name: str, number: int, report: EntityReport, deferred: frozenset[str]) -> dict[str, Any] | None:
        """Create record `number` of the entity, drawing it again when the record service rejects it."""
        entity = self.model.entities[entity_name]
        owners = owner_units(self.model, entity_name)
        unit = owners[(number - 1) % len(owners)]
        actor = self.creator(unit)
        reason = SEED_REASON if entity.reason_required else None
        rng = random.Random(zlib.crc32(f"{entity_name}:{number}".encode()))
        faker = Faker("zh_CN")
        faker.seed_instance(rng.randrange(2**32))
        maker = ValueMaker(rng, faker, self.today)

        for _ in range(RECORD_ATTEMPTS):
            try:
                values = self.draw(entity, number, unit, maker, deferred)
                return self.records.create(actor, entity_name, values, reason=reason)
            except ValidationFailed as failure:
                path, errors = next(iter(failure.errors.items()))
                report.problem = (f"{path}: {errors[0].message_en}", f"{path}：{errors[0].message_zh}")
            except (SeedValueError, ArithmeticError, TypeError, AttributeError) as error:
                report.problem = (str(error), str(error))
        logger.warning("demo %s %s not created: %s", entity_name, number, report.problem)
        return None

    def draw(self, entity: m.Entity, number: int, unit: str, maker: ValueMaker,
             skip: frozenset[str] = frozenset(), only: frozenset[str] | None = None,
             current: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Draw the values of one record: all fields to fill except `skip`, or just `only`, after `current`."""
        hints = self.hints(entity.name)
        values: dict[str, Any] = {}
        names = dict(current or {})
        for field_spec in ordered_fields(entity, hints):
            name = field_spec.name
            if name in skip or (only is not None and name not in only):
                continue
            hint = hints.get(name)
            if hint is not None and hint.when is not None and not self.evaluate(entity, hint.when, names):
                continue
            if only is None and not self.should_fill(field_spec, hint, maker.rng):
                continue
            value = self.value_of(entity, field_spec, hint, number, unit, maker, names)
            if value is None:
                continue
            values[name] = value
            names[name] = value
        return values

    def hints(self, entity: str) -> Mapping[str, m.SeedField]:
        seed = self.model.seed
        if seed is None or entity not in seed.entities:
            return {}
        return seed.entities[entity].fields

    def should_fill(self, field_spec: m.Field, hint: m.SeedField | None, rng: random.Random) -> bool:
        if field_spec.computed is not None or field_spec.type in ("attachment", "attachments"):
            return False
        if hint is not None and hint.probability is not None:
            return rng.random() < float(hint.probability)
        if hint is None and field_spec.read_only and field_spec.default is not None:
            # Left to its default, like a user's new record, for the application's hooks to change.
            return False
        if field_spec.required:
            return True
        if hint is not None:
            return True
        if field_spec.default is not None or field_spec.read_only or field_spec.type == "text":
            return False
        return rng.random() < OPTIONAL_SHARE

    def value_of(self, entity: m.Entity, field_spec: m.Field, hint: m.SeedField | None, number: int, unit: str,
                 maker: ValueMaker, names: Mapping[str, Any]) -> Any:
        """Return one field's value: from its hint, else by its type; None leaves the field empty."""
        if field_spec.type in m.REFERENCE_TYPES and (hint is None or not (hint.value or hint.choices)):
            taken = self.taken(entity.name, field_spec.name) if hint is not None and hint.distinct else None
            return self.reference(field_spec, unit, maker.rng, taken)
        if field_spec.type == "child":
            return self.child_rows(entity, field_spec, number, unit, maker)
        if hint is not None:
            raw = self.hinted(entity, field_spec, hint, number, maker, names)
            value, problems = check_value(field_spec, raw)
            if problems:
                raise SeedValueError(f"{entity.name}.{field_spec.name}: the hinted value {raw!r} is invalid: {problems[0].message_en}")
            return value
        if field_spec.type == "resident_id" and field_spec.name == own_resident_id(entity):
            birth = names.get("birth_date")
            return maker.by_type(field_spec, birth_date=birth if isinstance(birth, datetime.date) else None,
                                 male=MALE_VALUES.get(str(names.get("gender")).lower()))
        return maker.by_type(field_spec)

    def hinted(self, entity: m.Entity, field_spec: m.Field, hint: m.SeedField, number: int, maker: ValueMaker,
               names: Mapping[str, Any]) -> Any:
        if hint.value is not None:
            return self.evaluate(entity, hint.value, names)
        if hint.range is not None:
            low, high = (self.evaluate(entity, bound, names) if isinstance(bound, Expression) else bound for bound in hint.range)
            return maker.number_between(field_spec, Decimal(str(low)), Decimal(str(high)), hint.step)
        if hint.choices and hint.in_turn:
            return hint.choices[(number - 1) % len(hint.choices)]
        if hint.choices:
            return maker.rng.choice(hint.choices)
        prefix = hint.prefix[(number - 1) % len(hint.prefix)] if hint.prefix else ""
        if hint.faker is not None:
            text = prefix + maker.text(hint.faker)
            return text[:field_spec.max_length] if field_spec.max_length else text
        if hint.format is not None:
            return hint.format.format(n=number, year=self.today.year)
        return maker.by_type(field_spec, prefix=prefix)

    def evaluate(self, entity: m.Entity, expression: Expression, values: Mapping[str, Any]) -> Any:
        """Evaluate a hint's expression over the values drawn so far; `product.min_amount` reads the referenced record."""
        names: dict[str, Any] = {"today": self.today, "now": datetime.datetime.now(datetime.timezone.utc), "user": None, "state": None}
        names.update({name: None for name in entity.fields})
        names.update(values)
        for use in expression.names:
            field_spec = entity.fields.get(use.name)
            value = values.get(use.name)
            if use.attributes and field_spec is not None and field_spec.entity and isinstance(value, int):
                key = (field_spec.entity, value)
                if key not in self._cache:
                    self._cache[key] = self.records.get(SEED_ACTOR, field_spec.entity, value)
                names[use.name] = ReferenceValues(self._cache[key])
        return expression.evaluate(names)

    def reference(self, field_spec: m.Field, unit: str, rng: random.Random, taken: set[int] | None = None) -> Any:
        """Pick records of the target entity, those of the same unit first, and none of `taken` while others are left."""
        target = field_spec.entity or ""
        if target not in self.rows:
            self.rows[target] = self._list(target, None)
        candidates = self.rows[target]
        if taken is not None:
            candidates = [(record_id, owner) for record_id, owner in candidates if record_id not in taken] or candidates
        local = [record_id for record_id, owner in candidates if owner == unit]
        pool = local or [record_id for record_id, _ in candidates]
        if taken is not None and pool and field_spec.type == "reference":
            chosen = rng.choice(pool)
            taken.add(chosen)
            return chosen
        if field_spec.type == "multi_reference":
            return rng.sample(pool, min(len(pool), rng.randint(1, 2))) if pool else []
        if not pool:
            if field_spec.required:
                raise SeedValueError(f"{field_spec.name} needs a record of {target}, and there is none yet")
            return None
        return rng.choice(pool)

    def taken(self, entity: str, field_name: str) -> set[int]:
        """Return the referenced ids the entity's demo records hold in a field, read once and then kept up to date by the caller."""
        key = (entity, field_name)
        if key not in self._taken:
            held: set[int] = set()
            after = None
            while True:
                query = ListQuery(where=Condition("created_by", "in", self.demo_ids), fields=(field_name,), sort=("id",), limit=500,
                                  after=after)
                page = self.records.list(SEED_ACTOR, entity, query)
                for row in page.rows:
                    value = row.get(field_name)
                    if isinstance(value, dict):
                        value = value.get("id")
                    if isinstance(value, int):
                        held.add(value)
                if page.next_cursor is None:
                    break
                after = page.next_cursor
            self._taken[key] = held
        return self._taken[key]

    def child_rows(self, entity: m.Entity, field_spec: m.Field, number: int, unit: str, maker: ValueMaker) -> list[dict[str, Any]]:
        rows = []
        hints = self.hints(entity.name)
        child = m.Entity(f"{entity.name}.{field_spec.name}", field_spec.label, field_spec.source,
                         m.frozen_mapping({item.name: item for item in field_spec.fields}))
        for _ in range(maker.rng.randint(1, 2)):
            row: dict[str, Any] = {}
            for item in field_spec.fields:
                hint = hints.get(f"{field_spec.name}.{item.name}")
                if self.should_fill(item, hint, maker.rng):
                    row[item.name] = self.value_of(child, item, hint, number, unit, maker, row)
            rows.append(row)
        return rows


def own_resident_id(entity: m.Entity) -> str | None:
    """Return the entity's first resident ID field: the ID of the person the record is about, whose birth_date and gender it encodes."""
    return next((name for name, item in entity.fields.items() if item.type == "resident_id"), None)


def ordered_fields(entity: m.Entity, hints: Mapping[str, m.SeedField]) -> list[m.Field]:
    """Order fields so that each comes after the fields its hint's expressions name; references first."""
    depends: dict[str, set[str]] = {}
    for name, field_spec in entity.fields.items():
        hint = hints.get(name)
        needed: set[str] = set()
        if hint is not None:
            expressions = [hint.value] if hint.value is not None else []
            expressions += [bound for bound in hint.range or () if isinstance(bound, Expression)]
            expressions += [hint.when] if hint.when is not None else []
            needed = {use.name for expression in expressions for use in expression.names if use.name in entity.fields}
        if name == own_resident_id(entity):
            needed |= {"birth_date", "gender"} & set(entity.fields)
        depends[name] = needed - {name}

    first = [name for name, item in entity.fields.items() if item.type in m.REFERENCE_TYPES]
    ordered: list[str] = list(first)
    pending = [name for name in entity.fields if name not in first]
    while pending:
        ready = next((name for name in pending if depends[name] <= set(ordered)), pending[0])
        ordered.append(ready)
        pending.remove(ready)
    return [entity.fields[name] for name in ordered]
