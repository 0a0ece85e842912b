"""Moving the records of a flow from an old version to the current one, mapping their states.

`plan_migration` counts the live records of the flow on the version given by state; records
without a version count as v1. Records in a final state of the old version are finished:
they stay on the version they were decided under. The plan maps each other state by the
map given, else to the state of the same name in the current version. It lists what cannot
be done: states in use that have no mapping, targets that are not states of the current
version, and map entries naming a state the old version does not have. It also counts the
signatures collected in the records' open steps and which of them carry over
(runtime/flow_carry.py).

`migrate_records` refuses such a plan. Otherwise, in one transaction, it sets each record's
state and flow_version, raises its version (so an edit read before fails as stale), closes
its open step and opens one in the new state with that state's SLA timers, the same
submitter and the signatures that carry over, and appends one audit entry per record
(action flow_migrate, changes of state and flow_version). Automatic transitions do not
fire: the next save or transition of each record runs them as usual.

`version_report` lists, per flow, its versions with their live record counts.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from sqlalchemy import ColumnElement, Connection, Table, and_, func, or_, select, update

from metamodel import model as m
from runtime.access import Actor
from runtime.flow_carry import Signatures, carry_over, count_signatures, fire_complete_approvals, open_steps
from runtime.flow_steps import enter_step
from runtime.flow_timers import due_times
from runtime.flow_versions import FlowVersion, rebuild, stored_versions, version_id

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: The audit action of a record moved to another version of its flow.
MIGRATE_ACTION = "flow_migrate"

#: Records updated, stepped and audited together.
BATCH_SIZE = 500

_NUMBER = re.compile(r"^[vV]?([0-9]+)$")
_ID_PREFIX = re.compile(r"^[0-9a-f]{6,64}$")


class FlowMigrationError(Exception):
    """A migration that cannot be planned or run, with its reason in English and Chinese."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh

    def message(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class StateMove:
    old: str
    new: str
    count: int
    #: Mapped to the state of the same name because the map does not name it.
    same_name: bool


@dataclass(frozen=True)
class MigrationPlan:
    flow: m.Flow
    entity: str
    #: The version the records are on: registered, or only an id found on records.
    source_id: str
    source: FlowVersion | None
    target: FlowVersion
    #: Records without a version follow v1 and move with it; how many of the records have none.
    includes_unversioned: bool
    unversioned: int
    moves: tuple[StateMove, ...]
    #: States in use that map to nothing, with their record counts.
    unmapped: tuple[tuple[str, int], ...]
    #: Map entries whose target is no state of the current version.
    unknown_targets: tuple[tuple[str, str], ...]
    #: Map entries whose source is no state of the old version.
    unknown_sources: tuple[str, ...]
    #: Final states of the old version; their records stay where they are.
    final_states: tuple[str, ...] = ()
    #: Records in those final states.
    finished: int = 0
    #: Signatures in the open steps of the records to move.
    signatures: tuple[Signatures, ...] = ()

    @property
    def total(self) -> int:
        return sum(move.count for move in self.moves) + sum(count for _, count in self.unmapped)

    @property
    def refused(self) -> bool:
        return bool(self.unmapped or self.unknown_targets or self.unknown_sources)

    @property
    def signatures_lost(self) -> tuple[Signatures, ...]:
        return tuple(group for group in self.signatures if not group.kept)

    @property
    def source_tag(self) -> str:
        return self.source.tag if self.source is not None else self.source_id[:12]


@dataclass(frozen=True)
class VersionCount:
    version: FlowVersion
    records: int
    current: bool


@dataclass(frozen=True)
class FlowReport:
    flow: str
    entity: str | None
    versions: tuple[VersionCount, ...]
    #: Version ids found on records but never registered, with their record counts.
    unregistered: tuple[tuple[str, int], ...]


def parse_map(items: list[str]) -> dict[str, str]:
    """Turn `old=new` items into a mapping; raise FlowMigrationError on a malformed or repeated item."""
    mapping: dict[str, str] = {}
    for item in items:
        old, separator, new = item.partition("=")
        old, new = old.strip(), new.strip()
        if not separator or not old or not new:
            raise FlowMigrationError(f"--map {item!r} is not old_state=new_state", f"--map {item!r} 的格式应为 原状态=新状态")
        if old in mapping and mapping[old] != new:
            raise FlowMigrationError(f"--map names {old!r} twice: {mapping[old]!r} and {new!r}",
                                     f"--map 两次指定了 {old!r}：{mapping[old]!r} 和 {new!r}")
        mapping[old] = new
    return mapping


def _on_version(table: Table, flow: str, version: str, unversioned: bool, final_states: tuple[str, ...] = ()) -> ColumnElement[bool]:
    """Select the live records of a flow on one version, leaving out those in `final_states`."""
    on_version = or_(table.c.flow_version == version, table.c.flow_version.is_(None)) if unversioned else table.c.flow_version == version
    selected = and_(table.c.flow == flow, table.c.deleted_at.is_(None), on_version)
    return and_(selected, table.c.state.not_in(final_states)) if final_states else selected


def _resolve(text: str, versions: list[FlowVersion], found: list[str]) -> tuple[str, FlowVersion | None]:
    """Find the version VERSION names: v2 or 2 by number, else a registered (or merely found) id or its start."""
    number = _NUMBER.match(text.strip())
    if number is not None:
        for version in versions:
            if version.number == int(number.group(1)):
                return version.version_id, version
    elif _ID_PREFIX.match(text.strip().lower()):
        prefix = text.strip().lower()
        registered = [version for version in versions if version.version_id.startswith(prefix)]
        if len(registered) == 1:
            return registered[0].version_id, registered[0]
        others = [item for item in found if item.startswith(prefix)]
        if not registered and len(others) == 1:
            return others[0], None
    listed = ", ".join(version.tag for version in versions) or "-"
    raise FlowMigrationError(f"No version {text!r} of this flow; its versions are {listed}", f"该流程没有版本 {text!r}；现有版本：{listed}")


def plan_migration(service: RecordService, flow_name: str, source: str, mapping: Mapping[str, str]) -> MigrationPlan:
    """Count the records to move by state and map their states; see the module docs."""
    flow = service.model.flows.get(flow_name)
    if flow is None:
        names = ", ".join(sorted(service.model.flows)) or "-"
        raise FlowMigrationError(f"No flow {flow_name!r} in the application; its flows are {names}",
                                 f"应用中没有流程 {flow_name!r}；现有流程：{names}")
    table = service.schema.entities[flow.entity].table
    current_id = version_id(flow)
    with service.engine.connect() as connection:
        versions = stored_versions(connection, service.schema, flow_name)
        found = [str(value) for value in connection.scalars(
            select(table.c.flow_version).where(table.c.flow == flow_name, table.c.flow_version.is_not(None)).distinct())]
        target = next((version for version in versions if version.version_id == current_id), None)
        if target is None:
            raise FlowMigrationError(
                f"The current version of {flow_name} is not registered yet: run any metadesk command on the application "
                "once more (opening it registers the version), then try again",
                f"流程 {flow_name} 的当前版本尚未登记：请再运行一次任一 metadesk 命令（打开应用时会登记版本），然后重试")
        source_id, source_version = _resolve(source, versions, found)
        if source_id == current_id:
            raise FlowMigrationError(f"{target.tag} is the current version of {flow_name}; there is nothing to move",
                                     f"{target.tag} 就是流程 {flow_name} 的当前版本，无需迁移")
        unversioned = bool(versions) and source_id == versions[0].version_id
        old_flow = rebuild(json.loads(source_version.definition), f"{flow_name} {source_version.tag}") if source_version else None
        finals = tuple(sorted(name for name, state in (old_flow or flow).states.items() if state.final))
        counts = {str(state): int(count) for state, count in connection.execute(
            select(table.c.state, func.count()).where(_on_version(table, flow_name, source_id, unversioned)).group_by(table.c.state))}
        finished = sum(counts.pop(state, 0) for state in finals)
        moving = _on_version(table, flow_name, source_id, unversioned, finals)
        without = int(connection.scalar(select(func.count()).where(moving, table.c.flow_version.is_(None))) or 0) if unversioned else 0
        new_state = {state: mapping.get(state, state) for state in counts}
        signatures = count_signatures(connection, service.schema.flows, table, flow.entity, moving, new_state, flow)

    moves, unmapped = [], []
    for state, count in sorted(counts.items()):
        if state in mapping:
            moves.append(StateMove(state, mapping[state], count, same_name=False))
        elif state in flow.states:
            moves.append(StateMove(state, state, count, same_name=True))
        else:
            unmapped.append((state, count))
    return MigrationPlan(
        flow=flow, entity=flow.entity, source_id=source_id, source=source_version, target=target, includes_unversioned=unversioned,
        unversioned=without,
        moves=tuple(moves), unmapped=tuple(unmapped),
        unknown_targets=tuple((old, new) for old, new in mapping.items() if new not in flow.states),
        unknown_sources=tuple(old for old in mapping if old_flow is not None and old not in old_flow.states and old not in counts),
        final_states=finals, finished=finished, signatures=signatures,
    )


def migrate_records(
    service: RecordService, plan: MigrationPlan, actor: Actor, progress: Callable[[int], None] | None = None,
    fired: list[tuple[int, str]] | None = None,
) -> int:
    """Move the plan's records to the current version in one transaction; return how many moved.

    `fired` collects (record id, transition) of each approval that the signatures carried over completed.
    """
    if plan.refused:
        raise FlowMigrationError("The plan leaves states unmapped or names unknown states; nothing was changed",
                                 "迁移计划中有未映射或不存在的状态；未做任何更改")
    table = service.schema.entities[plan.entity].table
    target = {move.old: move.new for move in plan.moves}
    now = service.clock()
    moved = 0
    with service._write() as connection:
        rows = connection.execute(
            select(table.c.id, table.c.state, table.c.flow_version)
            .where(_on_version(table, plan.flow.name, plan.source_id, plan.includes_unversioned, plan.final_states))
            .order_by(table.c.id)
        ).mappings().all()
        if len(rows) != plan.total or any(str(row["state"]) not in target for row in rows):
            raise FlowMigrationError("Records of the flow changed since the plan was made; nothing was changed, run the command again",
                                     "制定计划后该流程的记录有变动；未做任何更改，请重新运行命令")
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start:start + BATCH_SIZE]
            completed = _move_batch(service, connection, plan, actor, batch, target, now)
            if fired is not None:
                fired.extend(completed)
            moved += len(batch)
            if progress is not None:
                progress(len(batch))
    logger.info("flow %s: %s %s record(s) moved from %s to %s by %s", plan.flow.name, moved, plan.entity, plan.source_tag,
                plan.target.tag, actor.id)
    return moved


def _move_batch(
    service: RecordService, connection: Connection, plan: MigrationPlan, actor: Actor, batch: Any, target: Mapping[str, str],
    now: datetime.datetime,
) -> list[tuple[int, str]]:
    table = service.schema.entities[plan.entity].table
    flows = service.schema.flows
    new_id = plan.target.version_id
    by_state: dict[str, list[int]] = {}
    for row in batch:
        by_state.setdefault(str(row["state"]), []).append(int(row["id"]))
    for old, ids in by_state.items():
        updated = connection.execute(
            update(table).where(table.c.id.in_(ids), table.c.state == old,
                                _on_version(table, plan.flow.name, plan.source_id, plan.includes_unversioned))
            .values(state=target[old], flow_version=new_id, version=table.c.version + 1, updated_at=now, updated_by=actor.id)
        ).rowcount
        if updated != len(ids):
            raise FlowMigrationError("Records of the flow changed during the migration; nothing was changed, run the command again",
                                     "迁移过程中该流程的记录有变动；未做任何更改，请重新运行命令")
    ids = [int(row["id"]) for row in batch]
    old_steps = open_steps(connection, flows, plan.entity, ids)
    connection.execute(update(flows.steps).where(flows.steps.c.entity == plan.entity, flows.steps.c.record_id.in_(ids),
                                                 flows.steps.c.left_at.is_(None)).values(left_at=now))
    entries = []
    signed: list[int] = []
    for row in batch:
        state = target[str(row["state"])]
        record = {"id": row["id"], "flow": plan.flow.name, "flow_version": new_id}
        before = old_steps.get(int(row["id"]))
        # The time limit keeps counting from when the record entered the state, not from the migration.
        entered = _aware(before["entered_at"]) if before else now
        step = enter_step(connection, flows, plan.entity, record, state, now,
                          transition=before["entered_by_transition"] if before else None,
                          by=before["entered_by"] if before else actor.id, acting_for=before["entered_for"] if before else None,
                          due=due_times(plan.flow, state, entered, service.timezone))
        if before is not None and carry_over(connection, flows, before, int(step["id"]), plan.flow, state):
            signed.append(int(row["id"]))
        entries.append({
            "at": now, "actor": actor.id, "address": actor.address, "action": MIGRATE_ACTION, "entity": plan.entity,
            "record_id": int(row["id"]), "reason": f"{plan.flow.name} {plan.source_tag} → {plan.target.tag}",
            "changes": {**({"state": [row["state"], state]} if state != row["state"] else {}),
                        "flow_version": [row["flow_version"], new_id]},
        })
    service.audit.append_many(connection, entries)
    entity = service.model.entities[plan.entity]
    completed = []
    for record_id in signed:
        for name in fire_complete_approvals(service, connection, entity, record_id, now):
            logger.info("%s %s: the signatures carried over complete %s, which fired", plan.entity, record_id, name)
            completed.append((record_id, name))
    return completed


def _aware(moment: datetime.datetime) -> datetime.datetime:
    """Return a stored time with its zone; SQLite gives it back without one, in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


def version_report(service: RecordService) -> list[FlowReport]:
    """Return every flow, current or registered before, with its versions and live record counts."""
    reports: list[FlowReport] = []
    with service.engine.connect() as connection:
        stored = stored_versions(connection, service.schema)
        names = list(dict.fromkeys([*service.model.flows, *(version.flow for version in stored)]))
        for name in names:
            versions = [version for version in stored if version.flow == name]
            current = service.model.flows.get(name)
            entity = current.entity if current is not None else _entity_of(versions)
            counts: dict[str | None, int] = {}
            if entity is not None and entity in service.schema.entities and "flow" in service.schema.entities[entity].table.c:
                table = service.schema.entities[entity].table
                counts = {value: int(count) for value, count in connection.execute(
                    select(table.c.flow_version, func.count()).where(table.c.flow == name, table.c.deleted_at.is_(None))
                    .group_by(table.c.flow_version))}
            current_id = version_id(current) if current is not None else None
            rows = tuple(
                VersionCount(version, counts.pop(version.version_id, 0) + (counts.pop(None, 0) if index == 0 else 0),
                             version.version_id == current_id)
                for index, version in enumerate(versions)
            )
            unregistered = tuple(sorted((str(key), count) for key, count in counts.items() if key is not None))
            reports.append(FlowReport(name, entity, rows, unregistered))
    return reports


def _entity_of(versions: list[FlowVersion]) -> str | None:
    """Return the entity a flow no longer in the YAML belonged to, from its last stored definition."""
    if not versions:
        return None
    entity = json.loads(versions[-1].definition).get("entity")
    return entity if isinstance(entity, str) else None
