"""The `Access` the record service uses when permissions are configured, data scopes as SQL, and `explain`.

A data scope is the OR of the scopes of every grant that reaches the user, each computed from
the unit where the granting role is held (see runtime.permissions): "unit" is that unit,
"unit_and_below" that unit and the units below it, and a filter gets that unit as
`user.org_unit` and as the only entry of `user.org_units`.

Explain answers the question users of back offices keep asking: why does this user see
(or not see) this record? It lists the user's role assignments and the roles they hold, the
policy lines that matched (with the unit each reaches the user through) or the absence of one,
the data-scope predicate as SQL, and the verdict. It also explains the "system" resource,
which has actions but no records and so no data scope.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, false, or_, select

from metamodel import model as m
from metamodel.expressions import Expression
from runtime.access import Actor, FieldAccess
from runtime.permissions import SYSTEM_ROLE, HeldLine, PermissionStore, PolicyLine
from runtime.schema import Schema
from runtime.sql_expressions import compile_predicate


class PolicyAccess:
    """Decisions, data scopes and field rules from a PermissionStore."""

    def __init__(self, store: PermissionStore, schema: Schema) -> None:
        self.store = store
        self.schema = schema
        self.tables = {name: tables.table for name, tables in schema.entities.items()}

    def allows(self, actor: Actor, action: str, entity: str) -> bool:
        return self.store.allows(actor, action, entity)

    def scope(self, actor: Actor, entity: str, table: Table, action: str = "read") -> ColumnElement[bool] | None:
        entity_spec = self.store.model.entities[entity]
        return scope_predicate(self.store, actor, entity_spec, table, action, self._compile_filter)

    def scope_through(self, actor: Actor, entity: str, table: Table, action: str, roles: frozenset[str]) -> ColumnElement[bool] | None:
        """Return the scope of the grants the actor has through `roles` only, such as an approval level's roles."""
        if SYSTEM_ROLE in actor.roles:
            return None
        entity_spec = self.store.model.entities[entity]
        return scope_predicate(self.store, actor, entity_spec, table, action, self._compile_filter, roles=roles)

    def fields(self, actor: Actor, entity: str) -> FieldAccess:
        return self.store.field_access(actor, entity)

    def owning_unit(self, actor: Actor, entity: str) -> str | None:
        """Return the actor's own unit when a role that grants create is held there or above it, else that role's unit.

        A head-office user who creates through a role held in a branch creates the record in that
        branch, where the same role's scope lets them read it.
        """
        if SYSTEM_ROLE in actor.roles:
            return actor.org_unit
        units = list(dict.fromkeys(held.unit for held in self.store.scopes(actor, "create", entity)))
        if not units or actor.org_unit is None or any(self.store.tree.within(actor.org_unit, unit) for unit in units):
            return actor.org_unit
        return units[0]

    def _compile_filter(self, expression: Expression, entity: m.Entity, actor: Actor) -> ColumnElement[bool]:
        return compile_predicate(expression, entity, self.tables, scope_variables(actor))


def scope_variables(actor: Actor) -> dict[str, Any]:
    """Return the variables a scope filter may use: the user and the date.

    `scope_predicate` passes `acting_in(actor, unit)` for a role held in `unit`, so that the user's unit is that unit.
    """
    units = [actor.org_unit, *actor.org_units] if actor.org_unit else list(actor.org_units)
    return {
        "user": {"id": actor.id, "name": actor.name, "roles": list(actor.roles), "org_unit": actor.org_unit, "org_units": units},
        "today": datetime.date.today(),
        "now": datetime.datetime.now(datetime.timezone.utc),
    }


def acting_in(actor: Actor, unit: str) -> Actor:
    """Return the actor a scope filter is compiled with under a role held in `unit`, with that unit as its only unit."""
    return replace(actor, org_unit=unit, org_units=())


def scope_predicate(
    store: PermissionStore, actor: Actor, entity: m.Entity, table: Table, action: str, compile_filter: Any,
    *, roles: frozenset[str] | None = None,
) -> ColumnElement[bool] | None:
    """Return the SQL predicate of the actor's data scope, OR-ing the scopes of every grant that reaches the actor.

    "unit" and "unit_and_below" are computed from the unit where the granting role is held, and a
    filter is compiled with that unit as the user's unit (see the module's documentation). With
    `roles`, only the grants of roles held among them count.
    """
    lines = [held for held in store.scopes(actor, action, entity.name) if roles is None or held.role in roles]
    if not lines:
        return false()
    parts: list[ColumnElement[bool]] = []
    done: set[tuple[str, str, str]] = set()
    for held in lines:
        line = held.line
        if line.scope == "all":
            return None
        key = (line.scope, "" if line.scope == "own" else held.unit, line.role if line.scope == "filter" else "")
        if key in done:
            continue
        done.add(key)
        if line.scope == "own":
            parts.append(table.c.created_by == actor.id)
        elif line.scope == "unit":
            parts.append(table.c.org_unit == held.unit)
        elif line.scope == "unit_and_below":
            parts.append(table.c.org_unit.in_(store.tree.and_below(held.unit)))
        elif line.scope == "filter":
            for grant in store.model.permissions.grants:
                if grant.role == line.role and grant.entity == entity.name and line.action in grant.actions and grant.filter is not None:
                    parts.append(compile_filter(grant.filter, entity, acting_in(actor, held.unit)))
    return or_(false(), *parts)


@dataclass
class Explanation:
    user: str
    unit: str | None
    action: str
    entity: str
    #: The roles the user has in any unit, each followed by the roles it inherits.
    roles: list[str]
    allowed: bool
    granting: list[PolicyLine] = field(default_factory=list)
    denying: list[PolicyLine] = field(default_factory=list)
    scope_sql: str | None = None
    record_id: int | None = None
    record_in_scope: bool | None = None
    #: The (role, unit) pairs the user was given.
    assignments: list[tuple[str, str]] = field(default_factory=list)
    #: Each granting line with the role assignment it reaches the user through.
    held: list[HeldLine] = field(default_factory=list)
    #: Each deny line with the unit where it overrides the grants.
    held_denying: list[HeldLine] = field(default_factory=list)
    #: False for the "system" resource, which has no records and so no data scope.
    has_records: bool = True

    def reason(self, lang: str = "en") -> str:
        if not self.roles:
            return (f"{self.user} has no role in any org unit" if lang == "en"
                    else f"{self.user} 在任何组织机构都没有角色")
        if not self.allowed and self.denying:
            return ("a deny line overrides the grants" if lang == "en" else "存在拒绝策略，覆盖了授权")
        if not self.allowed:
            return (f"no policy line grants {self.action} on {self.entity} to the roles {', '.join(self.roles)}" if lang == "en"
                    else f"没有策略把 {self.entity} 的 {self.action} 授予角色 {', '.join(self.roles)}")
        if self.record_id is not None and not self.record_in_scope:
            return (f"the grant applies, but record {self.record_id} lies outside the data scope (or does not exist)" if lang == "en"
                    else f"授权有效，但记录 {self.record_id} 不在数据范围内（或不存在）")
        return ("allowed by the matching policy line(s)" if lang == "en" else "由匹配的策略允许")


def explain(
    store: PermissionStore, schema: Schema, engine: Engine, actor: Actor, action: str, entity: str, record_id: int | None = None
) -> Explanation:
    """Say why an action on an entity (and one record) or on the "system" resource is allowed or denied for an actor.

    Raises ValueError when a record id is given for a resource that has no records.
    """
    tables = schema.entities.get(entity)
    if tables is None and record_id is not None:
        raise ValueError(f"{entity} has no records: explain it without a record id")
    allowed = store.allows(actor, action, entity)
    allowing, denying = store.candidates(actor, action, entity)
    explanation = Explanation(
        user=actor.id,
        unit=actor.org_unit,
        action=action,
        entity=entity,
        roles=store.roles_of(actor),
        allowed=allowed,
        granting=list(dict.fromkeys(held.line for held in allowing)),
        denying=list(dict.fromkeys(held.line for held in denying)),
        record_id=record_id,
        assignments=store.assignments(actor),
        held=allowing,
        held_denying=denying,
        has_records=tables is not None,
    )
    if tables is None:
        return explanation
    table = tables.table
    predicate = PolicyAccess(store, schema).scope(actor, entity, table, action) if explanation.allowed else None
    if explanation.allowed:
        explanation.scope_sql = "(every row)" if predicate is None else _sql_text(predicate, engine)
    if record_id is not None:
        condition = and_(table.c.id == record_id, table.c.deleted_at.is_(None))
        if predicate is not None:
            condition = and_(condition, predicate)
        with engine.connect() as connection:
            explanation.record_in_scope = explanation.allowed and connection.scalar(select(table.c.id).where(condition)) is not None
    return explanation


def _sql_text(predicate: ColumnElement[bool], engine: Engine) -> str:
    return str(predicate.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
