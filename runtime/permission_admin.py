"""Changes admins make to permissions: users, role assignments, policy lines and field rules.

Each change is checked against the application: an unknown role, entity, action, field
or org unit is rejected with the valid names. The change is written in one transaction
with its audit entry and a new policy version. It is then loaded into the enforcer, so
the next decision in this process already reflects it.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, or_, select

from metamodel import model as m
from runtime.access import Actor
from runtime.audit import AuditLog
from runtime.database import WRITE_OPTION
from runtime.permissions import ANY_UNIT, PermissionStore, PolicyLine

logger = logging.getLogger(__name__)

FIELD_RULE_KINDS = ("hidden", "masked", "unmasked", "read_only")
EFFECTS = ("allow", "deny")


class PermissionConfigError(ValueError):
    """Raised for a change that does not fit the application; nothing was changed."""

    def __init__(self, what_en: str, what_zh: str, value: str, allowed: list[str]) -> None:
        #: The kind of name at fault ("role", "org unit", ...) and the problem: "unknown", "taken" or "exists",
        #: so that a form can show the message beside the right field.
        self.subject = what_en
        self.problem = "unknown"
        listed = ", ".join(allowed[:30]) + (" ..." if len(allowed) > 30 else "")
        self.message_en = f"unknown {what_en} {value!r}; use one of: {listed}"
        self.message_zh = f"未知的{what_zh} {value!r}；请使用：{listed}"
        super().__init__(self.message_en)

    @classmethod
    def taken(cls, what_en: str, what_zh: str, value: str) -> PermissionConfigError:
        error = cls(what_en, what_zh, value, [])
        error.problem = "taken"
        error.message_en = f"the {what_en} {value!r} is already used; choose another name"
        error.message_zh = f"{what_zh} {value!r} 已被使用；请换一个名称"
        error.args = (error.message_en,)
        return error

    @classmethod
    def exists(cls, what_en: str, what_zh: str, value: str) -> PermissionConfigError:
        error = cls(what_en, what_zh, value, [])
        error.problem = "exists"
        error.message_en = f"the {what_en} {value!r} exists already; nothing was changed"
        error.message_zh = f"{what_zh} {value!r} 已存在；未做任何更改"
        error.args = (error.message_en,)
        return error

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True)
class MatrixCell:
    allowed: bool
    scopes: tuple[str, ...]
    origins: tuple[str, ...]
    #: The lines of the role and the roles it inherits for this entity and action, in any unit.
    lines: tuple[PolicyLine, ...] = ()


@dataclass(frozen=True)
class OrgUnitRow:
    name: str
    parent: str | None
    kind: str
    label: m.Label
    #: "yaml" for units the application declares, "runtime" for units admins added.
    origin: str


@dataclass(frozen=True)
class FieldRuleRow:
    role: str
    entity: str
    field: str
    #: One of FIELD_RULE_KINDS.
    kind: str
    #: "yaml" or "admin". Only admin rules can be cleared.
    origin: str


class PermissionAdmin:
    def __init__(self, store: PermissionStore) -> None:
        self.store = store
        self.model = store.model
        self.tables = store.schema.access
        self.audit = AuditLog(store.schema)
        self.rules = self._casbin_table()

    def _casbin_table(self) -> Table:
        table: Table = self.store.adapter._db_class.__table__  # the adapter's own mapped table
        return table

    # Checks ---------------------------------------------------------------------

    def _role(self, name: str) -> None:
        if name not in self.model.permissions.roles:
            raise PermissionConfigError("role", "角色", name, sorted(self.model.permissions.roles))

    def _entity(self, name: str) -> m.Entity:
        entity = self.model.entities.get(name)
        if entity is None:
            raise PermissionConfigError("entity", "实体", name, sorted(self.model.entities))
        return entity

    def _action(self, entity: str, action: str) -> None:
        actions = list(self.model.actions_for(entity))
        if action not in actions:
            raise PermissionConfigError("action", "操作", action, actions)

    def _unit(self, unit: str, *, any_allowed: bool) -> None:
        units = sorted(self.store.tree.parents)
        if unit == ANY_UNIT and any_allowed:
            return
        if unit not in self.store.tree.parents:
            raise PermissionConfigError("org unit", "组织机构", unit, units)

    # Writing --------------------------------------------------------------------

    def _commit(self, admin: Actor, action: str, changes: dict[str, Any], work: Any) -> None:
        with self.store.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
            with connection.begin():
                work(connection)
                self.store.bump_version(connection)
                self.audit.append(
                    connection, at=datetime.datetime.now(datetime.timezone.utc), actor=admin.id, address=admin.address,
                    action=action, entity="permissions", record_id=None, changes=changes,
                )
        logger.info("permission change %s by %s: %s", action, admin.id, changes)
        self.store.changed()

    def add_org_unit(self, admin: Actor, name: str, parent: str, kind: str, label_zh: str, label_en: str) -> None:
        """Add an org unit below `parent` while the application runs, such as a newly onboarded partner company."""
        self._unit(parent, any_allowed=False)
        if name in self.store.tree.parents:
            raise PermissionConfigError.taken("org unit", "组织机构", name)
        row = {"name": name, "parent": parent, "kind": kind, "label_zh": label_zh, "label_en": label_en, "origin": "runtime"}
        self._commit(admin, "add_org_unit", {"org_unit": [None, row]},
                     lambda connection: connection.execute(insert(self.tables.org_units).values(**row)))

    def add_user(self, admin: Actor, user_id: str, username: str, display_name: str, org_unit: str) -> None:
        self._unit(org_unit, any_allowed=False)
        users = self.tables.users
        with self.store.engine.connect() as connection:
            clash = connection.execute(
                select(users.c.id, users.c.username).where(or_(users.c.id == user_id, users.c.username == username))
            ).first()
        if clash is not None and clash.id == user_id:
            raise PermissionConfigError.taken("user id", "用户 id", user_id)
        if clash is not None:
            raise PermissionConfigError.taken("username", "用户名", username)
        row = {"id": user_id, "username": username, "display_name": display_name, "org_unit": org_unit,
               "active": True, "created_at": datetime.datetime.now(datetime.timezone.utc)}
        self._commit(admin, "add_user", {"user": [None, user_id], "org_unit": [None, org_unit]},
                     lambda connection: connection.execute(insert(self.tables.users).values(**row)))

    def assign(self, admin: Actor, user_id: str, role: str, unit: str) -> None:
        """Give a user a role in an org unit; it applies there and in every unit below."""
        self._role(role)
        self._unit(unit, any_allowed=False)
        self._user(user_id)
        table = self.tables.user_roles
        with self.store.engine.connect() as connection:
            existing = connection.scalar(
                select(table.c.role).where(table.c.user_id == user_id, table.c.role == role, table.c.org_unit == unit)
            )
        if existing is not None:
            raise PermissionConfigError.exists("role assignment", "角色分配", f"{role}@{unit}")
        row = {"user_id": user_id, "role": role, "org_unit": unit}
        self._commit(admin, "assign_role", {"assignment": [None, row]},
                     lambda connection: connection.execute(insert(self.tables.user_roles).values(**row)))

    def unassign(self, admin: Actor, user_id: str, role: str, unit: str) -> None:
        table = self.tables.user_roles
        condition = and_(table.c.user_id == user_id, table.c.role == role, table.c.org_unit == unit)
        with self.store.engine.connect() as connection:
            assignments = [f"{row.role}@{row.org_unit}" for row in connection.execute(select(table).where(table.c.user_id == user_id))]
        if f"{role}@{unit}" not in assignments:
            raise PermissionConfigError("role assignment", "角色分配", f"{role}@{unit}", sorted(assignments))
        self._commit(admin, "unassign_role", {"assignment": [{"user_id": user_id, "role": role, "org_unit": unit}, None]},
                     lambda connection: connection.execute(delete(table).where(condition)))

    def _user(self, user_id: str) -> None:
        with self.store.engine.connect() as connection:
            users = list(connection.scalars(select(self.tables.users.c.id)))
        if user_id not in users:
            raise PermissionConfigError("user", "用户", user_id, sorted(users))

    def grant(
        self, admin: Actor, role: str, entity: str, action: str, *, scope: str = "all", unit: str = ANY_UNIT, effect: str = "allow"
    ) -> PolicyLine:
        """Add an admin policy line; a "deny" line overrides grants, the YAML's included."""
        self._role(role)
        if entity != m.SYSTEM_RESOURCE:
            self._entity(entity)
        self._action(entity, action)
        self._unit(unit, any_allowed=True)
        if scope not in m.SCOPES:
            raise PermissionConfigError("data scope", "数据范围", scope, list(m.SCOPES))
        if effect not in EFFECTS:
            raise PermissionConfigError("effect", "效果", effect, list(EFFECTS))
        line = PolicyLine(role, unit, entity, action, scope, effect, "admin")
        if line.values in [item.values for item in self.store.lines()]:
            raise PermissionConfigError.exists("policy line", "策略", " ".join(line.values))
        values = {f"v{index}": value for index, value in enumerate(line.values)}
        self._commit(admin, "grant", {"line": [None, line.values]},
                     lambda connection: connection.execute(insert(self.rules).values(ptype="p", **values)))
        return line

    def revoke(self, admin: Actor, line: PolicyLine) -> None:
        """Remove an admin policy line; YAML lines are changed in the YAML, or overridden by a deny line."""
        admin_lines = [item for item in self.store.lines() if item.origin == "admin"]
        if line.values not in [item.values for item in admin_lines]:
            raise PermissionConfigError(
                "admin policy line", "管理员策略", " ".join(line.values), [" ".join(item.values) for item in admin_lines]
            )
        condition = and_(self.rules.c.ptype == "p", *(self.rules.c[f"v{index}"] == value for index, value in enumerate(line.values)))
        self._commit(admin, "revoke", {"line": [line.values, None]},
                     lambda connection: connection.execute(delete(self.rules).where(condition)))

    def set_field_rule(self, admin: Actor, role: str, entity: str, field: str, kind: str) -> None:
        self._role(role)
        entity_spec = self._entity(entity)
        if field not in entity_spec.fields:
            raise PermissionConfigError("field", "字段", field, sorted(entity_spec.fields))
        if kind not in FIELD_RULE_KINDS:
            raise PermissionConfigError("field rule", "字段规则", kind, list(FIELD_RULE_KINDS))
        if FieldRuleRow(role, entity, field, kind, "admin") in self.field_rules(role, entity):
            raise PermissionConfigError.exists("field rule", "字段规则", f"{field}: {kind}")
        row = {"role": role, "entity": entity, "field": field, "rule": kind}
        self._commit(admin, "set_field_rule", {"field_rule": [None, row]},
                     lambda connection: connection.execute(insert(self.tables.field_rules).values(**row)))

    def clear_field_rule(self, admin: Actor, role: str, entity: str, field: str, kind: str) -> None:
        """Remove an admin field rule. The YAML's rules change only in the YAML."""
        admin_rules = [rule for rule in self.field_rules(role, entity) if rule.origin == "admin"]
        if FieldRuleRow(role, entity, field, kind, "admin") not in admin_rules:
            raise PermissionConfigError("admin field rule", "管理员字段规则", f"{field}: {kind}",
                                        [f"{rule.field}: {rule.kind}" for rule in admin_rules])
        table = self.tables.field_rules
        condition = and_(table.c.role == role, table.c.entity == entity, table.c.field == field, table.c.rule == kind)
        row = {"role": role, "entity": entity, "field": field, "rule": kind}
        self._commit(admin, "clear_field_rule", {"field_rule": [row, None]},
                     lambda connection: connection.execute(delete(table).where(condition)))

    # Reading --------------------------------------------------------------------

    def matrix(
        self, roles: list[str] | None = None, entities: list[str] | None = None
    ) -> dict[tuple[str, str, str], MatrixCell]:
        """Return role × entity × action: whether a line grants it for any unit, with its scopes and origins.

        `roles` and `entities` narrow the matrix, and "system" is the resource of the application's administration.
        """
        cells: dict[tuple[str, str, str], MatrixCell] = {}
        by_resource: dict[tuple[str, str], list[PolicyLine]] = {}
        for line in self.store.lines():
            by_resource.setdefault((line.entity, line.action), []).append(line)
        for role in roles if roles is not None else self.model.permissions.roles:
            parents = self._ancestors(role)
            for entity in entities if entities is not None else (*self.model.entities, m.SYSTEM_RESOURCE):
                for action in self.model.actions_for(entity):
                    matching = [line for line in by_resource.get((entity, action), ()) if line.role in parents]
                    cells[(role, entity, action)] = _cell(matching)
        return cells

    def cell(self, role: str, entity: str, action: str) -> MatrixCell:
        """Return one cell of the matrix, after checking that the role, entity and action exist."""
        self._role(role)
        if entity != m.SYSTEM_RESOURCE:
            self._entity(entity)
        self._action(entity, action)
        return self.matrix([role], [entity])[(role, entity, action)]

    def _ancestors(self, role: str) -> set[str]:
        found = {role}
        pending = [role]
        while pending:
            current = self.model.permissions.roles.get(pending.pop())
            for parent in current.inherits if current else ():
                if parent not in found:
                    found.add(parent)
                    pending.append(parent)
        return found

    def assignments(self, connection: Connection) -> list[tuple[str, str, str]]:
        table = self.tables.user_roles
        return [(row.user_id, row.role, row.org_unit) for row in connection.execute(select(table))]

    def members(self) -> dict[str, list[tuple[str, str]]]:
        """Return, for each role, the (user, org unit) pairs holding it directly, sorted."""
        with self.store.engine.connect() as connection:
            assignments = self.assignments(connection)
        members: dict[str, list[tuple[str, str]]] = {}
        for user_id, role, unit in sorted(assignments):
            members.setdefault(role, []).append((user_id, unit))
        return members

    def org_units(self) -> list[OrgUnitRow]:
        """Return the YAML's org units and those added at runtime, in declaration and then name order."""
        units = [
            OrgUnitRow(unit.name, unit.parent, unit.kind, unit.label, "yaml")
            for unit in self.model.permissions.org_units.values()
        ]
        table = self.tables.org_units
        with self.store.engine.connect() as connection:
            for row in connection.execute(select(table).order_by(table.c.name)):
                if row.name not in self.model.permissions.org_units:
                    units.append(OrgUnitRow(row.name, row.parent, row.kind, m.Label(row.label_zh, row.label_en), row.origin))
        return units

    def field_rules(self, role: str, entity: str) -> list[FieldRuleRow]:
        """Return the field rules of one role on one entity, the YAML's first, then the admins'."""
        rules = [
            FieldRuleRow(role, entity, field, kind, "yaml")
            for rule in self.model.permissions.field_rules if rule.role == role and rule.entity == entity
            for kind in FIELD_RULE_KINDS for field in getattr(rule, kind)
        ]
        table = self.tables.field_rules
        with self.store.engine.connect() as connection:
            for row in connection.execute(select(table).where(table.c.role == role, table.c.entity == entity)):
                rules.append(FieldRuleRow(role, entity, row.field, row.rule, "admin"))
        return rules


def _cell(lines: list[PolicyLine]) -> MatrixCell:
    allowed = any(line.effect == "allow" for line in lines) and not any(line.effect == "deny" for line in lines)
    return MatrixCell(
        allowed, tuple(sorted({line.scope for line in lines if line.effect == "allow"})),
        tuple(sorted({line.origin for line in lines})), tuple(lines),
    )
