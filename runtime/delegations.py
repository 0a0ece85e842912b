"""Delegation: a user hands their roles (or one of them) to another user for a range of days.

While a delegation runs, the delegate may fire the transitions and sign the approvals the
delegator may, with the delegator's permissions and data scope. The history and the audit
log name both: the delegate as the one who acted, the delegator as the one acted for.
Days are the application's days (its `timezone` setting), both ends included.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import FieldError, NotFound, PermissionDenied, ValidationFailed

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

RESOURCE = "delegation"


def actor_of(service: RecordService, connection: Connection, user_id: str) -> Actor | None:
    """Build the actor of an active user from its row and role assignments, or return None."""
    access = service.schema.access
    user = connection.execute(select(access.users).where(access.users.c.id == user_id)).mappings().first()
    if user is None or not user["active"]:
        return None
    assignments = connection.execute(
        select(access.user_roles.c.role, access.user_roles.c.org_unit).where(access.user_roles.c.user_id == user_id)
    ).all()
    units = tuple(sorted({unit for _, unit in assignments if unit != user["org_unit"]}))
    return Actor(id=user["id"], name=user["display_name"], roles=tuple(sorted({role for role, _ in assignments})),
                 org_unit=user["org_unit"], org_units=units, lang=user["lang"] or "zh-CN")


def resolve_user(service: RecordService, connection: Connection, text: str) -> str:
    """Return the id of the user whose id or sign-in name is `text`, or `text` itself when there is none."""
    users = service.schema.access.users
    if connection.scalar(select(users.c.id).where(users.c.id == text)) is not None:
        return text
    found = connection.scalar(select(users.c.id).where(users.c.username == text))
    return str(found) if found is not None else text


def local_today(service: RecordService) -> datetime.date:
    return service.clock().astimezone(service.timezone).date()


def active_delegators(service: RecordService, connection: Connection, delegate: str) -> list[tuple[str, str | None]]:
    """Return (delegator, role or None) for every delegation to `delegate` that runs today."""
    table = service.schema.flows.delegations
    today = local_today(service)
    rows = connection.execute(
        select(table.c.delegator, table.c.role).where(
            table.c.delegate == delegate, table.c.revoked_at.is_(None), table.c.starts_on <= today, table.c.ends_on >= today,
        ).order_by(table.c.id)
    )
    return [(delegator, role) for delegator, role in rows]


def covers(role: str | None, needed_roles: tuple[str, ...]) -> bool:
    """Tell whether a delegation of `role` (None: every role) reaches a step open to `needed_roles` (empty: any role)."""
    return role is None or not needed_roles or role in needed_roles


class Delegations:
    """Creating, revoking and listing delegations, each checked and audited."""

    def __init__(self, service: RecordService) -> None:
        self.service = service
        self.table = service.schema.flows.delegations

    def create(
        self, actor: Actor, delegator: str, delegate: str, starts_on: datetime.date, ends_on: datetime.date,
        *, role: str | None = None, reason: str | None = None,
    ) -> int:
        """Hand `delegator`'s roles (or `role`) to `delegate` from `starts_on` to `ends_on`.

        Users delegate their own roles; administrators (the `system` resource's
        `administer` action) may delegate anyone's.
        """
        if actor.id != delegator and not self.service.access.allows(actor, "administer", m.SYSTEM_RESOURCE):
            raise PermissionDenied(RESOURCE, "create")
        errors: dict[str, list[FieldError]] = {}

        def add(path: str, code: str, en: str, zh: str) -> None:
            errors.setdefault(path, []).append(FieldError(code, en, zh))

        if ends_on < starts_on:
            add("ends_on", "range", "The last day is before the first day; choose a later last day.", "结束日期早于开始日期，请选择更晚的结束日期。")
        if delegate == delegator:
            add("delegate", "self", "Choose another user than the one who delegates.", "不能委托给本人，请选择其他用户。")
        now = self.service.clock()
        with self.service._write() as connection:
            delegate = resolve_user(self.service, connection, delegate)
            principal = actor_of(self.service, connection, delegator)
            substitute = actor_of(self.service, connection, delegate)
            if principal is None:
                add("delegator", "unknown", f"No active user {delegator!r}.", f"没有启用的用户 {delegator!r}。")
            if substitute is None:
                add("delegate", "unknown", f"No active user {delegate!r}.", f"没有启用的用户 {delegate!r}。")
            if principal is not None and role is not None and role not in principal.roles:
                add("role", "not_held", f"{principal.name} does not hold the role {role!r}; choose one of {', '.join(principal.roles)}.",
                    f"{principal.name} 没有角色 {role!r}；请从 {', '.join(principal.roles)} 中选择。")
            if errors:
                raise ValidationFailed(RESOURCE, errors)
            delegation_id = int(connection.execute(insert(self.table).values(
                delegator=delegator, delegate=delegate, role=role, starts_on=starts_on, ends_on=ends_on, reason=reason,
                created_by=actor.id, created_at=now,
            )).inserted_primary_key[0])  # type: ignore[index]
            self.service.audit.append(
                connection, at=now, actor=actor.id, address=actor.address, action="delegate", entity=RESOURCE, record_id=delegation_id,
                reason=reason, changes={"delegation": [None, {"delegator": delegator, "delegate": delegate, "role": role,
                                                              "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()}]},
            )
        logger.info("delegation %s: %s to %s (%s) from %s to %s by %s", delegation_id, delegator, delegate, role or "every role",
                    starts_on, ends_on, actor.id)
        return delegation_id

    def revoke(self, actor: Actor, delegation_id: int) -> None:
        now = self.service.clock()
        with self.service._write() as connection:
            row = connection.execute(select(self.table).where(self.table.c.id == delegation_id)).mappings().first()
            if row is None or row["revoked_at"] is not None:
                raise NotFound(RESOURCE, delegation_id)
            if actor.id != row["delegator"] and not self.service.access.allows(actor, "administer", m.SYSTEM_RESOURCE):
                raise PermissionDenied(RESOURCE, "revoke")
            connection.execute(update(self.table).where(self.table.c.id == delegation_id).values(revoked_at=now))
            self.service.audit.append(
                connection, at=now, actor=actor.id, address=actor.address, action="revoke_delegation", entity=RESOURCE,
                record_id=delegation_id, reason=None, changes={"revoked_at": [None, now.isoformat()]},
            )
        logger.info("delegation %s revoked by %s", delegation_id, actor.id)

    def of_user(self, user_id: str) -> list[dict[str, Any]]:
        """Return the delegations a user gave or received that have not ended or been revoked, soonest first."""
        today = local_today(self.service)
        table = self.table
        with self.service.engine.connect() as connection:
            rows = connection.execute(
                select(table).where(
                    or_(table.c.delegator == user_id, table.c.delegate == user_id),
                    and_(table.c.revoked_at.is_(None), table.c.ends_on >= today),
                ).order_by(table.c.starts_on, table.c.id)
            ).mappings().all()
        return [dict(row) for row in rows]
