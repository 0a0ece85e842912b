"""Permissions: a Casbin RBAC-with-domains enforcer over the org tree, data scopes and field rules.

Domains are org units. A user is given roles in units (`md_user_role`). A role given in
a unit is held there: it applies in that unit and every unit below it, and a policy line for
unit "*" applies everywhere. Policy lines read `role, unit, entity, action, scope, effect`:

- the YAML grants are loaded into the enforcer in memory, with the origin "yaml", so
  editing the YAML and reloading replaces them;
- admins' lines live in Casbin's own table through sqlalchemy-adapter, with the origin
  "admin", so they survive restarts and YAML reloads.

Each unit where the user has a role is a domain the enforcer decides in, with every role in
force there (the roles held in it or above it). A "deny" line overrides every grant in the
domains it applies in. A grant reaches the user through a role held in a unit, and its data scope
is computed from that unit, never from the user's own unit (`md_user.org_unit`): a head-office
user given a role in a branch reads, under that role's "unit_and_below" grant, the branch and the
units below it. The user's data scope for an action is the union of the scopes of every grant that
reaches them, across all the roles and all the units they hold them in.

In a scope filter, the current unit is the unit where the granting role is held: `user.org_unit`
is that unit and `user.org_units` lists that unit only, so that the filter, like "unit", reaches
no further than the role. A role held in several units evaluates the filter once for each unit.
Everywhere else (form rules, validation) `user.org_unit` stays the user's own unit.

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
from sqlalchemy import Engine, insert, select, update
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


@dataclass(frozen=True)
class HeldLine:
    """A policy line that reaches a user through one role assignment."""

    line: PolicyLine
    #: The role the user was given: the line's role, or a role that inherits it.
    role: str
    #: The org unit where that role was given, which the line's data scope is computed from.
    unit: str


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

    def add(self, unit: str, parent: str) -> None:
        """Add a unit below `parent`, as a hook does inside its transaction before the store is loaded again."""
        self.parents[unit] = parent
        self.children.setdefault(parent, []).append(unit)

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
        self._granted: dict[tuple[str, str, str], list[HeldLine]] = {}
        self._lines: list[PolicyLine] = []
        self._lines_by_request: dict[tuple[str, str], list[PolicyLine]] = {}
        self._assignments: dict[str, list[tuple[str, str]]] = {}
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
            assignments: dict[str, list[tuple[str, str]]] = {}
            with self.engine.connect() as connection:
                for user_id, role_name, unit in connection.execute(select(self.tables.user_roles)):
                    enforcer.add_grouping_policy(user_id, role_name, unit)
                    assignments.setdefault(user_id, []).append((role_name, unit))
                self._version = self._read_version(connection)
                self._admin_field_rules = connection.execute(select(self.tables.field_rules)).all()
            enforcer.build_role_links()
            enforcer.enable_auto_save(True)
            self.enforcer = enforcer
            self._lines = self._collect_lines()
            self._lines_by_request = {}
            for line in self._lines:
                self._lines_by_request.setdefault((line.entity, line.action), []).append(line)
            self._assignments = {user: sorted(held) for user, held in assignments.items()}
            self._granted.clear()
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

    def assignments(self, actor: Actor) -> list[tuple[str, str]]:
        """Return the (role, unit) pairs the actor was given, sorted."""
        return list(self._assignments.get(actor.id, ()))

    def allows(self, actor: Actor, action: str, entity: str) -> bool:
        if SYSTEM_ROLE in actor.roles:
            return True
        return bool(self._granting(actor, action, entity))

    def roles_of(self, actor: Actor) -> list[str]:
        """Return the roles the actor has in any unit, each followed by the roles it inherits."""
        found: dict[str, None] = {}
        for role, _ in self.assignments(actor):
            found.update(dict.fromkeys(sorted(self._ancestors(role), key=lambda name: (name != role, name))))
        return list(found)

    def scopes(self, actor: Actor, action: str, entity: str) -> list[HeldLine]:
        """Return the allow lines that reach the actor, each with the unit where its role is held.

        A line is left out where a deny line overrides it in that unit; no line at all means the
        action is denied.
        """
        if SYSTEM_ROLE in actor.roles:
            return [HeldLine(PolicyLine(SYSTEM_ROLE, ANY_UNIT, entity, action, "all", "allow", "system"), SYSTEM_ROLE, ANY_UNIT)]
        return list(self._granting(actor, action, entity))

    def candidates(self, actor: Actor, action: str, entity: str) -> tuple[list[HeldLine], list[HeldLine]]:
        """Return the allow lines of the actor's roles, whether a deny line overrides them or not, and the deny lines in force.

        An allow line comes with the unit where its role is held. A deny line comes with each unit
        where the actor has a role and the line overrides the grants: the line applies there and
        its role is in force there, held in that unit or above it.
        """
        given = self.assignments(actor)
        requested = self._lines_by_request.get((entity, action), [])
        allowing: dict[tuple[PolicyLine, str], HeldLine] = {}
        denying: dict[tuple[PolicyLine, str], HeldLine] = {}
        for unit in dict.fromkeys(unit for _, unit in given):
            for role, role_unit in given:
                if not self.tree.within(unit, role_unit):
                    continue
                inherited = self._ancestors(role)
                for line in requested:
                    if line.role not in inherited or not self.tree.within(unit, line.unit):
                        continue
                    if line.effect == "deny":
                        denying.setdefault((line, unit), HeldLine(line, role, unit))
                    elif role_unit == unit:
                        allowing.setdefault((line, unit), HeldLine(line, role, unit))
        return list(allowing.values()), list(denying.values())

    def _granting(self, actor: Actor, action: str, entity: str) -> list[HeldLine]:
        self.refresh()
        key = (actor.id, entity, action)
        granted = self._granted.get(key)
        if granted is None:
            with self._lock:
                allowing, _ = self.candidates(actor, action, entity)
                decided: dict[str, bool] = {}
                granted = []
                for held in allowing:
                    if held.unit not in decided:
                        decided[held.unit] = bool(self.enforcer.enforce(actor.id, held.unit, entity, action))
                    if decided[held.unit]:
                        granted.append(held)
                self._granted[key] = granted
        return granted

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
