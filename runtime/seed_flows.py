"""Move demo records along their flow, so that they spread over the flow's states.

Record number n of an entity aims at the n-th state reachable from the initial state
(breadth first, over transitions that users fire), or at the n-th of seed.yaml's `states` for
the entity, and walks the shortest path there.
Before each transition the walker does what seed.yaml's `steps` lists for it (creates linked
records and runs their actions, runs actions of the record, runs hooks as the system), then
fills the transition's required fields and required documents (a small generated file). A required yes/no field is set to yes, because a
transition that requires a check expects it done. Each transition is fired by the
record service's `transition` as the demo user of one of its roles. When a guard or a rule
stops the walk, the record stays in the state it reached.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections import deque
from typing import Any

from faker import Faker

from metamodel import model as m
from runtime.access import Actor
from runtime.app import Runtime
from runtime.attachments import Attachments
from runtime.errors import RecordError
from runtime.flows import flow_of
from runtime.seed_files import demo_file
from runtime.seed_records import SEED_REASON, EntityReport, RecordSeeder
from runtime.seed_users import SEED_ACTOR, DemoUser
from runtime.seed_values import ValueMaker

logger = logging.getLogger(__name__)

#: The comment written with each transition the walker fires.
SEED_COMMENT = "演示数据 (demo data)"


class FlowWalker:
    def __init__(self, runtime: Runtime, seeder: RecordSeeder, users: list[DemoUser]) -> None:
        self.model = runtime.model
        self.records = runtime.records
        self.seeder = seeder
        self.users = users
        self.attachments = Attachments(runtime.records, runtime.files)
        self._stops_logged: set[str] = set()
        #: The number of the last record each step created per entity, after the records seeded on their own.
        self._created: dict[str, int] = {}

    def deferred_fields(self, entity: str) -> frozenset[str]:
        """Return the fields a new record leaves empty: later states' fields, and hinted read-only fields that hooks fill."""
        flows = self.model.flows_for(entity)
        if not flows:
            return frozenset()
        fields = self.model.entities[entity].fields
        later: set[str] = set()
        for flow in flows:
            initial = flow.states[flow.initial_state].editable or ()
            for state in flow.states.values():
                later.update(name for name in state.editable or () if name not in initial)
        later.update(name for name, item in fields.items() if item.read_only)
        return frozenset(name for name in later if name in fields and not fields[name].required)

    # The graph ----------------------------------------------------------------

    @staticmethod
    def reachable(flow: m.Flow) -> list[str]:
        """Return the states users can bring a record to, breadth first from the initial state."""
        return list(_shortest_paths(flow))

    @staticmethod
    def path(flow: m.Flow, target: str) -> list[m.Transition]:
        return _shortest_paths(flow).get(target, [])

    # Walking --------------------------------------------------------------------

    def walk(self, entity: str, record: dict[str, Any], number: int, report: EntityReport) -> dict[str, Any]:
        """Move the record toward its target state; return it as it ends up."""
        flow = flow_of(self.records, entity, record)
        if flow is None:
            return record
        hints = self.model.seed.entities.get(entity) if self.model.seed is not None else None
        states = list(hints.states) if hints is not None and hints.states else self.reachable(flow)
        target = states[(number - 1) % len(states)]
        rng = random.Random(zlib.crc32(f"{entity}:{number}:walk".encode()))
        faker = Faker("zh_CN")
        faker.seed_instance(rng.randrange(2**32))
        maker = ValueMaker(rng, faker, self.seeder.today)
        unit = record.get("org_unit") or ""
        entity_spec = self.model.entities[entity]
        reason = SEED_REASON if entity_spec.reason_required else None
        # Read-only fields are what hooks fill once the record leaves its initial state; their hints stand in for the hooks.
        hook_outputs = {name for name in self.seeder.hints(entity) if name in entity_spec.fields and entity_spec.fields[name].read_only}

        for transition in self.path(flow, target):
            actor = self.actor_for(transition, unit)
            try:
                step = hints.steps.get(transition.name) if hints is not None else None
                if step is not None:
                    record = self.prepare(entity, record, step, maker)
                missing_required = {name for name in transition.required_fields if _is_empty(record.get(name))}
                values = self.seeder.draw(entity_spec, number, unit, maker, only=frozenset(missing_required), current=record)
                for name in transition.required_fields:
                    if entity_spec.fields[name].type == "boolean" and record.get(name) is not True:
                        values[name] = True
                if values:
                    record = self.records.update(actor, entity, record["id"], values, version=record["version"], reason=reason)
                for name in transition.required_documents:
                    if _is_empty(record.get(name)):
                        record = self.attach(actor, entity, record, name, reason)
                self.records.transition(actor, entity, record["id"], transition.name, version=record["version"], comment=SEED_COMMENT)
                record = self.records.get(SEED_ACTOR, entity, record["id"])
                left_initial = flow.initial_state in transition.sources and not flow.states[transition.target].final
                missing = {name for name in hook_outputs if _is_empty(record.get(name))}
                if left_initial and missing:
                    values = self.seeder.draw(entity_spec, number, unit, maker, only=frozenset(missing), current=record)
                    record = self.records.update(SEED_ACTOR, entity, record["id"], values, version=record["version"], reason=reason)
            except Exception as error:  # noqa: BLE001 - a guard or rule that stops the walk leaves the record where it is
                self._log_stop(entity, transition.name, error)
                count, english, chinese = report.stopped.get(transition.name, (0, *_reasons(error)))
                report.stopped[transition.name] = (count + 1, english, chinese)
                break
        return record

    def prepare(self, entity: str, record: dict[str, Any], step: m.SeedStep, maker: ValueMaker) -> dict[str, Any]:
        """Do a step's work before its transition: linked records and their actions, the record's actions, hooks."""
        unit = str(record.get("org_unit") or "")
        for created in step.create:
            target = self.model.entities[created.entity]
            actor = self.actor_for_entity(created.entity, "create", unit)
            fixed = {**created.values, created.link: record["id"]}
            serial = self._created.get(created.entity, self.seeder.target_count(created.entity)) + 1
            self._created[created.entity] = serial
            values = {**self.seeder.draw(target, serial, unit, maker, skip=frozenset(fixed), current=fixed), **fixed}
            reason = SEED_REASON if target.reason_required else None
            linked = self.records.create(actor, created.entity, values, reason=reason)
            for name in created.actions:
                linked = self.records.run_action(self.actor_for_entity(created.entity, name, unit), created.entity, linked["id"],
                                                 name, version=linked["version"], comment=SEED_COMMENT)
        record = self.records.get(SEED_ACTOR, entity, record["id"])
        for name in step.actions:
            self.records.run_action(self.actor_for_entity(entity, name, unit), entity, record["id"], name,
                                    version=record["version"], comment=SEED_COMMENT)
            record = self.records.get(SEED_ACTOR, entity, record["id"])
        for hook_name in step.hooks:
            self.records.run_hook(entity, record["id"], hook_name, version=record["version"])
            record = self.records.get(SEED_ACTOR, entity, record["id"])
        return record

    def actor_for_entity(self, entity: str, action: str, unit: str) -> Actor:
        """Return the demo user of a role granted `action` on the entity, acting as the system; the seeder without one."""
        roles = {grant.role for grant in self.model.permissions.grants if grant.entity == entity and action in grant.actions}
        user = next((user for user in self.users if user.role in roles), None)
        if user is None:
            return Actor(id=SEED_ACTOR.id, name=SEED_ACTOR.name, roles=SEED_ACTOR.roles, org_unit=unit)
        return Actor(id=user.id, name=user.display_name, roles=SEED_ACTOR.roles, org_unit=unit)

    def attach(self, actor: Actor, entity: str, record: dict[str, Any], field_name: str, reason: str | None) -> dict[str, Any]:
        field_spec = self.model.entities[entity].fields[field_name]
        generated = demo_file(field_spec, f"{entity} {record['id']} {field_name}")
        if generated is None:
            return record
        name, content = generated
        return self.attachments.attach(actor, entity, record["id"], field_name, content, filename=name,
                                       version=record["version"], reason=reason)

    def actor_for(self, transition: m.Transition, unit: str) -> Actor:
        """Return the actor firing a transition: the demo user of one of its roles, acting as the system."""
        roles = transition.roles or (transition.approval.roles if transition.approval else ())
        user = next((user for user in self.users if user.role in roles), None)
        if user is None:
            return Actor(id=SEED_ACTOR.id, name=SEED_ACTOR.name, roles=SEED_ACTOR.roles, org_unit=unit)
        return Actor(id=user.id, name=user.display_name, roles=SEED_ACTOR.roles, org_unit=user.unit)

    def _log_stop(self, entity: str, transition: str, error: Exception) -> None:
        key = f"{entity}.{transition}"
        if key not in self._stops_logged:
            self._stops_logged.add(key)
            logger.info("demo %s records stop before %s: %s", entity, transition, error)


def _shortest_paths(flow: m.Flow) -> dict[str, list[m.Transition]]:
    """Return, for each state users can reach, the shortest list of transitions from the initial state."""
    paths: dict[str, list[m.Transition]] = {flow.initial_state: []}
    queue = deque([flow.initial_state])
    while queue:
        state = queue.popleft()
        for transition in flow.transitions.values():
            if transition.automatic or state not in transition.sources or transition.target in paths:
                continue
            paths[transition.target] = paths[state] + [transition]
            queue.append(transition.target)
    return paths


def _reasons(error: Exception) -> tuple[str, str]:
    """Return why a step failed, in English and Chinese."""
    if isinstance(error, RecordError):
        return error.message_en, error.message_zh
    return str(error), str(error)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()
