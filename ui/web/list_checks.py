"""Checking a list address parameter by parameter, for the list screens and the JSON API alike.

Each filter parameter is parsed and checked on its own, so that one bad filter (an unknown
name, or "abc" as an amount) is reported by name while the others still apply. A bad sort
or page cursor is reported and dropped the same way. The screens show the list without
what was dropped; the API rejects the request and returns every problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from starlette.datastructures import MultiDict

from metamodel import model as m
from runtime.access import Actor
from runtime.record_query import Condition, Group, ListQuery
from runtime.records import RecordService
from ui.web import list_messages
from ui.web.list_messages import ListProblem, Wording
from ui.web.list_params import RESERVED, SYSTEM_FILTERS, parse_list_params

#: Separators accepted between the ids typed into a reference filter.
_ID_SEPARATORS = re.compile(r"[\s,，、;；]+")
#: Field types no list filters on: they are stored outside the row or are structured.
_UNFILTERED_TYPES = frozenset({"child", "multi_reference", "json", "geo_point", "attachment", "attachments"})


@dataclass
class CheckedAddress:
    """A list address as it applies: the query of the parameters that passed, and the problems of the rest."""

    #: Filters, search, sort, page size and cursor that passed; no total is asked for.
    query: ListQuery
    #: Filter parameters that apply, as (name, value) pairs.
    applied: list[tuple[str, str]]
    problems: list[ListProblem]
    #: Every non-empty parameter of the address, for redrawing the panel with what was typed.
    address_params: list[tuple[str, str]]
    wording: Wording


def filter_names(model: m.AppModel, entity: m.Entity) -> list[str]:
    """Return the entity's list filters, plus the state where a flow is bound."""
    names = [name for name in entity.list.filters if "." not in name]
    if model.flows_for(entity.name) and "state" not in names:
        names.append("state")
    return names


def wording_for(records: RecordService, actor: Actor, entity: m.Entity) -> Wording:
    """Return what the messages about the entity's list may name for this actor."""
    model = records.model
    hidden = records.access.fields(actor, entity.name).hidden
    known = [name for name, spec in entity.fields.items() if name not in hidden and spec.type not in _UNFILTERED_TYPES]
    states: dict[str, m.Label] = {}
    for flow in model.flows_for(entity.name):
        for state in flow.states.values():
            states.setdefault(state.name, state.label)
    known += [name for name in SYSTEM_FILTERS if name not in entity.fields and (states or name != "state")]
    units = {name: unit.label for name, unit in model.permissions.org_units.items()}
    offered = tuple(name for name in filter_names(model, entity) if name not in hidden)
    return Wording(entity, offered, tuple(known), hidden, states, units)


def check_list_address(records: RecordService, actor: Actor, entity: m.Entity, params: Any, *,
                       cursor_dropped: bool = True) -> CheckedAddress:
    """Check a list address for an actor who may read the entity; keep what passes and word the rest.

    `cursor_dropped` words a bad page cursor for a screen that shows the first page instead.
    """
    wording = wording_for(records, actor, entity)
    address_params = [(key, str(value).strip()) for key, value in params.multi_items() if str(value).strip() != ""]
    address_params = _split_reference_ids(entity, address_params)
    whole = parse_list_params(entity, MultiDict(address_params), wording)
    problems = list(whole.problems.values())

    by_key: dict[str, list[str]] = {}
    for key, value in address_params:
        if key not in RESERVED and key not in whole.problems:
            by_key.setdefault(key, []).append(value)
    conditions: list[Condition | Group] = []
    applied: list[tuple[str, str]] = []
    for key, values in by_key.items():
        single = parse_list_params(entity, MultiDict([(key, value) for value in values]), wording)
        if single.query.where is None:
            continue
        problem = _value_problem(records, actor, wording, key, values, single.query.where)
        if problem is not None:
            problems.append(problem)
            continue
        conditions.append(single.query.where)
        applied.extend(single.filters.multi_items())

    sort = whole.query.sort
    sort_errors = records.query_problems(actor, entity.name, ListQuery(sort=sort)) if sort else {}
    for path, errors in sort_errors.items():
        problems.append(list_messages.sort_problem(wording, path.removeprefix("sort."), errors[0]))
    if sort_errors:
        sort = ()
    after = whole.query.after
    if after and records.query_problems(actor, entity.name, ListQuery(sort=sort, after=after)):
        problems.append(list_messages.cursor_problem(cursor_dropped))
        after = None

    where: Condition | Group | None = None
    if len(conditions) == 1:
        where = conditions[0]
    elif conditions:
        where = Group("and", tuple(conditions))
    query = ListQuery(where=where, search=whole.query.search, sort=sort, limit=whole.query.limit, after=after)
    return CheckedAddress(query, applied, problems, address_params, wording)


def _value_problem(records: RecordService, actor: Actor, wording: Wording, key: str, values: list[str],
                   where: Condition | Group) -> ListProblem | None:
    """Return what is wrong with one filter's values, or None when the filter applies."""
    name, _, suffix = key.partition(".")
    choices: Mapping[str, m.Label] = {}
    if name == "state":
        choices = wording.states
    elif name == "org_unit":
        choices = wording.units
    if choices and not suffix:
        # The runtime compares states and org units as text, so a misspelt one would match nothing without a word.
        unknown = [value for value in values if value not in choices]
        if unknown:
            return list_messages.choice(wording, key, unknown[0], choices)
    errors = records.query_problems(actor, wording.entity.name, ListQuery(where=where))
    if not errors:
        return None
    first = next(iter(errors.values()))[0]
    value = values[-1]
    spec = wording.entity.fields.get(name)
    if spec is not None and spec.type == "enum":
        # Of several choices ticked, name the one that is wrong; a choice's label is accepted too.
        accepted = {word for item in spec.choices for word in (item.value, item.label.zh_cn, item.label.en)}
        value = next((item for item in values if item not in accepted), value)
    return list_messages.value_problem(wording, key, first, value)


def _split_reference_ids(entity: m.Entity, address_params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Let a reference filter take several ids in one value, such as "3, 5" typed into one box."""
    result: list[tuple[str, str]] = []
    for key, value in address_params:
        spec = entity.fields.get(key)
        if spec is not None and spec.type == "reference":
            result.extend((key, part) for part in _ID_SEPARATORS.split(value) if part)
        else:
            result.append((key, value))
    return result
