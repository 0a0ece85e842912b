"""The `Access` the record service uses when permissions are configured, and `explain`.

Explain answers the question users of back offices keep asking: why does this user see
(or not see) this record? It lists the user's roles in their unit, the policy lines that
matched or the absence of one, the data-scope predicate as SQL, and the verdict.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, select

from metamodel import model as m
from metamodel.expressions import Expression
from runtime.access import Actor, FieldAccess
from runtime.permissions import PermissionStore, PolicyLine, scope_predicate
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

    def fields(self, actor: Actor, entity: str) -> FieldAccess:
        return self.store.field_access(actor, entity)

    def _compile_filter(self, expression: Expression, entity: m.Entity, actor: Actor) -> ColumnElement[bool]:
        return compile_predicate(expression, entity, self.tables, scope_variables(actor))


def scope_variables(actor: Actor) -> dict[str, Any]:
    """Return the variables a scope filter may use: the user and the date."""
    units = [actor.org_unit, *actor.org_units] if actor.org_unit else list(actor.org_units)
    return {
        "user": {"id": actor.id, "name": actor.name, "roles": list(actor.roles), "org_unit": actor.org_unit, "org_units": units},
        "today": datetime.date.today(),
        "now": datetime.datetime.now(datetime.timezone.utc),
    }


@dataclass
class Explanation:
    user: str
    unit: str | None
    action: str
    entity: str
    roles: list[str]
    allowed: bool
    granting: list[PolicyLine] = field(default_factory=list)
    denying: list[PolicyLine] = field(default_factory=list)
    scope_sql: str | None = None
    record_id: int | None = None
    record_in_scope: bool | None = None

    def reason(self, lang: str = "en") -> str:
        if not self.roles:
            return (f"{self.user} holds no role in {self.unit}" if lang == "en"
                    else f"{self.user} 在 {self.unit} 没有任何角色")
        if self.denying:
            return ("a deny line overrides the grants" if lang == "en" else "存在拒绝策略，覆盖了授权")
        if not self.granting:
            return (f"no policy line grants {self.action} on {self.entity} to the roles {', '.join(self.roles)}" if lang == "en"
                    else f"没有策略把 {self.entity} 的 {self.action} 授予角色 {', '.join(self.roles)}")
        if self.record_id is not None and not self.record_in_scope:
            return (f"the grant applies, but record {self.record_id} lies outside the data scope (or does not exist)" if lang == "en"
                    else f"授权有效，但记录 {self.record_id} 不在数据范围内（或不存在）")
        return ("allowed by the matching policy line(s)" if lang == "en" else "由匹配的策略允许")


def explain(
    store: PermissionStore, schema: Schema, engine: Engine, actor: Actor, action: str, entity: str, record_id: int | None = None
) -> Explanation:
    """Say why an action on an entity (and one record) is allowed or denied for an actor."""
    access = PolicyAccess(store, schema)
    roles = store.roles_of(actor)
    lines = [line for line in store.lines() if line.entity == entity and line.action == action and line.role in roles
             and store.tree.within(actor.org_unit or "*", line.unit)]
    explanation = Explanation(
        user=actor.id,
        unit=actor.org_unit,
        action=action,
        entity=entity,
        roles=roles,
        allowed=store.allows(actor, action, entity),
        granting=[line for line in lines if line.effect == "allow"],
        denying=[line for line in lines if line.effect == "deny"],
        record_id=record_id,
    )
    table = schema.entities[entity].table
    predicate = access.scope(actor, entity, table, action) if explanation.allowed else None
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
