"""The acting user and the permission interface every record operation goes through.

On every call the record service gets three things from an `Access`: whether the actor
may perform the action on the entity, the data-scope predicate to put inside the SQL,
and which fields the actor may not see, may see only masked, or may not write. The permissions
runtime implements it from the application's policies; `SystemAccess` grants
everything and is meant for the system's own work (migrations, catalog sync, jobs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import ColumnElement, Table


@dataclass(frozen=True)
class Actor:
    """The user, job or integration on whose behalf an operation runs."""

    id: str
    name: str = ""
    roles: tuple[str, ...] = ()
    org_unit: str | None = None
    #: Org units the actor belongs to besides the main one.
    org_units: tuple[str, ...] = ()
    #: Network address the request came from, for the audit log.
    address: str | None = None
    lang: str = "zh-CN"


SYSTEM_ACTOR = Actor(id="system", name="system", roles=("system",))


@dataclass(frozen=True)
class FieldAccess:
    """The field rules of one actor for one entity."""

    hidden: frozenset[str] = field(default_factory=frozenset)
    #: Fields shown masked even where the entity does not mask them.
    masked: frozenset[str] = field(default_factory=frozenset)
    #: Fields the entity masks that this actor may read in clear.
    unmasked: frozenset[str] = field(default_factory=frozenset)
    #: Whether every masked field is shown in clear, as for the system's own work.
    reveal_masked: bool = False
    read_only: frozenset[str] = field(default_factory=frozenset)
    #: Whether fields the entity declares read-only may be written, as by the system's own work.
    writes_read_only: bool = False


class Access(Protocol):
    def allows(self, actor: Actor, action: str, entity: str) -> bool:
        """Tell whether the actor may perform `action` (read, create, ..., or a transition) on the entity."""

    def scope(self, actor: Actor, entity: str, table: Table, action: str = "read") -> ColumnElement[bool] | None:
        """Return the SQL predicate limiting the rows the actor may reach for an action, or None for every row."""

    def scope_through(self, actor: Actor, entity: str, table: Table, action: str, roles: frozenset[str]) -> ColumnElement[bool] | None:
        """Return the predicate of the rows the actor reaches for an action through the given roles only."""

    def owning_unit(self, actor: Actor, entity: str) -> str | None:
        """Return the org unit that owns a record the actor creates."""

    def fields(self, actor: Actor, entity: str) -> FieldAccess:
        """Return the actor's field rules for the entity."""


class SystemAccess:
    """Grants every action on every row and field; for the system's own work only."""

    def allows(self, actor: Actor, action: str, entity: str) -> bool:
        return True

    def scope(self, actor: Actor, entity: str, table: Table, action: str = "read") -> ColumnElement[bool] | None:
        return None

    def scope_through(self, actor: Actor, entity: str, table: Table, action: str, roles: frozenset[str]) -> ColumnElement[bool] | None:
        return None

    def owning_unit(self, actor: Actor, entity: str) -> str | None:
        return actor.org_unit

    def fields(self, actor: Actor, entity: str) -> FieldAccess:
        return FieldAccess(reveal_masked=True, writes_read_only=True)
