"""Flow versions: a record keeps following the definition of the flow it started under.

What makes a version: `version_id` is the SHA-256 of a flow's definition as canonical JSON.
It leaves out what only people read (the labels of the flow, its states, transitions and
approval levels, and the confirmation prompts) and positions in the YAML. Everything that
changes how records move counts: states and their initial, final and editable settings,
transitions with their sources, targets, roles, guards, required fields and documents,
comment rule, kind, automatic flag, approval (mode, roles, quorum, ratio, levels, routing),
SLA and hooks, and `applies_when`. Order counts as written, since the first ready automatic
transition is the one that fires; reordering makes a new version, which behaves as the old
one. A change of labels only keeps the version, and the labels stored with it are updated.

Registration: `Runtime.open` calls `register_versions` whenever the database has the
md_flow_version table, so every server worker, job worker and `metadesk` command that opens
a migrated database records the flows it runs. A flow whose version id is new gets the next
number (v1, v2...) and its YAML document as canonical JSON, from which the metamodel's flow
builder makes the old m.Flow again later. Workers starting at once cannot add a version
twice: the primary key (flow, version_id) and the unique (flow, number) refuse the second
insert, and the loser reads the table again.

Resolution: a new record stores its flow's version id in `flow_version`. `flow_at` returns
the current model's flow for the current version, and otherwise the stored definition
rebuilt, cached per engine for the life of the process. A record whose flow_version is NULL
(written before versions were kept) follows the first registered version of its flow.
Moving records to the current version is runtime/flow_migration.py's work.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError

from metamodel import model as m
from metamodel.build import Builder
from metamodel.build_flows import build_flow
from metamodel.expressions import Expression
from metamodel.schemas import validate_document
from metamodel.yamlsource import Document, read_document
from runtime.database import WRITE_OPTION
from runtime.schema import Schema

if TYPE_CHECKING:
    from runtime.record_reads import RecordReads

logger = logging.getLogger(__name__)

#: Fields of the flow's parts that only people read; changing them keeps the version.
COSMETIC_FIELDS = frozenset({"label", "confirm"})
#: Fields added to the model after versions were first kept: left out while empty, so that
#: flows without them keep the version ids they were registered under.
LATER_FIELDS = frozenset({"on_enter", "on_leave"})

#: Inserts tried per flow when other workers keep registering versions of it at the same moment.
REGISTER_ATTEMPTS = 5


@dataclass(frozen=True)
class FlowVersion:
    """One registered definition of a flow."""

    flow: str
    version_id: str
    number: int
    created_at: datetime.datetime
    #: The flow's YAML document as canonical JSON.
    definition: str

    @property
    def tag(self) -> str:
        return f"v{self.number}"


# Identifying a version -----------------------------------------------------------

_ids: dict[int, tuple[weakref.ref[m.Flow], str]] = {}


def version_id(flow: m.Flow) -> str:
    """Return the id of the flow's definition: what moves records, without labels (see the module docs)."""
    cached = _ids.get(id(flow))
    if cached is not None and cached[0]() is flow:
        return cached[1]
    text = json.dumps(_canonical(flow), ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    _ids[id(flow)] = (weakref.ref(flow), digest)
    weakref.finalize(flow, _ids.pop, id(flow), None)
    return digest


def _canonical(value: Any) -> Any:
    """Return the value as JSON data: dataclasses as objects without cosmetic fields, mappings in their order."""
    if isinstance(value, Expression):
        return value.source
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: _canonical(getattr(value, item.name)) for item in dataclasses.fields(value)
            if item.name not in COSMETIC_FIELDS and not isinstance(getattr(value, item.name), m.Source)
            and not (item.name in LATER_FIELDS and not getattr(value, item.name))
        }
    if isinstance(value, Mapping):
        return [[str(key), _canonical(item)] for key, item in value.items()]
    if isinstance(value, (frozenset, set)):
        return sorted((_canonical(item) for item in value), key=json.dumps)
    if isinstance(value, (tuple, list)):
        return [_canonical(item) for item in value]
    if isinstance(value, Decimal):
        # 24 and 24.0 hours are the same SLA.
        return str(value.normalize())
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        return str(value)
    raise TypeError(f"flow versions cannot identify a value of type {type(value).__name__}: {value!r}")


def canonical_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def rebuild(definition: Any, origin: str) -> m.Flow | None:
    """Build an m.Flow from a flow's YAML document data; None, logged, when the present builder cannot read it."""
    document = Document(origin, definition)
    problems = validate_document("flow", document)
    if not problems:
        builder = Builder()
        try:
            flow = build_flow(builder, document)
        except Exception as exc:  # noqa: BLE001 - a definition the present builder cannot read is reported, not raised
            logger.error("flow definition %s cannot be built: %s", origin, exc)
            return None
        problems = [item for item in builder.diagnostics if item.severity == "error"]
        if not problems:
            return flow
    logger.error("flow definition %s cannot be built: %s", origin, "; ".join(item.as_text("en") for item in problems))
    return None


def flow_document(flow: m.Flow) -> Any | None:
    """Read the flow's YAML document again; None when the file no longer contains the definition that was loaded."""
    document, _ = read_document(Path(flow.source.file), flow.source.file)
    if document is None or not isinstance(document.data, dict):
        return None
    rebuilt = rebuild(document.data, flow.source.file)
    if rebuilt is None or version_id(rebuilt) != version_id(flow):
        return None
    return document.data


# Registering ---------------------------------------------------------------------


def register_versions(engine: Engine, schema: Schema, model: m.AppModel) -> list[FlowVersion]:
    """Register the current definition of every flow of the model; return the versions this call added.

    Does nothing on a database without the md_flow_version table (not migrated yet).
    """
    table = schema.flows.versions
    with engine.connect() as connection:
        if not inspect(connection).has_table(table.name):
            return []
        stored = {(row.flow, row.version_id): row.definition
                  for row in connection.execute(select(table.c.flow, table.c.version_id, table.c.definition))}
    added: list[FlowVersion] = []
    for flow in model.flows.values():
        key = (flow.name, version_id(flow))
        data = flow_document(flow)
        if data is None:
            logger.warning("flow %s: %s no longer contains the definition loaded; its version is registered at the next start",
                           flow.name, flow.source.file)
            continue
        definition = canonical_json(data)
        if key in stored:
            if stored[key] != definition:
                # Only labels differ, or the version would differ too.
                with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
                    connection.execute(update(table).where(table.c.flow == key[0], table.c.version_id == key[1])
                                       .values(definition=definition))
            continue
        registered = _insert(engine, table, flow.name, key[1], definition)
        if registered is not None:
            added.append(registered)
    return added


def _insert(engine: Engine, table: Table, name: str, version: str, definition: str) -> FlowVersion | None:
    """Add a version with the next number, unless another worker has added it; retry when a number was taken meanwhile."""
    for _ in range(REGISTER_ATTEMPTS):
        now = datetime.datetime.now(datetime.timezone.utc)
        try:
            with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
                if _stored_number(connection, table, name, version) is not None:
                    return None
                number = int(connection.scalar(select(func.max(table.c.number)).where(table.c.flow == name)) or 0) + 1
                connection.execute(insert(table).values(flow=name, version_id=version, number=number, definition=definition,
                                                        created_at=now))
        except IntegrityError:
            logger.debug("flow %s: another worker registered a version at the same moment; reading again", name)
            continue
        logger.info("flow %s: registered version v%s (%s)", name, number, version[:12])
        return FlowVersion(name, version, number, now, definition)
    logger.warning("flow %s: version %s not registered after %s attempts; it is tried again at the next start",
                   name, version[:12], REGISTER_ATTEMPTS)
    return None


def _stored_number(connection: Connection, table: Table, name: str, version: str) -> int | None:
    number = connection.scalar(select(table.c.number).where(table.c.flow == name, table.c.version_id == version))
    return None if number is None else int(number)


def stored_versions(connection: Connection, schema: Schema, name: str | None = None) -> list[FlowVersion]:
    """Return the registered versions, of one flow or of all, by flow and number."""
    table = schema.flows.versions
    statement = select(table).order_by(table.c.flow, table.c.number)
    if name is not None:
        statement = statement.where(table.c.flow == name)
    return [
        FlowVersion(row.flow, row.version_id, int(row.number), _aware(row.created_at), row.definition)
        for row in connection.execute(statement)
    ]


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(tzinfo=datetime.timezone.utc) if moment.tzinfo is None else moment


# Resolving a record's flow -------------------------------------------------------


@dataclass
class _Known:
    """The versions of one engine's database that this process has read and built."""

    flows: dict[tuple[str, str], m.Flow] = field(default_factory=dict)
    #: The first version of each flow, which records without a version follow.
    first: dict[str, str] = field(default_factory=dict)
    table_seen: bool = False
    #: Every version registered when first asked has been built into `flows`.
    loaded: bool = False


_known: weakref.WeakKeyDictionary[Engine, _Known] = weakref.WeakKeyDictionary()


def _known_for(engine: Engine) -> _Known:
    known = _known.get(engine)
    if known is None:
        known = _known.setdefault(engine, _Known())
    return known


def record_flow(service: RecordReads, entity: str, record: Mapping[str, Any], connection: Connection | None = None) -> m.Flow | None:
    """Return the flow a record follows, in the version it follows, or None.

    A record read without its `flow_version` column is taken to follow the current version.
    """
    name = record.get("flow")
    if not isinstance(name, str):
        return None
    if "flow_version" in record:
        flow = flow_at(service, name, record.get("flow_version") or None, connection)
    else:
        flow = service.model.flows.get(name)
    return flow if flow is not None and flow.entity == entity else None


def flow_at(service: RecordReads, name: str, version: str | None, connection: Connection | None = None) -> m.Flow | None:
    """Return flow `name` as defined in `version` (None: its first registered version), or None when unknown."""
    current = service.model.flows.get(name)
    if current is not None and version == version_id(current):
        return current
    known = _known_for(service.engine)
    cached = known.flows.get((name, version)) if version is not None else None
    if cached is not None:
        return cached
    if connection is not None:
        return _load(service, known, connection, name, version, current)
    with service._connection() as own:
        return _load(service, known, own, name, version, current)


def _load(
    service: RecordReads, known: _Known, connection: Connection, name: str, version: str | None, current: m.Flow | None,
) -> m.Flow | None:
    table = service.schema.flows.versions
    if not known.table_seen:
        if not inspect(connection).has_table(table.name):
            return current if version is None else None
        known.table_seen = True
    if version is None:
        version = known.first.get(name) or connection.scalar(
            select(table.c.version_id).where(table.c.flow == name).order_by(table.c.number).limit(1))
        if version is None:
            # Nothing is registered yet, so the current definition will be the first.
            return current
        known.first[name] = version
        if current is not None and version == version_id(current):
            return current
        if (name, version) in known.flows:
            return known.flows[(name, version)]
    definition = connection.scalar(select(table.c.definition).where(table.c.flow == name, table.c.version_id == version))
    if definition is None:
        logger.error("flow %s: version %s is not registered; records on it follow no flow until they are migrated",
                     name, version[:12])
        return None
    flow = rebuild(json.loads(definition), f"{table.name} {name} {version[:12]}")
    if flow is not None:
        known.flows[(name, version)] = flow
    return flow


def automatic_possible(service: RecordReads, entity: str, connection: Connection) -> bool:
    """Tell whether a flow of the entity, current or registered before, has an automatic transition."""
    if any(transition.automatic for flow in service.model.flows_for(entity) for transition in flow.transitions.values()):
        return True
    known = _known_for(service.engine)
    if not known.loaded:
        table = service.schema.flows.versions
        if not known.table_seen and not inspect(connection).has_table(table.name):
            return False
        known.table_seen = True
        for row in connection.execute(select(table.c.flow, table.c.version_id, table.c.definition)):
            if (row.flow, row.version_id) not in known.flows:
                built = rebuild(json.loads(row.definition), f"{table.name} {row.flow} {row.version_id[:12]}")
                if built is not None:
                    known.flows[(row.flow, row.version_id)] = built
        known.loaded = True
    # Versions registered later by newer workers join `flows` as their records are met.
    return any(flow.entity == entity and any(transition.automatic for transition in flow.transitions.values())
               for flow in list(known.flows.values()))
