"""Account administration: finding and listing users, deactivation, unlocking and the list of API tokens.

Each change runs in one transaction with its entry in the audit log, as the other account
changes in runtime.accounts do. Passwords and tokens are set and revoked by `Accounts`;
the users' roles and org units are changed by `PermissionAdmin`.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update

from runtime.access import Actor
from runtime.accounts import Accounts, as_utc, utc_now

logger = logging.getLogger(__name__)


class AccountRejected(ValueError):
    """Raised for an account change that is not allowed, before anything is changed."""

    def __init__(self, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_zh = message_zh

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True)
class UserAccount:
    """A user as administrators see it: the account's state and its role assignments."""

    id: str
    username: str
    display_name: str
    org_unit: str | None
    active: bool
    created_at: datetime.datetime
    locked_until: datetime.datetime | None
    failed_sign_ins: int
    lang: str | None
    #: (role, org unit) pairs, sorted.
    assignments: tuple[tuple[str, str], ...] = ()

    def locked(self, now: datetime.datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utc_now())


@dataclass(frozen=True)
class UserQuery:
    """Filters of the user list, where None leaves a filter out."""

    #: Part of the id, login name or display name, in any letter case.
    search: str = ""
    #: Main org units to keep, such as a unit and every unit below it.
    org_units: tuple[str, ...] | None = None
    #: Keeps the users holding this role in some unit.
    role: str | None = None
    active: bool | None = None
    locked: bool | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class UserPage:
    users: list[UserAccount]
    #: Users matching the filters, on every page.
    total: int


@dataclass(frozen=True)
class ApiToken:
    """An API token's record, without the token itself, which is never stored."""

    id: int
    user_id: str
    name: str
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked_at: datetime.datetime | None


class AccountAdmin:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.engine = accounts.engine
        self.users = accounts.users
        self.user_roles = accounts.schema.access.user_roles
        self.tokens = accounts.schema.access.api_tokens

    # Reading ----------------------------------------------------------------

    def account(self, user_id: str) -> UserAccount | None:
        """Return a user's account, active or not, with its role assignments, or None if there is no such user."""
        found = self._accounts([self.users.c.id == user_id], limit=1, offset=0)
        return found[0] if found else None

    def list_users(self, query: UserQuery = UserQuery()) -> UserPage:
        """List the users matching the query, ordered by id, and count every match."""
        users = self.users
        conditions: list[Any] = []
        text = query.search.strip()
        if text:
            columns = (users.c.id, users.c.username, users.c.display_name)
            conditions.append(or_(*(column.icontains(text, autoescape=True) for column in columns)))
        if query.org_units is not None:
            conditions.append(users.c.org_unit.in_(query.org_units))
        if query.role is not None:
            conditions.append(users.c.id.in_(select(self.user_roles.c.user_id).where(self.user_roles.c.role == query.role)))
        if query.active is not None:
            conditions.append(users.c.active.is_(query.active))
        if query.locked is not None:
            now = utc_now()
            if query.locked:
                conditions.append(users.c.locked_until > now)
            else:
                conditions.append(or_(users.c.locked_until.is_(None), users.c.locked_until <= now))

        with self.engine.connect() as connection:
            total = int(connection.scalar(select(func.count()).select_from(users).where(*conditions)) or 0)
        return UserPage(self._accounts(conditions, limit=query.limit, offset=query.offset), total)

    def _accounts(self, conditions: list[Any], *, limit: int, offset: int) -> list[UserAccount]:
        roles = self.user_roles
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(self.users).where(*conditions).order_by(self.users.c.id).limit(limit).offset(offset)
            ).mappings().all()
            assignments: dict[str, list[tuple[str, str]]] = {}
            for user_id, role, unit in connection.execute(
                select(roles.c.user_id, roles.c.role, roles.c.org_unit).where(roles.c.user_id.in_([row["id"] for row in rows]))
            ):
                assignments.setdefault(user_id, []).append((role, unit))
        return [
            UserAccount(
                id=row["id"], username=row["username"], display_name=row["display_name"], org_unit=row["org_unit"],
                active=bool(row["active"]), created_at=as_utc(row["created_at"]) or utc_now(),
                locked_until=as_utc(row["locked_until"]), failed_sign_ins=int(row["failed_sign_ins"] or 0),
                lang=row["lang"], assignments=tuple(sorted(assignments.get(row["id"], ()))),
            )
            for row in rows
        ]

    def list_tokens(self, user_id: str | None = None) -> list[ApiToken]:
        """List the API tokens, newest first: all of them, or those of one user."""
        statement = select(self.tokens).order_by(self.tokens.c.id.desc())
        if user_id is not None:
            statement = statement.where(self.tokens.c.user_id == user_id)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [
            ApiToken(row["id"], row["user_id"], row["name"], as_utc(row["created_at"]) or utc_now(),
                     as_utc(row["last_used_at"]), as_utc(row["revoked_at"]))
            for row in rows
        ]

    # Changing ---------------------------------------------------------------

    def set_active(self, admin: Actor, user_id: str, active: bool) -> bool:
        """Activate or deactivate a user and return whether the state changed.

        A deactivated user cannot sign in, and its sessions and API tokens stop working at once.
        Admins may not deactivate their own account, so that they cannot lock themselves out.
        Raises KeyError for an unknown user.
        """
        if not active and user_id == admin.id:
            raise AccountRejected("You cannot deactivate your own account; ask another administrator.",
                                  "不能停用自己的账号；请由其他管理员操作。")
        with self.accounts._write() as connection, connection.begin():
            current = connection.scalar(select(self.users.c.active).where(self.users.c.id == user_id))
            if current is None:
                raise KeyError(user_id)
            if bool(current) == active:
                return False
            values: dict[str, Any] = {"active": active}
            if not active:
                # A later reactivation must not revive the sessions open now.
                values["session_epoch"] = self.users.c.session_epoch + 1
            connection.execute(update(self.users).where(self.users.c.id == user_id).values(**values))
            self.accounts._audit(connection, admin.id, "activate_user" if active else "deactivate_user", admin.address,
                                 {"user": [None, user_id], "active": [bool(current), active]})
        logger.info("user %s %s by %s", user_id, "activated" if active else "deactivated", admin.id)
        return True

    def unlock(self, admin: Actor, user_id: str) -> bool:
        """Clear a user's sign-in lock and failure count, and return whether there was anything to clear.

        Raises KeyError for an unknown user.
        """
        with self.accounts._write() as connection, connection.begin():
            row = connection.execute(
                select(self.users.c.locked_until, self.users.c.failed_sign_ins).where(self.users.c.id == user_id)
            ).first()
            if row is None:
                raise KeyError(user_id)
            locked_until = as_utc(row.locked_until)
            if locked_until is None and not row.failed_sign_ins:
                return False
            connection.execute(update(self.users).where(self.users.c.id == user_id).values(failed_sign_ins=0, locked_until=None))
            self.accounts._audit(connection, admin.id, "unlock_user", admin.address,
                                 {"user": [None, user_id], "locked_until": [locked_until.isoformat() if locked_until else None, None]})
        logger.info("user %s unlocked by %s", user_id, admin.id)
        return True
