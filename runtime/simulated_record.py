"""A record given as plain values, for simulating a flow without a database.

The values come from a YAML or JSON file: each field of the entity by name, with
`state` and other system columns (`org_unit`, `created_by`, ...) beside them. A
reference is a nested mapping of the referenced record's fields, such as
`customer: {blacklisted: false}`, so that `customer.blacklisted` reads `false`. A
reference given as a key or an id has no fields, so every field read through it is
empty. Values are normalized like input (dates, money and numbers from text), fields
left out take their default, and computed fields are computed unless given.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from metamodel import model as m
from metamodel.decision_tables import show_number
from metamodel.diagnostics import suggest
from metamodel.values import check_value

#: The id of the simulated user. A record without `created_by` counts as created by this user.
SIMULATED_USER = "simulated"

#: Keys a record may give besides its entity's fields: the system columns and the flow's name.
SYSTEM_KEYS: tuple[str, ...] = (*m.SYSTEM_FIELDS, "flow", "flow_version")

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """A problem with the simulation's input; `path` is the place in the record file, None for a command-line argument."""

    en: str
    zh: str
    path: Path | None = None
    #: Whether the problem is with the key at `path` (an unknown field) rather than with its value.
    at_key: bool = False

    def message(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class GivenRecord:
    """A referenced record as expressions read it: the fields the file gives, None for any other."""

    def __init__(self, entity: str, values: Mapping[str, Any], key: Any = None) -> None:
        self._entity = entity
        self._values = dict(values)
        self._key = key

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._values.get(name)

    def __repr__(self) -> str:
        return f"GivenRecord({self._entity!r}, {self._values!r})"

    @property
    def key(self) -> Any:
        """The key or id the reference was given as, or None for a nested mapping."""
        return self._key


@dataclass(frozen=True)
class SimulatedUser:
    """The simulated user as expressions read it: `user.roles`, `user.org_unit` and so on."""

    id: str
    name: str
    roles: list[str]
    org_unit: str | None
    org_units: list[str]


def prepare_record(model: m.AppModel, entity: m.Entity, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Normalize a record's given values for its entity; return them with every problem found."""
    return _prepare(model, entity, raw, ())


def _prepare(model: m.AppModel, entity: m.Entity, raw: Mapping[str, Any], path: Path) -> tuple[dict[str, Any], list[Problem]]:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, given in raw.items():
        name = str(key)
        field = entity.fields.get(name)
        if field is None:
            if name in SYSTEM_KEYS:
                values[name] = given
            else:
                problems.append(_unknown_field(entity, name, path + (name,)))
            continue
        value, found = _field_value(model, field, given, path + (name,))
        values[name] = value
        problems.extend(found)

    for name, field in entity.fields.items():
        if name not in values and field.computed is None and field.default is not None:
            default, wrong = check_value(field, field.default)
            values[name] = None if wrong else default
    _compute(entity, values)
    return values, problems


def _field_value(model: m.AppModel, field: m.Field, given: Any, path: Path) -> tuple[Any, list[Problem]]:
    if given is None:
        return None, []
    target = model.entities.get(field.entity or "") if field.type == "reference" else None
    if target is not None and isinstance(given, Mapping):
        nested, problems = _prepare(model, target, given, path)
        return GivenRecord(target.name, nested), problems
    value, found = check_value(_as_input(field), given)
    problems = [Problem(f"{_where(path)} ({field.label.en}): {problem.message_en}",
                        f"{_where(path)}（{field.label.zh_cn}）：{problem.message_zh}", path + _inner(problem.path))
                for problem in found]
    if target is not None and not found:
        return GivenRecord(target.name, {}, key=value), problems
    return value, problems


def _as_input(field: m.Field) -> m.Field:
    """Return a copy of the field that accepts a given computed value and leaves emptiness to the flow's checks."""
    if field.computed is None and not field.required:
        return field
    return replace(field, computed=None, required=False)


def _inner(child_path: str) -> Path:
    """Turn a value problem's place inside a child table, such as "[0].phone", into path parts."""
    parts: list[str | int] = []
    for piece in child_path.replace("]", "").replace("[", ".").split("."):
        if piece:
            parts.append(int(piece) if piece.isdigit() else piece)
    return tuple(parts)


def _compute(entity: m.Entity, values: dict[str, Any]) -> None:
    """Compute the computed fields the record does not give, in declaration order, as the record service does."""
    for name, field in entity.fields.items():
        if field.computed is None or name in values:
            continue
        names = {other: None for other in entity.fields}
        names.update(values)
        try:
            raw = field.computed.evaluate(names)
        except Exception:  # noqa: BLE001 - an input still missing leaves the value empty, as in the record service
            raw = None
        values[name] = _rounded(field, raw)


def _rounded(field: m.Field, raw: Any) -> Any:
    if field.type not in m.DECIMAL_STORAGE or isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
        return raw
    return Decimal(str(raw)).quantize(Decimal(1).scaleb(-m.decimal_places(field)), rounding=ROUND_HALF_UP)


def _unknown_field(entity: m.Entity, name: str, path: Path) -> Problem:
    close = suggest(name, [*entity.fields, *SYSTEM_KEYS])
    hint_en = f"; did you mean {close!r}?" if close else f"; use one of: {', '.join(entity.fields)}"
    hint_zh = f"；是否应为 {close!r}？" if close else f"；请使用：{', '.join(entity.fields)}"
    return Problem(f"{_where(path)}: {entity.label.en} has no field {name!r}{hint_en}",
                   f"{_where(path)}：{entity.label.zh_cn}没有字段 {name!r}{hint_zh}", path, at_key=True)


def _where(path: Path) -> str:
    return ".".join(str(part) for part in path)


def expression_names(entity: m.Entity, values: Mapping[str, Any], user: SimulatedUser, today: datetime.date) -> dict[str, Any]:
    """Return the names guards, routing inputs and scope filters read, as the record service builds them."""
    names: dict[str, Any] = {name: None for name in entity.fields}
    names.update(values)
    names.update({
        "today": today,
        "now": datetime.datetime.now(datetime.timezone.utc),
        "user": user,
        "state": values.get("state"),
    })
    return names


def read_name(names: Mapping[str, Any], name: str, attributes: tuple[str, ...]) -> Any:
    """Return the value of `name.attr1.attr2` among the names, None where a step has no value."""
    value = names.get(name)
    for attribute in attributes:
        if value is None:
            return None
        value = getattr(value, attribute, None)
    return value


def show_value(value: Any, lang: str) -> str:
    """Write a value the way a guard's author would: true, 150000, 'low', [A, B], or (empty)."""
    if value is None or value == "" or value == [] or value == ():
        return "(empty)" if lang == "en" else "（空）"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return show_number(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, GivenRecord):
        if value.key is not None:
            return f"{value.key!r}"
        return "(a record)" if lang == "en" else "（一条记录）"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(item, lang) for item in value) + "]"
    if isinstance(value, SimulatedUser):
        return value.id
    return str(value)
