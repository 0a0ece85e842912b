"""The list address: filters, search, sort and paging as URL query parameters.

One syntax serves the list screens, the inbox links, report drill-downs and the JSON API,
so a list can be bookmarked, shared and reproduced by an integration:

    q=张三                      search text (every word must match)
    sort=-price,name            fields, "-" for descending; the entity's default when absent
    after=<cursor>              the page after the one that returned this cursor
    limit=50                    rows per page (1 to 200; 20 by default)
    state=submitted&state=review            equal to one of the values
    price.min=1000&price.max=5000  numeric and money ranges, both ends inclusive
    created_at.from=2026-01-01&created_at.to=2026-01-31  date ranges, both days included
    remarks.empty=1             empty (1) or not empty (0)

Any other parameter name that is not a field is reported, as are a suffix the field does
not take, an empty flag other than 1 or 0 and a page size that is no number:
`ListParams.problems` contains them by parameter name, worded by ui/web/list_messages.py.
Values are checked against their fields later, by the runtime.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlencode

from starlette.datastructures import MultiDict

from metamodel import model as m
from runtime.record_query import Condition, Group, ListQuery
from ui.web import list_messages
from ui.web.list_messages import ListProblem, Wording

RESERVED = ("q", "sort", "after", "limit", "saved", "format", "lang")
DEFAULT_LIMIT = 20
MAX_PAGE = 200
_SUFFIXES = ("min", "max", "from", "to", "empty")
#: System columns a list may filter on besides the entity's fields, with the type their values have.
SYSTEM_FILTERS = {"state": "string", "created_at": "datetime", "updated_at": "datetime", "created_by": "string", "org_unit": "string"}


@dataclass
class ListParams:
    query: ListQuery
    #: Problems by parameter name.
    problems: dict[str, ListProblem] = field(default_factory=dict)
    #: The filter parameters that applied, for redrawing the filter panel and building links.
    filters: MultiDict = field(default_factory=MultiDict)


def field_type(entity: m.Entity, name: str) -> str | None:
    spec = entity.fields.get(name)
    if spec is not None:
        return spec.type
    return SYSTEM_FILTERS.get(name)


def parse_list_params(entity: m.Entity, params: Mapping[str, Any] | MultiDict, wording: Wording | None = None) -> ListParams:
    """Turn query parameters into a ListQuery; values are checked later by the runtime against each field.

    `wording` names the user's hidden fields, which are reported like unknown ones, and the
    filters that messages suggest.
    """
    wording = wording or Wording(entity)
    items = list(params.multi_items()) if hasattr(params, "multi_items") else [(key, value) for key, value in params.items()]
    problems: dict[str, ListProblem] = {}
    filters: list[tuple[str, str]] = []
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        if key in RESERVED or value is None:
            continue
        grouped.setdefault(key, []).append(str(value))

    conditions: list[Condition | Group] = []
    for key, values in grouped.items():
        name, _, suffix = key.partition(".")
        kind = field_type(entity, name)
        if kind is None or name in wording.hidden:
            problems[key] = list_messages.unknown_filter(wording, key)
            continue
        if suffix and suffix not in _SUFFIXES:
            problems[key] = list_messages.unknown_suffix(wording, key, kind)
            continue
        values = [value.strip() for value in values if value.strip() != ""]
        if not values:
            continue
        filters.extend((key, value) for value in values)
        condition = _condition(name, suffix, kind, values)
        if condition is None:
            problems[key] = list_messages.empty_flag(wording, key, values[-1])
            continue
        conditions.append(condition)

    sort = tuple(part.strip() for part in str(params.get("sort") or "").split(",") if part.strip())
    limit = DEFAULT_LIMIT
    raw_limit = params.get("limit")
    if raw_limit:
        try:
            limit = max(1, min(int(raw_limit), MAX_PAGE))
        except ValueError:
            problems["limit"] = list_messages.page_size(str(raw_limit), MAX_PAGE)
    where: Condition | Group | None = None
    if len(conditions) == 1:
        where = conditions[0]
    elif conditions:
        where = Group("and", tuple(conditions))
    query = ListQuery(
        where=where,
        search=(str(params.get("q") or "").strip() or None),
        sort=sort,
        limit=limit,
        after=str(params.get("after") or "") or None,
        with_total=True,
    )
    return ListParams(query, problems, MultiDict(filters))


def _condition(name: str, suffix: str, kind: str, values: list[str]) -> Condition | Group | None:
    if suffix == "":
        return Condition(name, "eq", values[0]) if len(values) == 1 else Condition(name, "in", values)
    value = values[-1]
    if suffix == "empty":
        if value not in ("0", "1"):
            return None
        return Condition(name, "empty" if value == "1" else "not_empty")
    if suffix in ("min", "from"):
        return Condition(name, "ge", value)
    if kind == "datetime" and _is_date(value):
        # A day given for a moment's upper end includes that whole day.
        next_day = datetime.date.fromisoformat(value) + datetime.timedelta(days=1)
        return Condition(name, "lt", next_day.isoformat())
    return Condition(name, "le", value)


def _is_date(value: str) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def list_url(base: str, filters: MultiDict | list[tuple[str, str]], **extra: Any) -> str:
    """Build a list address from filters and extra parameters (None leaves a parameter out)."""
    items = list(filters.multi_items()) if isinstance(filters, MultiDict) else list(filters)
    items = [(key, value) for key, value in items if key not in extra]
    items.extend((key, str(value)) for key, value in extra.items() if value not in (None, ""))
    return base + ("?" + urlencode(items) if items else "")
