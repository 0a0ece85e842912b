"""Demo users: one per role of the application, each in an org unit where the role's data scope shows demo records.

A role that signs an approval level with a quorum gets as many users as the largest quorum
(demo_<role>, demo_<role>_2, ...), all in the role's unit, so that the demo can complete the step.

A role's unit comes from seed.yaml's `users` when it names one. Otherwise it follows the
widest data scope of the role's grants (its inherited roles' included) on the entities
that get demo records:

- "all" places the user in the root unit;
- "unit_and_below" places it in the unit just above an owner unit of the demo records
  (the owner itself when its parent is the root), so the records lie below it;
- "unit", "own" and filters place it in an owner unit, so its own unit's records are in scope.

Units of one kind are handed out in turn, so two roles of the same kind sit in different units.

Passwords are derived from the signing secret (METADESK_SECRET_KEY or the data folder's
secret_key) with HMAC-SHA256. Anyone with that secret can already sign sessions as
any user, so a derived password exposes nothing more, and a second run finds the same
passwords without keeping them in a file.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import zlib
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from faker import Faker
from sqlalchemy import select

from metamodel import model as m
from runtime.access import Actor
from runtime.accounts import PasswordRejected, password_problem
from runtime.app import Runtime
from runtime.permission_admin import PermissionAdmin

logger = logging.getLogger(__name__)

#: Prefix of every demo user's id and login name.
USER_PREFIX = "demo_"

#: The actor that creates demo users and records, named in the audit log.
SEED_ACTOR = Actor(id="seed", name="metadesk seed", roles=("system",))

#: Data scopes from the narrowest to the widest.
_SCOPE_ORDER = ("own", "filter", "unit", "unit_and_below", "all")

_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_DIGITS = "23456789"


@dataclass(frozen=True)
class DemoUser:
    id: str
    username: str
    display_name: str
    role: str
    unit: str
    #: The derived password, or None when the stored one differs (an admin changed it).
    password: str | None
    created: bool


def owner_units(model: m.AppModel, entity: str | None = None) -> tuple[str, ...]:
    """Return the org units that own demo records: the hints' units, else every leaf unit below the root."""
    seed = model.seed
    if seed is not None and entity is not None and entity in seed.entities and seed.entities[entity].owners:
        return seed.entities[entity].owners
    if seed is not None and seed.owners:
        return seed.owners
    units = model.permissions.org_units
    parents = {unit.parent for unit in units.values()}
    leaves = tuple(name for name, unit in units.items() if name not in parents and unit.parent is not None)
    return leaves or tuple(units)


def place_roles(model: m.AppModel, seeded_entities: tuple[str, ...]) -> dict[str, str]:
    """Return the org unit of each role's demo user, in the order the roles are declared."""
    units = model.permissions.org_units
    if not units:
        return {}
    root = next(name for name, unit in units.items() if unit.parent is None)
    owners = owner_units(model)
    above: list[str] = []
    for owner in owners:
        parent = units[owner].parent if owner in units else None
        candidate = owner if parent in (None, root) else parent
        if candidate is not None and candidate not in above:
            above.append(candidate)
    pools = {"all": [root], "unit_and_below": above or [root], "unit": list(owners) or [root]}
    turns = {name: 0 for name in pools}
    hinted = model.seed.users if model.seed is not None else {}

    placed: dict[str, str] = {}
    for role in model.permissions.roles:
        if role in hinted:
            placed[role] = hinted[role]
            continue
        scope = widest_scope(model, role, seeded_entities)
        if scope in (None, "all"):
            pool = "all"
        elif scope == "unit_and_below":
            pool = "unit_and_below"
        else:
            pool = "unit"
        placed[role] = pools[pool][turns[pool] % len(pools[pool])]
        turns[pool] += 1
    return placed


def seats(model: m.AppModel, role: str) -> int:
    """Return how many demo users a role gets: as many as the largest quorum of an approval level it signs, at least one.

    A countersign of two committee members needs two people; the submitter, who may not
    sign, is another role's user.
    """
    needed = 1
    for flow in model.flows.values():
        for transition in flow.transitions.values():
            if transition.approval is None:
                continue
            for level in transition.approval.steps():
                if role in level.roles and level.quorum is not None:
                    needed = max(needed, level.quorum)
    return needed


def user_of(role: str, seat: int) -> str:
    """Return the id of a role's demo user: demo_<role>, then demo_<role>_2 and so on."""
    return USER_PREFIX + role + ("" if seat == 1 else f"_{seat}")


def widest_scope(model: m.AppModel, role: str, entities: tuple[str, ...]) -> str | None:
    """Return the widest data scope the role (with the roles it inherits) holds on the entities, or on any when none."""
    roles = _with_inherited(model, role)
    grants = [grant for grant in model.permissions.grants if grant.role in roles]
    relevant = [grant for grant in grants if grant.entity in entities] or grants
    scopes = [grant.scope for grant in relevant if grant.scope in _SCOPE_ORDER]
    return max(scopes, key=_SCOPE_ORDER.index) if scopes else None


def _with_inherited(model: m.AppModel, role: str) -> set[str]:
    found = {role}
    pending = [role]
    while pending:
        declared = model.permissions.roles.get(pending.pop())
        for parent in declared.inherits if declared else ():
            if parent not in found:
                found.add(parent)
                pending.append(parent)
    return found


def demo_password(secret: str, user_id: str, settings: Any) -> str:
    """Derive a user's demo password from the secret: groups such as Kmp4-Rta7-Wqe9 that pass the password policy."""
    minimum = int(settings.get("password_min_length", 8))
    groups = max(3, -(-(minimum + 1) // 5))
    stream = b""
    counter = 0
    while len(stream) < groups * 4:
        message = f"metadesk demo password {counter} {user_id}".encode()
        stream += hmac.new(secret.encode(), message, hashlib.sha256).digest()
        counter += 1
    parts = []
    for index in range(groups):
        a, b, c, d = stream[index * 4:index * 4 + 4]
        parts.append(_UPPER[a % len(_UPPER)] + _LOWER[b % len(_LOWER)] + _LOWER[c % len(_LOWER)] + _DIGITS[d % len(_DIGITS)])
    password = "-".join(parts)
    problem = password_problem(settings, password)
    if problem is not None:
        raise PasswordRejected(problem)
    return password


def display_name(role: str) -> str:
    """Return a Chinese person's name for the role's demo user, the same on every run."""
    faker = Faker("zh_CN")
    faker.seed_instance(zlib.crc32(role.encode()))
    return str(faker.name())


def seed_users(runtime: Runtime, secret: str, seeded_entities: tuple[str, ...], *, reset_passwords: bool = False) -> list[DemoUser]:
    """Create the demo user of every role that has none yet; return every demo user with its password.

    An existing demo user is left as it is: its unit and roles stay, and its password is
    reported only while it still is the derived one, unless reset_passwords sets it again.
    """
    store = runtime.permissions()
    admin = PermissionAdmin(store)
    accounts = runtime.accounts()
    users_table = runtime.schema.access.users
    settings = runtime.model.app.settings
    placed = place_roles(runtime.model, seeded_entities)
    people = [(role, unit, user_of(role, seat)) for role, unit in placed.items() for seat in range(1, seats(runtime.model, role) + 1)]
    passwords = {user_id: demo_password(secret, user_id, settings) for _, _, user_id in people}
    with runtime.engine.connect() as connection:
        ids = [user_id for _, _, user_id in people]
        existing = {row["id"]: row for row in connection.execute(select(users_table).where(users_table.c.id.in_(ids))).mappings()}

    result: list[DemoUser] = []
    for role, unit, user_id in people:
        password = passwords[user_id]
        row = existing.get(user_id)
        if row is None:
            name = display_name(user_id.removeprefix(USER_PREFIX))
            admin.add_user(SEED_ACTOR, user_id, user_id, name, unit)
            admin.assign(SEED_ACTOR, user_id, role, unit)
            accounts.set_password(SEED_ACTOR, user_id, password)
            logger.info("demo user %s created in %s", user_id, unit)
            result.append(DemoUser(user_id, user_id, name, role, unit, password, True))
            continue
        valid = _still_derived(row, password)
        if not valid and reset_passwords:
            accounts.set_password(SEED_ACTOR, user_id, password)
            valid = True
        result.append(DemoUser(user_id, row["username"], row["display_name"], role, row["org_unit"] or unit,
                               password if valid else None, False))
    return result


def _still_derived(row: Any, password: str) -> bool:
    """Tell whether a demo user's password is still the derived one.

    Setting a password moves the user's session epoch on, and the seeder sets it once on a
    new user, so an epoch of 1 means no other password was set since. Any other epoch costs
    an argon2 check (about half a second on a 2-core machine under load, an estimate).
    """
    if int(row["session_epoch"] or 0) == 1 and row["password_hash"]:
        return True
    return _verifies(row["password_hash"], password)


def _verifies(hashed: str | None, password: str) -> bool:
    if not hashed:
        return False
    try:
        return PasswordHasher().verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def unit_rng(seed: str) -> random.Random:
    """Return a random generator seeded from a text, the same on every run and in every process."""
    return random.Random(zlib.crc32(seed.encode()))
