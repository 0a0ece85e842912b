"""Python functions that YAML names: registered by name, looked up when a flow or entity runs them.

A hook is registered with the `hook` decorator, by a module in the application's `hooks/`
folder (runtime/hook_loading.py imports them), or by an installed package through the
entry-point group `metadesk.hooks` (each entry point names a module whose import
registers its hooks). A hook gets a `HookContext` and returns either None or a mapping of
field values to write together with the operation that ran it.

`context.records` is the record service under the acting user, inside the operation's
transaction: what a hook reads and writes through it is checked, audited, and committed or
rolled back with the operation. A hook that raises stops the operation, and nothing of it
is written. A hook raises `HookError` with a message for the user; any other exception is
logged with the record id and shown to the user as a failure of the hook.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Callable, Mapping

from runtime.access import Actor

if TYPE_CHECKING:
    from runtime.hook_organization import HookOrganization
    from runtime.hook_records import HookRecords
    from runtime.providers import Providers

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "metadesk.hooks"

#: A hook: most return None or field values to write; a field's `computed_by` hook returns the field's value.
HookFunction = Callable[["HookContext"], Any]


@dataclass(frozen=True)
class HookContext:
    """The input of a hook: the acting user, a copy of the record, and the event that runs it."""

    actor: Actor
    entity: str
    record: Mapping[str, Any]
    #: The event: a transition's name, "leave:<state>" or "enter:<state>", an entity event such as "before_save",
    #: "action:<name>", "schedule", or "hook" for a hook run on its own (RecordService.run_hook).
    event: str
    comment: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The record service under the acting user, inside the operation's transaction.
    records: HookRecords | None = None
    #: The application's third-party providers by integration name, such as `context.providers["sms"]`.
    providers: Providers | None = None
    #: Org units, accounts and role assignments under the acting user, inside the operation's transaction
    #: (runtime/hook_organization.py); None where the runtime has no permission store.
    organization: HookOrganization | None = None


class HookError(Exception):
    """Raised by a hook to stop the operation with a message for the user, in English and Chinese.

    `field` names the field the message belongs to; without one it concerns the whole record.
    """

    #: Whether the message is for an administrator, such as a missing setting. Users then read
    #: that they should ask one, and the message goes to the log.
    for_administrator = False

    def __init__(self, en: str, zh: str, *, field: str | None = None) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh
        self.field = field


class HookNotRegistered(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        listed = ", ".join(known[:20]) or "none"
        super().__init__(f"no hook named {name!r} is registered (registered: {listed})")


class HookRegistry:
    def __init__(self) -> None:
        self._hooks: dict[str, HookFunction] = {}
        self._entry_points_loaded = False

    def register(self, name: str, function: HookFunction) -> None:
        if name in self._hooks and self._hooks[name] is not function:
            existing = self._hooks[name]
            where = inspect.getsourcefile(existing) or existing.__module__
            raise ValueError(f"a hook named {name!r} is already registered by {existing.__name__} in {where}; give one of them another name")
        self._hooks[name] = function

    def get(self, name: str) -> HookFunction:
        self._load_entry_points()
        try:
            return self._hooks[name]
        except KeyError:
            raise HookNotRegistered(name, sorted(self._hooks)) from None

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._hooks)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            logger.info("loading hooks from %s", entry_point.value)
            entry_point.load()


#: The registry the runtime looks hooks up in.
registry = HookRegistry()


def hook(name: str) -> Callable[[HookFunction], HookFunction]:
    """Register the decorated function as the hook `name`."""

    def register(function: HookFunction) -> HookFunction:
        registry.register(name, function)
        return function

    return register
