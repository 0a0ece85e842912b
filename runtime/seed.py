"""Seed an application with demo users and demo records; running it again changes nothing.

`seed_demo` creates one demo user per role (runtime/seed_users.py), then the demo records of
every entity that no catalog fills (runtime/seed_records.py), and moves records of entities
with a flow toward states spread over the flow (runtime/seed_flows.py). Everything goes through
the permission admin, the accounts and the record service, so it is validated and audited.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from runtime.app import Runtime
from runtime.record_query import Condition, ListQuery
from runtime.seed_files import demo_file
from runtime.seed_flows import FlowWalker
from runtime.seed_records import SEED_REASON, EntityReport, RecordSeeder
from runtime.seed_users import SEED_ACTOR, DemoUser, seed_users

logger = logging.getLogger(__name__)

#: Called with an entity's name and the number of records done since the last call.
Progress = Callable[[str, int], None]


@dataclass
class SeedPlan:
    """How many demo records each entity has and will get."""

    entities: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def to_create(self) -> int:
        return sum(max(0, target - existing) for _, existing, target in self.entities)


@dataclass
class SeedReport:
    users: list[DemoUser]
    entities: list[EntityReport]
    #: Entities whose rows come from catalogs in the YAML, not from the seeder.
    catalogued: list[str]


class DemoSeeder:
    """Seeds one application: creating it makes the demo users, `plan` counts the records there are, `run` adds the rest."""

    def __init__(self, runtime: Runtime, *, count: int | None = None, reset_passwords: bool = False) -> None:
        self.runtime = runtime
        self.records = RecordSeeder(runtime.records, [], count=count)
        self.entities = self.records.seeded_entities()
        self.users = seed_users(runtime, runtime.settings.signing_secret(), self.entities, reset_passwords=reset_passwords)
        self.records.users = self.users
        self.records.demo_ids = sorted({user.id for user in self.users} | set(self.records.demo_ids))
        self.walker = FlowWalker(runtime, self.records, self.users)

    def plan(self) -> SeedPlan:
        plan = SeedPlan()
        for entity in self.entities:
            plan.entities.append((entity, self.records.load_existing(entity), self.records.target_count(entity)))
        return plan

    def run(self, plan: SeedPlan, progress: Progress | None = None) -> SeedReport:
        started = self.runtime.records.clock()
        reports = []
        for entity, existing, target in plan.entities:
            report = EntityReport(entity, existing=existing)
            deferred = self.walker.deferred_fields(entity)
            for number in range(existing + 1, target + 1):
                record = self.records.create(entity, number, report, deferred)
                if record is None:
                    report.failed += 1
                else:
                    report.created += 1
                    self.records.rows[entity].append((int(record["id"]), record.get("org_unit")))
                    record = self.attach_hinted(entity, record, number)
                    self.walker.walk(entity, record, number, report)
                if progress is not None:
                    progress(entity, 1)
            reports.append(report)
        targets = {entity: target for entity, _, target in plan.entities}
        for report in reports:
            # Walks, seed steps and hooks create records of other entities too: count every record made since the start.
            since = ListQuery(where=Condition("created_at", "ge", started))
            report.created = max(report.created, self.runtime.records.count(SEED_ACTOR, report.entity, since))
            if targets[report.entity] == 0:
                # Only hooks and steps write these, as the system or as users, so all earlier ones count as existing.
                before = ListQuery(where=Condition("created_at", "lt", started))
                report.existing = self.runtime.records.count(SEED_ACTOR, report.entity, before)
            report.states = self.states_of(report.entity)
            logger.info("demo %s: %s existed, %s created, %s failed", report.entity, report.existing, report.created, report.failed)
        catalogued = sorted({catalog.entity for catalog in self.runtime.model.catalogs.values()})
        return SeedReport(self.users, reports, catalogued)

    def attach_hinted(self, entity: str, record: dict[str, Any], number: int) -> dict[str, Any]:
        """Attach a generated file to each attachment field whose hint's probability this record draws."""
        hints = self.records.hints(entity)
        fields = self.runtime.model.entities[entity].fields
        rng = random.Random(zlib.crc32(f"{entity}:{number}:files".encode()))
        for name, hint in hints.items():
            spec = fields.get(name)
            if spec is None or spec.type not in ("attachment", "attachments") or hint.probability is None:
                continue
            if rng.random() >= float(hint.probability):
                continue
            generated = demo_file(spec, f"{entity} {record['id']} {name}")
            if generated is None:
                continue
            actor = self.records.creator(str(record.get("org_unit") or ""))
            reason = SEED_REASON if self.runtime.model.entities[entity].reason_required else None
            record = self.walker.attachments.attach(actor, entity, record["id"], name, generated[1], filename=generated[0],
                                                    version=record["version"], reason=reason)
        return record

    def states_of(self, entity: str) -> Counter[str]:
        """Count the entity's live demo records by flow state; empty for an entity without a flow."""
        if not self.runtime.model.flows_for(entity):
            return Counter()
        states: Counter[str] = Counter()
        condition = Condition("created_by", "in", self.records.demo_ids)
        after = None
        while True:
            page = self.runtime.records.list(SEED_ACTOR, entity, ListQuery(where=condition, sort=("id",), limit=500, after=after))
            states.update(str(row.get("state")) for row in page.rows)
            if page.next_cursor is None:
                return states
            after = page.next_cursor
