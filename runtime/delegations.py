"""Delegation: a user hands their roles (or one of them) to another user for a range of days.

While a delegation runs, the delegate may fire the transitions and sign the approvals the
delegator may, with the delegator's permissions and data scope. The history and the audit
log name both: the delegate as the one who acted, the delegator as the one acted for.
Days are the application's days (its `timezone` setting), both ends included.
"""

from __future__ import annotations

import calendar
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

#: Maximum length of a delegation in years, from its first day to its last, and maximum time from today to its first day.
MAX_DELEGATION_YEARS = 1
#: Maximum length of a delegation's reason, in characters.
MAX_REASON_LENGTH = 500
#: Label of a delegation that hands over every role the delegator holds.
ALL_ROLES = m.Label(zh_cn="全部角色", en="All roles")


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


def years_later(day: datetime.date, years: int) -> datetime.date:
    """Return the same day `years` later, 1 March for 29 February in a common year, and date.max past year 9999."""
    year = day.year + years
    if year > datetime.MAXYEAR:
        return datetime.date.max
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return datetime.date(year, 3, 1)
    return day.replace(year=year)


def _add(errors: dict[str, list[FieldError]], path: str, code: str, en: str, zh: str) -> None:
    errors.setdefault(path, []).append(FieldError(code, en, zh))


def _check_days(errors: dict[str, list[FieldError]], starts_on: datetime.date, ends_on: datetime.date,
                today: datetime.date) -> None:
    """Add the errors of a range of days, both ends included, given the application's today."""
    years_en = "1 year" if MAX_DELEGATION_YEARS == 1 else f"{MAX_DELEGATION_YEARS} years"
    if ends_on < today:
        _add(errors, "ends_on", "past", f"The last day {ends_on} is in the past. Choose today ({today}) or a later day.",
             f"结束日期 {ends_on} 已经过去，请选择今天（{today}）或之后的日期。")
    if ends_on < starts_on:
        _add(errors, "ends_on", "range", "The last day is before the first day; choose a later last day.", "结束日期早于开始日期，请选择更晚的结束日期。")
    elif starts_on.year + MAX_DELEGATION_YEARS <= datetime.MAXYEAR:
        # The day before the same date a year later keeps the range at exactly one year. A range that starts in
        # year 9999, the last one `datetime.date` supports, is shorter than a year anyway.
        last_allowed = years_later(starts_on, MAX_DELEGATION_YEARS) - datetime.timedelta(days=1)
        if ends_on > last_allowed:
            _add(errors, "ends_on", "too_long", f"A delegation lasts at most {years_en}. Choose a last day on or before {last_allowed}.",
                 f"委托期限最长 {MAX_DELEGATION_YEARS} 年，请选择 {last_allowed} 或之前的结束日期。")
    latest_start = years_later(today, MAX_DELEGATION_YEARS)
    if starts_on > latest_start:
        _add(errors, "starts_on", "too_far", f"The first day {starts_on} is more than {years_en} ahead. Choose a first day on or "
             f"before {latest_start}.", f"开始日期 {starts_on} 距今超过 {MAX_DELEGATION_YEARS} 年，请选择 {latest_start} 或之前的开始日期。")


def _check_reason(errors: dict[str, list[FieldError]], reason: str | None) -> None:
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        _add(errors, "reason", "too_long", f"The reason has {len(reason)} characters, more than the maximum of {MAX_REASON_LENGTH}. "
             "Shorten it.", f"委托原因有 {len(reason)} 个字符，超过上限 {MAX_REASON_LENGTH} 个，请缩短。")


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
        `administer` action) may delegate anyone's. ValidationFailed lists every
        problem at once, keyed by field, and nothing is written when it is raised.
        The problems are:

        - a last day before the first day or before today;
        - a range longer than MAX_DELEGATION_YEARS, or a first day further ahead of today than that;
        - a reason longer than MAX_REASON_LENGTH characters;
        - an unknown delegate, or the delegator themselves;
        - a role the delegator does not hold;
        - days from today on that another unrevoked delegation of the same role by the same
          delegator covers, to any delegate. A delegation of every role overlaps one of any role.
        """
        if actor.id != delegator and not self.service.access.allows(actor, "administer", m.SYSTEM_RESOURCE):
            raise PermissionDenied(RESOURCE, "create")
        errors: dict[str, list[FieldError]] = {}
        today = local_today(self.service)
        _check_days(errors, starts_on, ends_on, today)
        _check_reason(errors, reason)
        now = self.service.clock()
        with self.service._write() as connection:
            # Lock the delegator's row so that two requests at once cannot both pass the overlap check.
            # SQLite ignores FOR UPDATE, but its writers already run one at a time (BEGIN IMMEDIATE).
            users = self.service.schema.access.users
            connection.execute(select(users.c.id).where(users.c.id == delegator).with_for_update())

            delegate = resolve_user(self.service, connection, delegate)
            principal = actor_of(self.service, connection, delegator)
            substitute = actor_of(self.service, connection, delegate)
            if delegate == delegator:
                _add(errors, "delegate", "self", "Choose another user than the one who delegates.", "不能委托给本人，请选择其他用户。")
            elif substitute is None:
                _add(errors, "delegate", "unknown", f"No active user {delegate!r}.", f"没有启用的用户 {delegate!r}。")
            if principal is None:
                _add(errors, "delegator", "unknown", f"No active user {delegator!r}.", f"没有启用的用户 {delegator!r}。")
            elif role is not None and role not in principal.roles:
                self._add_role_not_held(errors, principal, role)
            elif starts_on <= ends_on and ends_on >= today:
                self._check_overlap(connection, errors, delegator, role, max(starts_on, today), ends_on)
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

    def role_label(self, role: str | None) -> m.Label:
        """Return the label of a role as the application declares it, its name for an undeclared one, or "all roles" for None."""
        if role is None:
            return ALL_ROLES
        spec = self.service.model.permissions.roles.get(role)
        return spec.label if spec is not None else m.Label(zh_cn=role, en=role)

    def _add_role_not_held(self, errors: dict[str, list[FieldError]], principal: Actor, role: str) -> None:
        label = self.role_label(role)
        name = principal.name or principal.id
        if not principal.roles:
            _add(errors, "role", "not_held", f'{name} does not hold the role "{label.en}" and holds no role to delegate.',
                 f"{name} 没有“{label.zh_cn}”角色，也没有可以委托的角色。")
            return
        held_labels = [self.role_label(held_role) for held_role in principal.roles]
        choices_en = ", ".join(f'"{item.en}"' for item in held_labels)
        choices_zh = "、".join(f"“{item.zh_cn}”" for item in held_labels)
        _add(errors, "role", "not_held", f'{name} does not hold the role "{label.en}". Choose one of: {choices_en}.',
             f"{name} 没有“{label.zh_cn}”角色，请从{choices_zh}中选择。")

    def _check_overlap(self, connection: Connection, errors: dict[str, list[FieldError]], delegator: str, role: str | None,
                       first_day: datetime.date, last_day: datetime.date) -> None:
        """Add an error for each unrevoked delegation of the same role by `delegator` that runs on a day of the range.

        Only days from today count, because a delegation that has ended never runs again.
        """
        table = self.table
        users = self.service.schema.access.users
        same_role = [] if role is None else [or_(table.c.role.is_(None), table.c.role == role)]
        clashes = connection.execute(
            select(table.c.role, table.c.delegate, users.c.display_name, table.c.starts_on, table.c.ends_on)
            .join_from(table, users, users.c.id == table.c.delegate)
            .where(table.c.delegator == delegator, table.c.revoked_at.is_(None), table.c.starts_on <= last_day,
                   table.c.ends_on >= first_day, *same_role)
            .order_by(table.c.starts_on, table.c.id)
        ).all()
        for other_role, other, other_name, other_start, other_end in clashes:
            delegate_name = f"{other_name} ({other})" if other_name else other
            label = self.role_label(other_role)
            what_en = "all roles" if other_role is None else f'the role "{label.en}"'
            what_zh = "全部角色" if other_role is None else f"“{label.zh_cn}”角色"
            _add(errors, "role", "overlap",
                 f"These days overlap the delegation of {what_en} to {delegate_name} from {other_start} to {other_end}, and a role has "
                 "one acting user at a time. Choose days outside that range or revoke that delegation first.",
                 f"所选日期与 {other_start} 至 {other_end} 委托给 {delegate_name} 的{what_zh}委托重叠，同一角色同一时间只能有一位代办人。"
                 "请选择该期间以外的日期，或先撤销该委托。")

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
