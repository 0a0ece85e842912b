"""From a list address to the query the runtime runs, and the filter panel that redraws it.

The address syntax is the one of ui/web/list_params.py, checked by ui/web/list_checks.py:
one bad filter (an unknown name, or "abc" as an amount) is reported by its label and left
out while the others still apply. A bad sort or page cursor is reported and dropped the
same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from metamodel import model as m
from runtime.access import Actor
from runtime.record_query import ListQuery
from runtime.records import RecordService
from ui.web import i18n
from ui.web.list_checks import check_list_address, filter_names
from ui.web.list_messages import Wording, filter_label
from ui.web.list_params import DEFAULT_LIMIT, SYSTEM_FILTERS, list_url
from ui.web.lists_columns import SYSTEM_COLUMNS, UNLISTED_TYPES, References, column_for

#: Records counted at most for a list's total; beyond it the list shows "10,000+".
COUNT_LIMIT = 10_000
PAGE_SIZES = (10, 20, 50, 100, 200)
#: Values of a boolean filter the panel shows as "yes" or "no"; the runtime accepts the same words.
_TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on", "是"})
_FALSE_WORDS = frozenset({"false", "0", "no", "n", "off", "否"})


@dataclass(frozen=True)
class Problem:
    #: The parameter at fault, such as "price.min" or "sort".
    key: str
    #: The problem in the user's language, naming the filter.
    message: str


@dataclass
class ListState:
    """A list address as it applies: the query to run, the filters that apply and the problems of the rest."""

    entity: m.Entity
    query: ListQuery
    #: Filter parameters that apply, as (name, value) pairs.
    applied: list[tuple[str, str]]
    problems: list[Problem]
    search: str
    #: The sort the address requests; empty for the entity's default.
    sort: tuple[str, ...]
    limit: int
    #: Every non-empty parameter of the address, for redrawing the panel with what was typed.
    address_params: list[tuple[str, str]] = field(default_factory=list)
    #: Names that messages about this list may use for its user, for problems found after the checks.
    wording: Wording | None = None

    @property
    def effective_sort(self) -> tuple[str, ...]:
        return self.sort or self.entity.list.sort or ("-created_at",)

    @property
    def invalid(self) -> frozenset[str]:
        return frozenset(problem.key for problem in self.problems)

    def url(self, base: str, **extra: Any) -> str:
        """Return this list's address under `base`, with `extra` parameters set (None removes one)."""
        parameters: dict[str, Any] = {
            "q": self.search or None,
            "sort": ",".join(self.sort) or None,
            "limit": self.limit if self.limit != DEFAULT_LIMIT else None,
        }
        parameters.update(extra)
        return list_url(base, self.applied, **parameters)

    def query_string(self, **extra: Any) -> str:
        return self.url("", **extra).lstrip("?")


def read_list(records: RecordService, actor: Actor, entity: m.Entity, params: Any, lang: str) -> ListState:
    """Turn a list address into a ListState; the actor must be allowed to read the entity."""
    checked = check_list_address(records, actor, entity, params)
    query = replace(checked.query, with_total=True, count_limit=COUNT_LIMIT)
    problems = [Problem(problem.key, problem.message(lang)) for problem in checked.problems]
    return ListState(entity, query, checked.applied, problems, query.search or "", query.sort, query.limit,
                     checked.address_params, checked.wording)


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    checked: bool = False


@dataclass(frozen=True)
class FilterControl:
    """One control of the filter panel: its parameter name, kind and what it shows."""

    name: str
    label: str
    #: date_range, number_range, choices, boolean, reference, select or text.
    kind: str
    #: Typed values by parameter suffix ("" for the plain name, "min", "from" ...).
    values: Mapping[str, str] = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    #: The referenced entity of a reference filter.
    target: str | None = None
    invalid: bool = False
    #: How to write the values, where the field's label does not tell.
    hint: str = ""


def filter_controls(records: RecordService, actor: Actor, entity: m.Entity, state: ListState, lang: str) -> list[FilterControl]:
    """Return the filter panel's controls, filled with what the address gave."""
    model = records.model
    hidden = records.access.fields(actor, entity.name).hidden
    typed: dict[str, list[str]] = {}
    for key, value in state.address_params:
        typed.setdefault(key, []).append(value)
    invalid = state.invalid

    controls = []
    for name in filter_names(model, entity):
        spec = entity.fields.get(name)
        if name in hidden or (spec is None and name not in SYSTEM_FILTERS):
            continue
        kind = spec.type if spec is not None else SYSTEM_COLUMNS[name][1]
        if kind in UNLISTED_TYPES or kind in ("attachment", "attachments"):
            continue
        label = filter_label(entity, name, lang)
        bad = any(key == name or key.startswith(name + ".") for key in invalid)
        suffixes = ("from", "to") if kind in ("date", "datetime") else ("min", "max") if kind in m.NUMERIC_TYPES else ("",)
        values = {suffix: (typed.get(f"{name}.{suffix}" if suffix else name) or [""])[-1] for suffix in suffixes}
        chosen = set(typed.get(name, []))
        if kind in ("date", "datetime"):
            controls.append(FilterControl(name, label, "date_range", values, invalid=bad))
        elif kind in m.NUMERIC_TYPES:
            hint = i18n.pick(lang, "A fraction: 0.3 is 30%", "按小数填写：0.3 即 30%") if kind == "percent" else ""
            controls.append(FilterControl(name, label, "number_range", values, invalid=bad, hint=hint))
        elif kind == "enum" and spec is not None:
            options = tuple(Option(choice.value, i18n.label(choice.label, lang), choice.value in chosen) for choice in spec.choices)
            controls.append(FilterControl(name, label, "choices", options=options, invalid=bad))
        elif kind == "state":
            states = _state_labels(model, entity.name)
            options = tuple(Option(value, i18n.label(text, lang), value in chosen) for value, text in states.items())
            controls.append(FilterControl(name, label, "choices", options=options, invalid=bad))
        elif kind == "org_unit":
            units = model.permissions.org_units
            options = tuple(Option(unit, i18n.label(spec_unit.label, lang), unit in chosen) for unit, spec_unit in units.items())
            controls.append(FilterControl(name, label, "select", values, options=options, invalid=bad))
        elif kind == "boolean":
            word = values.get("", "").strip().lower()
            selected = ""
            if word in _TRUE_WORDS:
                selected = "true"
            elif word in _FALSE_WORDS:
                selected = "false"
            controls.append(FilterControl(name, label, "boolean", {"": selected}, invalid=bad))
        elif kind == "reference" and spec is not None:
            options = _chosen_references(records, actor, entity, name, typed.get(name, []))
            controls.append(FilterControl(name, label, "reference", options=options, target=spec.entity, invalid=bad))
        else:
            controls.append(FilterControl(name, label, "text", values, invalid=bad))
    return controls


def _state_labels(model: m.AppModel, entity: str) -> dict[str, m.Label]:
    return {name: state.label for name, state in model.states_for(entity).items()}


def _chosen_references(records: RecordService, actor: Actor, entity: m.Entity, name: str, values: list[str]) -> tuple[Option, ...]:
    """Return the referenced records a reference filter holds, each labelled with its title."""
    ids = [int(value) for value in dict.fromkeys(values) if value.isdigit()]
    column = column_for(records.model, entity, name)
    if column is None or not ids:
        return ()
    references = References(records, actor)
    rows = [{name: record_id} for record_id in ids]
    references.resolve(rows, [column])
    options = []
    for row in rows:
        value, _ = references.value(row, column)
        options.append(Option(str(row[name]), str(value) if value not in (None, "") else f"#{row[name]}", True))
    return tuple(options)
