"""Org units, accounts and role assignments that a hook changes inside its operation's transaction.

A hook reaches this as `context.organization`. It does for the acting user what the
administrators do on the admin pages (runtime/permission_admin.py, runtime/account_admin.py),
within limits:

- the acting user needs the "organize" action on the "system" resource, and every unit a call
  touches (a new unit's parent, a user's unit, an assignment's unit, a moved record's old and
  new unit) must lie inside that grant's data scope: "all" anywhere, "unit_and_below" the unit
  where the role is held and below it, "unit" that unit alone; the system passes everywhere;
- a role that holds any grant on the "system" resource, itself or through the roles it
  inherits, is given by administrators only, never by a hook.

Every change is written on the operation's connection, with an audit entry and a new policy
version, so it is committed or rolled back with the operation. A unit added here is known to
this process's permission checks at once, so a record moved into it stays readable by whoever
may read that unit; the permissions are loaded again once the transaction ends.

A new account gets a one-time password that meets the application's password rules. Only its
hash is stored; the call returns it once, for the hook to hand to the person (by SMS, for example).
"""

from __future__ import annotations

import datetime
import logging
import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, insert, select, update

from metamodel import model as m
from runtime.access import Actor
from runtime.accounts import hash_password, password_problem
from runtime.audit import AuditLog
from runtime.hooks import HookError
from runtime.permissions import SYSTEM_ROLE

if TYPE_CHECKING:
    from runtime.permissions import PermissionStore
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: The system action a hook's user needs to change org units and accounts.
ORGANIZE_ACTION = "organize"

#: Characters of generated passwords: no 0/O, 1/l/I, which people misread.
_PASSWORD_GROUPS = ("abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "-_.!@#")


class OrganizationRefused(HookError):
    """A change of org units or accounts that the acting user may not make, or that does not fit; nothing was changed.

    `code` is the kind: "scope" (outside the user's organize scope), "unknown" (no such unit,
    role, user or record), "taken" (the name is used) or "role" (an administrative role).
    """

    def __init__(self, code: str, en: str, zh: str) -> None:
        super().__init__(en, zh)
        self.code = code


@dataclass(frozen=True)
class UnitInfo:
    name: str
    parent: str | None
    kind: str
    label: m.Label


@dataclass(frozen=True)
class AccountInfo:
    id: str
    username: str
    display_name: str
    org_unit: str | None
    active: bool


def generate_password(settings: Any, length: int = 12) -> str:
    """Return a random password of `length` characters that meets the application's password rules."""
    length = max(length, int(settings.get("password_min_length", 8)))
    alphabet = "".join(_PASSWORD_GROUPS)
    while True:
        # One character of each class first, then any; shuffled so that the classes sit anywhere.
        picked = [secrets.choice(group) for group in _PASSWORD_GROUPS]
        picked += [secrets.choice(alphabet) for _ in range(length - len(picked))]
        secrets.SystemRandom().shuffle(picked)
        password = "".join(picked)
        if password_problem(settings, password) is None:
            return password


class HookOrganization:
    """Org units, accounts and role assignments as a hook changes them; see the module docs for the limits."""

    def __init__(self, service: RecordService, store: PermissionStore, actor: Actor, connection: Connection) -> None:
        self._service = service
        self._store = store
        self._actor = actor
        self._connection = connection
        self._tables = store.schema.access
        self._audit = AuditLog(store.schema)
        self._reload_planned = False

    # Reading ------------------------------------------------------------------

    def unit(self, name: str) -> UnitInfo | None:
        """Return an org unit, declared in the YAML or added while the application runs, or None."""
        declared = self._store.model.permissions.org_units.get(name)
        if declared is not None:
            return UnitInfo(declared.name, declared.parent, declared.kind, declared.label)
        table = self._tables.org_units
        row = self._connection.execute(select(table).where(table.c.name == name)).first()
        if row is None:
            return None
        return UnitInfo(row.name, row.parent, row.kind, m.Label(row.label_zh, row.label_en))

    def account(self, user_id: str) -> AccountInfo | None:
        """Return a user's account, active or not, or None."""
        users = self._tables.users
        row = self._connection.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            return None
        return AccountInfo(row.id, row.username, row.display_name, row.org_unit, bool(row.active))

    # Changing -----------------------------------------------------------------

    def add_unit(self, name: str, *, parent: str, kind: str, label_zh: str, label_en: str) -> None:
        """Add an org unit below `parent`, which must lie inside the acting user's organize scope."""
        self._require_unit(parent)
        if self.unit(name) is not None:
            raise OrganizationRefused("taken", f"The org unit name {name!r} is already used; choose another name.",
                                      f"组织机构名称 {name!r} 已被使用；请换一个名称。")
        row = {"name": name, "parent": parent, "kind": kind, "label_zh": label_zh, "label_en": label_en, "origin": "runtime"}
        self._connection.execute(insert(self._tables.org_units).values(**row))
        self._store.tree.add(name, parent)
        self._changed("add_org_unit", "permissions", {"org_unit": [None, row]})

    def add_user(self, user_id: str, *, username: str, display_name: str, unit: str) -> str:
        """Create an active account in `unit` and return its one-time password; only the password's hash is kept."""
        self._require_unit(unit)
        users = self._tables.users
        clash = self._connection.execute(
            select(users.c.id, users.c.username).where((users.c.id == user_id) | (users.c.username == username))
        ).first()
        if clash is not None:
            taken = "user id" if clash.id == user_id else "username"
            value = user_id if clash.id == user_id else username
            raise OrganizationRefused("taken", f"The {taken} {value!r} is already used; choose another.",
                                      f"{'用户 id' if taken == 'user id' else '用户名'} {value!r} 已被使用；请换一个。")
        password = generate_password(self._store.model.app.settings)
        self._connection.execute(insert(users).values(
            id=user_id, username=username, display_name=display_name, org_unit=unit, active=True,
            password_hash=hash_password(password), created_at=datetime.datetime.now(datetime.timezone.utc),
        ))
        self._changed("add_user", "account", {"user": [None, user_id], "org_unit": [None, unit]})
        return password

    def assign(self, user_id: str, role: str, unit: str) -> None:
        """Give a user a role in `unit`; administrative roles (any grant on the system) are refused."""
        self._require_unit(unit)
        self._require_role(role)
        if self.account(user_id) is None:
            raise OrganizationRefused("unknown", f"There is no user {user_id!r}.", f"没有用户 {user_id!r}。")
        table = self._tables.user_roles
        held = self._connection.execute(
            select(table.c.role).where(table.c.user_id == user_id, table.c.role == role, table.c.org_unit == unit)
        ).first()
        if held is not None:
            return
        row = {"user_id": user_id, "role": role, "org_unit": unit}
        self._connection.execute(insert(table).values(**row))
        self._changed("assign_role", "permissions", {"assignment": [None, row]})

    def set_active(self, user_id: str, active: bool) -> bool:
        """Activate or deactivate an account of a unit inside the organize scope; return whether it changed.

        A deactivated user cannot sign in, and its sessions and API tokens stop working at once.
        """
        found = self.account(user_id)
        if found is None:
            raise OrganizationRefused("unknown", f"There is no user {user_id!r}.", f"没有用户 {user_id!r}。")
        self._require_unit(found.org_unit or "")
        if user_id == self._actor.id and not active:
            raise OrganizationRefused("scope", "You cannot deactivate your own account.", "不能停用自己的账号。")
        if found.active == active:
            return False
        users = self._tables.users
        values: dict[str, Any] = {"active": active}
        if not active:
            values["session_epoch"] = users.c.session_epoch + 1
        self._connection.execute(update(users).where(users.c.id == user_id).values(**values))
        self._changed("activate_user" if active else "deactivate_user", "account",
                      {"user": [None, user_id], "active": [found.active, active]})
        return True

    def move(self, entity: str, record_id: int, unit: str) -> None:
        """Make `unit` the owner of a record; both its old and its new unit must lie inside the organize scope.

        The record's version stays as it is: the move changes who may see the record, not its
        values, so an operation under way on the same record still completes.
        """
        spec = self._store.model.entities.get(entity)
        if spec is None:
            raise OrganizationRefused("unknown", f"There is no entity {entity!r}.", f"没有实体 {entity!r}。")
        table = self._service.schema.entities[entity].table
        current = self._connection.execute(
            select(table.c.org_unit).where(table.c.id == record_id, table.c.deleted_at.is_(None))
        ).first()
        if current is None:
            raise OrganizationRefused("unknown", f"There is no {spec.label.en} with id {record_id}.",
                                      f"没有编号为 {record_id} 的{spec.label.zh_cn}。")
        if current.org_unit == unit:
            return
        if current.org_unit is not None:
            self._require_unit(current.org_unit)
        self._require_unit(unit)
        self._connection.execute(update(table).where(table.c.id == record_id).values(org_unit=unit))
        self._audit.append(self._connection, at=datetime.datetime.now(datetime.timezone.utc), actor=self._actor.id,
                           address=self._actor.address, action="move", entity=entity, record_id=record_id,
                           changes={"org_unit": [current.org_unit, unit]})
        logger.info("%s %s moved from %s to %s by %s", entity, record_id, current.org_unit, unit, self._actor.id)

    # Checks -------------------------------------------------------------------

    def _require_unit(self, unit: str) -> None:
        tree = self._store.tree
        if unit not in tree.parents:
            listed = ", ".join(sorted(tree.parents)[:30])
            raise OrganizationRefused("unknown", f"There is no org unit {unit!r}; known units: {listed}.",
                                      f"没有组织机构 {unit!r}；现有机构：{listed}。")
        if SYSTEM_ROLE in self._actor.roles:
            return
        for held in self._store.scopes(self._actor, ORGANIZE_ACTION, m.SYSTEM_RESOURCE):
            scope = held.line.scope
            if scope == "all" or (scope == "unit_and_below" and tree.within(unit, held.unit)) or (scope == "unit" and unit == held.unit):
                return
        raise OrganizationRefused(
            "scope", f"You may not change org units or accounts in {unit!r}: it needs the organize permission there.",
            f"您无权维护 {unit!r} 的组织机构或账号：需要在该机构拥有“组织与账号维护”权限。",
        )

    def _require_role(self, role: str) -> None:
        roles = self._store.model.permissions.roles
        if role not in roles:
            raise OrganizationRefused("unknown", f"There is no role {role!r}; use one of: {', '.join(sorted(roles))}.",
                                      f"没有角色 {role!r}；请使用：{', '.join(sorted(roles))}。")
        inherited = {role}
        pending = [role]
        while pending:
            for parent in roles[pending.pop()].inherits:
                if parent not in inherited:
                    inherited.add(parent)
                    pending.append(parent)
        if any(line.entity == m.SYSTEM_RESOURCE and line.role in inherited and line.effect == "allow"
               for line in self._store.lines()):
            raise OrganizationRefused("role", f"The role {role!r} administers the system; only administrators give it.",
                                      f"角色 {role!r} 具有系统管理权限，只能由管理员分配。")

    # Writing ------------------------------------------------------------------

    def _changed(self, action: str, subject: str, changes: dict[str, Any]) -> None:
        self._store.bump_version(self._connection)
        self._audit.append(self._connection, at=datetime.datetime.now(datetime.timezone.utc), actor=self._actor.id,
                           address=self._actor.address, action=action, entity=subject, record_id=None, changes=changes)
        logger.info("%s by %s in a hook: %s", action, self._actor.id, changes)
        if not self._reload_planned:
            # runtime.jobs imports the record service, which imports this module.
            from runtime.jobs import enqueue_after_commit

            self._reload_planned = True
            # Loaded again after the commit, or after a rollback, which leaves no trace of an added unit.
            enqueue_after_commit(self._connection, self._store.changed)
            event.listen(self._connection, "rollback", lambda _connection: self._store.changed(), once=True)
