"""A report's filter form: its address parameters, the conditions they become, and the form's controls.

The parameters follow the list address of ui/web/list_params.py, with the names the report's
`filters` gives, joined fields included: `channel=online`, `amount.min=100`,
`sold_on.from=2026-01-01&sold_on.to=2026-01-31`, `shop.city=上海`, `remarks.empty=1`.
Each parameter is parsed as the list of the entity that declares the field parses it, so a
report filter and a list filter with the same words select the same rows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import MultiDict

from metamodel import model as m
from runtime.access import Actor
from runtime.record_query import Condition, Group, ListQuery
from runtime.records import RecordService
from ui.web import i18n
from ui.web.list_params import SYSTEM_FILTERS, parse_list_params

_SUFFIXES = ("min", "max", "from", "to", "empty")
#: Records a reference filter offers to choose from.
REFERENCE_OPTIONS = 200


@dataclass(frozen=True)
class FilterField:
    """A filter of a report: its name, the entity that declares its last field, and the field's type."""

    name: str
    entity: m.Entity
    field: m.Field | None
    kind: str

    @property
    def last(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass
class ReportFilters:
    """The filter parameters of a report address, the conditions they give, and the problems of the rest."""

    conditions: list[Condition] = field(default_factory=list)
    #: The parameters that gave a condition, as (name, value) pairs, with the report's filter names.
    applied: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def filter_field(model: m.AppModel, report: m.Report, name: str) -> FilterField:
    """Resolve a filter or dimension name of a report along its references."""
    entity = model.entities[report.source_entity]
    parts = name.split(".")
    for part in parts[:-1]:
        reference = entity.fields[part]
        entity = model.entities[str(reference.entity)]
    spec = entity.fields.get(parts[-1])
    kind = spec.type if spec is not None else SYSTEM_FILTERS.get(parts[-1], "string")
    # The flow state and the owning unit are text columns, chosen from their declared names.
    if spec is None and parts[-1] in ("state", "org_unit"):
        kind = parts[-1]
    return FilterField(name, entity, spec, kind)


def _split_key(report: m.Report, key: str) -> tuple[str, str] | None:
    if key in report.filters:
        return key, ""
    name, _, suffix = key.rpartition(".")
    if name in report.filters and suffix in _SUFFIXES:
        return name, suffix
    return None


def read_filters(model: m.AppModel, report: m.Report, params: Any, lang: str) -> ReportFilters:
    """Turn a report address into the conditions of its filters; unknown names and bad flags become problems."""
    result = ReportFilters()
    by_key: dict[str, list[str]] = {}
    for key, value in params.multi_items():
        text = str(value).strip()
        if text and key not in ("format", "lang"):
            by_key.setdefault(key, []).append(text)
    for key, values in by_key.items():
        split = _split_key(report, key)
        if split is None:
            names = i18n.join_list(report.filters, lang)
            result.problems.append(i18n.pick(lang, f"{key} is not a filter of this report; use one of {names}.",
                                             f"{key} 不是本报表的筛选条件；可用：{names}。"))
            continue
        name, suffix = split
        target = filter_field(model, report, name)
        local_key = target.last + (f".{suffix}" if suffix else "")
        parsed = parse_list_params(target.entity, MultiDict([(local_key, value) for value in values]))
        if parsed.problems or parsed.query.where is None:
            message = next(iter(parsed.problems.values()), None)
            result.problems.append(message.message(lang) if message is not None else key)
            continue
        result.conditions.extend(_renamed(parsed.query.where, name))
        result.applied.extend((key, value) for value in values)
    return result


def _renamed(node: Condition | Group, name: str) -> list[Condition]:
    if isinstance(node, Group):
        return [item for part in node.items for item in _renamed(part, name)]
    return [dataclasses.replace(node, field=name)]


@dataclass(frozen=True)
class FilterControl:
    """One control of the filter form."""

    name: str
    label: str
    #: date_range, number_range, choices or text.
    kind: str
    values: dict[str, str]
    options: tuple[tuple[str, str, bool], ...] = ()


def filter_controls(records: RecordService, actor: Actor, report: m.Report, applied: list[tuple[str, str]],
                    lang: str) -> list[FilterControl]:
    """Return the controls of the report's filter form, filled with the values that applied."""
    model = records.model
    typed: dict[str, list[str]] = {}
    for key, value in applied:
        typed.setdefault(key, []).append(value)
    controls = []
    for name in report.filters:
        target = filter_field(model, report, name)
        label = _filter_label(model, report, target, lang)
        if target.kind in ("date", "datetime"):
            controls.append(FilterControl(name, label, "date_range",
                                          {suffix: (typed.get(f"{name}.{suffix}") or [""])[-1] for suffix in ("from", "to")}))
        elif target.kind in m.NUMERIC_TYPES:
            controls.append(FilterControl(name, label, "number_range",
                                          {suffix: (typed.get(f"{name}.{suffix}") or [""])[-1] for suffix in ("min", "max")}))
        elif target.kind in ("enum", "state", "reference", "org_unit", "boolean"):
            chosen = set(typed.get(name, []))
            options = tuple((value, text, value in chosen) for value, text in _options(records, actor, target, lang))
            controls.append(FilterControl(name, label, "choices", {}, options))
        else:
            controls.append(FilterControl(name, label, "text", {"": (typed.get(name) or [""])[-1]}))
    return controls


def _filter_label(model: m.AppModel, report: m.Report, target: FilterField, lang: str) -> str:
    if target.field is not None:
        text = i18n.label(target.field.label, lang)
    else:
        system = {"created_at": ("Created at", "创建时间"), "updated_at": ("Updated at", "更新时间"), "state": ("State", "状态"),
                  "org_unit": ("Org unit", "所属机构"), "created_by": ("Created by", "创建人")}
        text = i18n.pick(lang, *system.get(target.last, (target.last, target.last)))
    if "." in target.name:
        text = f"{i18n.label(target.entity.label, lang)} · {text}"
    return text


def _options(records: RecordService, actor: Actor, target: FilterField, lang: str) -> list[tuple[str, str]]:
    model = records.model
    if target.kind == "boolean":
        return [("true", i18n.pick(lang, "Yes", "是")), ("false", i18n.pick(lang, "No", "否"))]
    if target.kind == "enum" and target.field is not None:
        return [(choice.value, i18n.label(choice.label, lang)) for choice in target.field.choices]
    if target.kind == "state":
        return [(name, i18n.label(state.label, lang)) for name, state in model.states_for(target.entity.name).items()]
    if target.kind == "org_unit":
        return [(name, i18n.label(unit.label, lang)) for name, unit in model.permissions.org_units.items()]
    referenced = model.entities.get(str(target.field.entity)) if target.field is not None else None
    if referenced is None or not records.access.allows(actor, "read", referenced.name):
        return []
    title = referenced.title
    page = records.list(actor, referenced.name, ListQuery(limit=REFERENCE_OPTIONS, fields=(title,) if title else ()))
    return [(str(row["id"]), str(row.get(title) or f"#{row['id']}") if title else f"#{row['id']}") for row in page.rows]
