"""Permissions: a Casbin RBAC-with-domains enforcer over the org tree, data scopes and field rules.

Domains are org units. A user is given roles in units (`md_user_role`). A role given in
a unit applies in that unit and every unit below it, and a policy line for unit "*"
applies everywhere. Policy lines read `role, unit, entity, action, scope, effect`:

- the YAML grants are loaded into the enforcer in memory, with the origin "yaml", so
  editing the YAML and reloading replaces them;
- admins' lines live in Casbin's own table through sqlalchemy-adapter, with the origin
  "admin", so they survive restarts and YAML reloads. A "deny" line overrides any grant.

Decisions are memoized per process and the memo is cleared on every change made here.
Changes made by another process are picked up within POLICY_REFRESH_SECONDS, when this
process notices the policy version in the database has moved.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import casbin
from casbin.model import FastModel
from sqlalchemy import ColumnElement, Engine, Table, false, insert, or_, select, update
from sqlalchemy_adapter import Adapter

from metamodel import model as m
from runtime.access import Actor, FieldAccess
from runtime.schema import Schema

logger = logging.getLogger(__name__)

MODEL_TEXT = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act, scope, eft

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub, r.dom) && unit_within(r.dom, p.dom) && r.obj == p.obj && r.act == p.act
"""

ANY_UNIT = "*"
SYSTEM_ROLE = "system"

#: Seconds a process may serve decisions before it checks for changes made by other processes.
POLICY_REFRESH_SECONDS = 1.0

_VERSION_ID = 1

#: Positions of the entity and the action in requests and policy lines, which Casbin indexes on.
_INDEXED_FIELDS = [2, 3]


@dataclass(frozen=True)
class PolicyLine:
    role: str
    unit: str
    entity: str
    action: str
    scope: str
    effect: str
    origin: str

    @property
    def values(self) -> list[str]:
        return [self.role, self.unit, self.entity, self.action, self.scope, self.effect]


class OrgTree:
    """The org units and their parents, for "unit and below" questions."""

    def __init__(self, parents: dict[str, str | None]) -> None:
        self.parents = parents
        self.children: dict[str, list[str]] = {}
        for unit, parent in parents.items():
            if parent is not None:
                self.children.setdefault(parent, []).append(unit)

    def within(self, unit: str, ancestor: str) -> bool:
        """Tell whether `unit` is `ancestor` or lies below it; every unit is within "*"."""
        if ancestor == ANY_UNIT:
            return True
        seen = 0
        current: str | None = unit
        while current is not None and seen <= len(self.parents):
            if current == ancestor:
                return True
            current = self.parents.get(current)
            seen += 1
        return False

    def and_below(self, unit: str) -> list[str]:
        found = [unit]
        index = 0
        while index < len(found):
            found.extend(self.children.get(found[index], ()))
            index += 1
        return found


class PermissionStore:
    """The enforcer of one application, with the YAML's policies and the admins' edits."""

    def __init__(self, model: m.AppModel, schema: Schema, engine: Engine) -> None:
        self.model = model
        self.schema = schema
        self.engine = engine
        self.tables = schema.access
        self._lock = threading.RLock()
        self._decisions: dict[tuple[str, str, str, str], bool] = {}
        self._scopes: dict[tuple[str, str, str, str], list[PolicyLine]] = {}
        self._lines: list[PolicyLine] = []
        self._version = -1
        self._checked_at = 0.0
        self.adapter = Adapter(engine)
        self.load()

    # Loading ----------------------------------------------------------------

    def load(self) -> None:
        """Build the enforcer from the YAML, the admins' lines and the assignments in the database."""
        with self._lock:
            self.tree = self._read_tree()
            # The fast model indexes policy lines by entity and action, so a decision looks at the
            # lines of one entity and action instead of all of them.
            casbin_model = FastModel(_INDEXED_FIELDS)
            casbin_model.load_model_from_text(MODEL_TEXT)
            enforcer = casbin.FastEnforcer(casbin_model, self.adapter, cache_key_order=_INDEXED_FIELDS)
            enforcer.add_function("unit_within", self.tree.within)
            enforcer.add_named_domain_matching_func("g", self.tree.within)
            enforcer.enable_auto_save(False)
            # Appended to the policy container directly: the fast model counts its lines on every
            # add_policy call, which makes loading thousands of lines that way quadratic.
            policy = enforcer.get_model().model["p"]["p"].policy
            for line in self.yaml_lines():
                policy.append(line.values)
            for role in self.model.permissions.roles.values():
                for parent in role.inherits:
                    enforcer.add_grouping_policy(role.name, parent, ANY_UNIT)
            with self.engine.connect() as connection:
                for user_id, role_name, unit in connection.execute(select(self.tables.user_roles)):
                    enforcer.add_grouping_policy(user_id, role_name, unit)
                self._version = self._read_version(connection)
                self._admin_field_rules = connection.execute(select(self.tables.field_rules)).all()
            enforcer.build_role_links()
            enforcer.enable_auto_save(True)
            self.enforcer = enforcer
            self._lines = self._collect_lines()
            self._decisions.clear()
            self._scopes.clear()
            self._checked_at = time.monotonic()
        logger.info("permissions loaded for %s: version %s", self.model.app.name, self._version)

    def _read_tree(self) -> OrgTree:
        parents: dict[str, str | None] = {name: unit.parent for name, unit in self.model.permissions.org_units.items()}
        with self.engine.connect() as connection:
            for name, parent in connection.execute(select(self.tables.org_units.c.name, self.tables.org_units.c.parent)):
                parents.setdefault(name, parent)
        return OrgTree(parents)

    def _read_version(self, connection: Any) -> int:
        version = connection.scalar(select(self.tables.policy_version.c.version).where(self.tables.policy_version.c.id == _VERSION_ID))
        return int(version or 0)

    def refresh(self) -> None:
        """Reload when another process changed the policies; checked at most every POLICY_REFRESH_SECONDS."""
        now = time.monotonic()
        if now - self._checked_at < POLICY_REFRESH_SECONDS:
            return
        self._checked_at = now
        with self.engine.connect() as connection:
            current = self._read_version(connection)
        if current != self._version:
            self.load()

    def yaml_lines(self) -> list[PolicyLine]:
        lines = []
        for grant in self.model.permissions.grants:
            scope = "filter" if grant.scope == "filter" else grant.scope
            for action in grant.actions:
                lines.append(PolicyLine(grant.role, ANY_UNIT, grant.entity, action, scope, "allow", "yaml"))
        return lines

    def lines(self) -> list[PolicyLine]:
        """Return every policy line in force, the YAML's and the admins', each with its origin."""
        return list(self._lines)

    def _collect_lines(self) -> list[PolicyLine]:
        yaml_lines = self.yaml_lines()
        yaml_values = {tuple(line.values) for line in yaml_lines}
        result = list(yaml_lines)
        for values in self.enforcer.get_policy():
            if tuple(values) not in yaml_values:
                role, unit, entity, action, scope, effect = values
                result.append(PolicyLine(role, unit, entity, action, scope, effect, "admin"))
        return result

    # Decisions --------------------------------------------------------------

    def allows(self, actor: Actor, action: str, entity: str) -> bool:
        if SYSTEM_ROLE in actor.roles:
            return True
        self.refresh()
        key = (actor.id, actor.org_unit or ANY_UNIT, entity, action)
        decision = self._decisions.get(key)
        if decision is None:
            with self._lock:
                decision = bool(self.enforcer.enforce(actor.id, actor.org_unit or ANY_UNIT, entity, action))
                self._decisions[key] = decision
        return decision

    def roles_of(self, actor: Actor) -> list[str]:
        """Return the roles the actor has in its unit, inherited ones included."""
        with self._lock:
            return list(self.enforcer.get_implicit_roles_for_user(actor.id, actor.org_unit or ANY_UNIT))

    def matching_lines(self, actor: Actor, action: str, entity: str) -> list[PolicyLine]:
        """Return the allow lines that grant the action to one of the actor's roles in its unit."""
        unit = actor.org_unit or ANY_UNIT
        roles = set(self.roles_of(actor))
        return [
            line for line in self.lines()
            if line.role in roles and line.entity == entity and line.action == action
            and line.effect == "allow" and self.tree.within(unit, line.unit)
        ]

    def scopes(self, actor: Actor, action: str, entity: str) -> list[PolicyLine]:
        """Return the allow lines that grant the action, or none when a deny line overrides them."""
        if SYSTEM_ROLE in actor.roles:
            return [PolicyLine(SYSTEM_ROLE, ANY_UNIT, entity, action, "all", "allow", "system")]
        if not self.allows(actor, action, entity):
            return []
        key = (actor.id, actor.org_unit or ANY_UNIT, entity, action)
        lines = self._scopes.get(key)
        if lines is None:
            lines = self.matching_lines(actor, action, entity)
            self._scopes[key] = lines
        return lines

    def field_access(self, actor: Actor, entity: str) -> FieldAccess:
        """Combine the field rules of the actor's roles.

        A role that declares rules for the entity has those; a role that declares none has the rules
        of the roles it inherits. Across the roles the actor holds, a restriction holds only if every
        role has it, so a second role can lift it.
        """
        if SYSTEM_ROLE in actor.roles:
            return FieldAccess(reveal_masked=True, writes_read_only=True)
        roles = set(self.roles_of(actor))
        if not roles:
            return FieldAccess()
        own: dict[str, dict[str, set[str]]] = {}
        for rule in self.model.permissions.field_rules:
            if rule.entity == entity:
                for kind in ("hidden", "masked", "unmasked", "read_only"):
                    own.setdefault(rule.role, {}).setdefault(kind, set()).update(getattr(rule, kind))
        for role, rule_entity, field, kind in self._admin_field_rules:
            if rule_entity == entity:
                own.setdefault(role, {}).setdefault(kind, set()).add(field)

        ancestors = {role: self._ancestors(role) for role in roles}
        # A role that another held role inherits adds nothing of its own: its rules reach the heir.
        held = [role for role in roles if not any(role in ancestors[other] and other != role for other in roles)]

        def effective(role: str, kind: str, seen: frozenset[str] = frozenset()) -> set[str]:
            if role in own or role in seen:
                return set(own.get(role, {}).get(kind, set()))
            spec = self.model.permissions.roles.get(role)
            found: set[str] = set()
            for parent in spec.inherits if spec is not None else ():
                found |= effective(parent, kind, seen | {role})
            return found

        def every(kind: str) -> frozenset[str]:
            return frozenset(set.intersection(*(effective(role, kind) for role in held)))

        unmasked = frozenset(set.union(*(effective(role, "unmasked") for role in held)))
        return FieldAccess(hidden=every("hidden"), masked=every("masked"), unmasked=unmasked, read_only=every("read_only"))

    def _ancestors(self, role: str) -> set[str]:
        """Return the role with every role it inherits, directly or through others."""
        found = {role}
        pending = [role]
        while pending:
            current = pending.pop()
            spec = self.model.permissions.roles.get(current)
            for parent in spec.inherits if spec is not None else ():
                if parent not in found:
                    found.add(parent)
                    pending.append(parent)
        return found

    # Changes by admins --------------------------------------------------------

    def bump_version(self, connection: Any) -> None:
        table = self.tables.policy_version
        updated = connection.execute(update(table).where(table.c.id == _VERSION_ID).values(version=table.c.version + 1)).rowcount
        if not updated:
            connection.execute(insert(table).values(id=_VERSION_ID, version=1))

    def changed(self) -> None:
        """Reload after a change made in this process, so no stale decision is ever served here."""
        self.load()


def scope_predicate(
    store: PermissionStore, actor: Actor, entity: m.Entity, table: Table, action: str, compile_filter: Any
) -> ColumnElement[bool] | None:
    """Return the SQL predicate of the actor's data scope, OR-ing the scopes of every matching grant."""
    lines = store.scopes(actor, action, entity.name)
    if not lines:
        return false()
    parts: list[ColumnElement[bool]] = []
    for line in lines:
        if line.scope == "all":
            return None
        if line.scope == "own":
            parts.append(table.c.created_by == actor.id)
        elif line.scope == "unit":
            parts.append(table.c.org_unit == actor.org_unit)
        elif line.scope == "unit_and_below":
            units = store.tree.and_below(actor.org_unit) if actor.org_unit else []
            parts.append(table.c.org_unit.in_(units))
        elif line.scope == "filter":
            for grant in store.model.permissions.grants:
                if grant.role == line.role and grant.entity == entity.name and line.action in grant.actions and grant.filter is not None:
                    parts.append(compile_filter(grant.filter, entity, actor))
    return or_(false(), *parts)

