"""User accounts: passwords, sign-in with lockout, API tokens and the actor of a signed-in user.

Passwords are stored as argon2id hashes. A wrong password raises the user's failure count;
at the application's `login_lock_after_failures` the account locks for
`login_lock_minutes` (15 by default). Sign-ins, failures and password changes are written
to the audit log. API tokens are random, shown once, and stored as their SHA-256.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
import string
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, insert, select, update

from metamodel import model as m
from runtime.access import Actor
from runtime.audit import AuditLog
from runtime.database import WRITE_OPTION
from runtime.schema import Schema

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "mdk_"
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def as_utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they were written in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment


@dataclass(frozen=True)
class PasswordProblem:
    message_en: str
    message_zh: str

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


class PasswordRejected(ValueError):
    def __init__(self, problem: PasswordProblem) -> None:
        super().__init__(problem.message_en)
        self.problem = problem


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt; `user_id` is set only when it succeeded."""

    user_id: str | None
    #: "ok", "wrong" (the same for a wrong name and a wrong password) or "locked".
    outcome: str
    session_epoch: int = 0


#: Seconds between two writes of a token's last use, so that busy API clients do not write on every request.
TOKEN_USE_RESOLUTION_SECONDS = 60


def password_problem(settings: Any, password: str) -> PasswordProblem | None:
    """Check a new password against the application's length and character-class settings."""
    minimum = int(settings.get("password_min_length", 8))
    classes_needed = int(settings.get("password_min_classes", 1))
    if len(password) < minimum:
        return PasswordProblem(f"The password needs at least {minimum} characters.", f"密码至少需要 {minimum} 个字符。")
    classes = sum(
        any(character in group for character in password)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    ) + any(not character.isalnum() for character in password)
    if classes < classes_needed:
        return PasswordProblem(
            f"The password needs at least {classes_needed} of: lower-case letters, upper-case letters, digits, symbols.",
            f"密码需至少包含小写字母、大写字母、数字、符号中的 {classes_needed} 类。",
        )
    return None


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password, as the accounts store it."""
    return _HASHER.hash(password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, model: m.AppModel, schema: Schema, engine: Engine) -> None:
        self.settings = model.app.settings
        self.default_lang = model.app.default_locale
        self.schema = schema
        self.engine = engine
        self.users = schema.access.users
        self.audit = AuditLog(schema)

    def _write(self) -> Any:
        return self.engine.connect().execution_options(**{WRITE_OPTION: True})

    def _audit(self, connection: Connection, actor: str, action: str, address: str | None, changes: dict[str, Any]) -> None:
        self.audit.append(connection, at=utc_now(), actor=actor, address=address, action=action,
                          entity="account", record_id=None, changes=changes)

    # Passwords --------------------------------------------------------------

    def set_password(self, admin: Actor, user_id: str, password: str) -> None:
        """Set a user's password, ending the sessions signed in with the old one; PasswordRejected if too weak."""
        problem = password_problem(self.settings, password)
        if problem is not None:
            raise PasswordRejected(problem)
        hashed = _HASHER.hash(password)
        with self._write() as connection, connection.begin():
            changed = connection.execute(
                update(self.users).where(self.users.c.id == user_id).values(
                    password_hash=hashed, failed_sign_ins=0, locked_until=None,
                    session_epoch=self.users.c.session_epoch + 1,
                )
            ).rowcount
            if not changed:
                raise KeyError(user_id)
            self._audit(connection, admin.id, "set_password", admin.address, {"user": [None, user_id]})
        logger.info("password of %s set by %s", user_id, admin.id)

    def sign_in(self, username: str, password: str, address: str | None = None) -> SignIn:
        """Check a name and password; count failures, lock after too many, and audit every attempt."""
        now = utc_now()
        with self._write() as connection, connection.begin():
            row = connection.execute(
                select(self.users).where(self.users.c.username == username.strip(), self.users.c.active.is_(True))
            ).mappings().first()
            if row is None or not row["password_hash"]:
                _verify(_DUMMY_HASH, password)
                self._audit(connection, username[:64], "sign_in_failed", address, {"reason": [None, "unknown user"]})
                return SignIn(None, "wrong")
            locked_until = as_utc(row["locked_until"])
            if locked_until is not None and locked_until > now:
                self._audit(connection, row["id"], "sign_in_failed", address, {"reason": [None, "locked"]})
                return SignIn(None, "locked")
            if not _verify(row["password_hash"], password):
                failures = int(row["failed_sign_ins"] or 0) + 1
                limit = int(self.settings.get("login_lock_after_failures", 5))
                values: dict[str, Any] = {"failed_sign_ins": failures}
                if failures >= limit:
                    minutes = int(self.settings.get("login_lock_minutes", 15))
                    values = {"failed_sign_ins": 0, "locked_until": now + datetime.timedelta(minutes=minutes)}
                connection.execute(update(self.users).where(self.users.c.id == row["id"]).values(**values))
                self._audit(connection, row["id"], "sign_in_failed", address, {"failures": [None, failures]})
                return SignIn(None, "locked" if "locked_until" in values else "wrong")
            values = {"failed_sign_ins": 0, "locked_until": None}
            if _HASHER.check_needs_rehash(row["password_hash"]):
                values["password_hash"] = _HASHER.hash(password)
            connection.execute(update(self.users).where(self.users.c.id == row["id"]).values(**values))
            self._audit(connection, row["id"], "sign_in", address, {})
        logger.info("user %s signed in from %s", row["id"], address)
        return SignIn(row["id"], "ok", int(row["session_epoch"] or 0))

    # The acting user --------------------------------------------------------

    def user(self, user_id: str) -> dict[str, Any] | None:
        """Return an active user's row without the password hash, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(self.users).where(self.users.c.id == user_id, self.users.c.active.is_(True))
            ).mappings().first()
        if row is None:
            return None
        user = dict(row)
        user.pop("password_hash", None)
        return user

    def actor(self, user: dict[str, Any], *, address: str | None = None, lang: str | None = None) -> Actor:
        """Build the actor of a user row: its roles from the assignments, its main unit and language."""
        roles_table = self.schema.access.user_roles
        with self.engine.connect() as connection:
            assignments = connection.execute(
                select(roles_table.c.role, roles_table.c.org_unit).where(roles_table.c.user_id == user["id"])
            ).all()
        roles = tuple(sorted({role for role, _ in assignments}))
        units = tuple(sorted({unit for _, unit in assignments if unit != user["org_unit"]}))
        return Actor(
            id=user["id"], name=user["display_name"], roles=roles, org_unit=user["org_unit"], org_units=units,
            address=address, lang=lang or user.get("lang") or self.default_lang,
        )

    def set_language(self, user_id: str, lang: str) -> None:
        with self._write() as connection, connection.begin():
            connection.execute(update(self.users).where(self.users.c.id == user_id).values(lang=lang))

    # API tokens -------------------------------------------------------------

    def create_token(self, admin: Actor, user_id: str, name: str) -> str:
        """Create an API token acting as `user_id` and return it; only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        tokens = self.schema.access.api_tokens
        with self._write() as connection, connection.begin():
            if connection.scalar(select(self.users.c.id).where(self.users.c.id == user_id)) is None:
                raise KeyError(user_id)
            connection.execute(insert(tokens).values(user_id=user_id, name=name, token_hash=token_hash(token), created_at=utc_now()))
            self._audit(connection, admin.id, "create_token", admin.address, {"token": [None, {"user": user_id, "name": name}]})
        return token

    def revoke_token(self, admin: Actor, token_id: int) -> bool:
        """Revoke a token and return True, or False when it was revoked before. Raises KeyError for an unknown id."""
        tokens = self.schema.access.api_tokens
        with self._write() as connection, connection.begin():
            revoked_at = connection.execute(select(tokens.c.revoked_at).where(tokens.c.id == token_id)).first()
            if revoked_at is None:
                raise KeyError(token_id)
            if revoked_at[0] is not None:
                return False
            connection.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at=utc_now()))
            self._audit(connection, admin.id, "revoke_token", admin.address, {"token": [token_id, None]})
        return True

    def user_of_token(self, token: str) -> dict[str, Any] | None:
        """Return the active user a live token acts for, or None, and record when the token was used."""
        tokens = self.schema.access.api_tokens
        with self.engine.connect() as connection:
            row = connection.execute(
                select(tokens.c.id, tokens.c.user_id, tokens.c.last_used_at)
                .where(tokens.c.token_hash == token_hash(token), tokens.c.revoked_at.is_(None))
            ).first()
        if row is None:
            return None
        now = utc_now()
        last_used = as_utc(row.last_used_at)
        if last_used is None or (now - last_used).total_seconds() >= TOKEN_USE_RESOLUTION_SECONDS:
            with self._write() as connection, connection.begin():
                connection.execute(update(tokens).where(tokens.c.id == row.id).values(last_used_at=now))
        return self.user(row.user_id)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
