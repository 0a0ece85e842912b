"""Drill-down: the address of the source entity's list that shows exactly the rows behind a report figure.

The list gets the report's own filter parameters and one more filter per dimension the
figure's group has: the value (`channel=online`), `.empty=1` for the empty group, or the
days of a date bucket (`sold_on.from` and `sold_on.to`). A list cannot filter by a joined
field, so a joined dimension or filter (`shop.city`) becomes the ids of the referenced
records that the group's rows point to (`shop=3&shop=5`), which select the same rows.

A group has no address when the list cannot select its rows: a masked value, or a joined
group whose rows both point to records and point to none.

NOTE: a joined group lists every referenced id in the address, so a group that spans
thousands of referenced records gives an address too long for some browsers and servers.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from metamodel import model as m
from runtime.report_results import ReportGroup
from runtime.report_sql import bucket_days
from runtime.reports import ReportResult
from ui.web.list_params import SYSTEM_FILTERS, list_url
from ui.web.navigation import entity_url

_LOWER_BOUNDS = ("from", "min")


def drill_url(result: ReportResult, group: ReportGroup, applied: list[tuple[str, str]]) -> str | None:
    """Return the list address of the rows behind a group, or None when the list cannot select exactly them."""
    if group.masked:
        return None
    report = result.report
    params = [(key, value) for key, value in applied if "." not in _filter_name(report, key)]
    hops = {item.split(".", 1)[0] for item in _dotted_filters(report, applied)}
    for index in group.grouped:
        reached = result.dimensions[index]
        if reached.first_hop is not None:
            hops.add(reached.first_hop)
            continue
        dimension = report.dimensions[index]
        pairs = _dimension_params(reached.name, reached.type, dimension.bucket, group.keys[index])
        if pairs is None:
            return None
        params = _merged(params, pairs)
    for hop in sorted(hops):
        ids, has_empty = group.references.get(hop, ((), False))
        if ids and has_empty:
            return None
        if not ids:
            params.append((f"{hop}.empty", "1"))
        params.extend((hop, str(record_id)) for record_id in ids)
    return list_url(entity_url(report.source_entity), params)


def _filter_name(report: m.Report, key: str) -> str:
    if key in report.filters:
        return key
    return key.rpartition(".")[0]


def _dotted_filters(report: m.Report, applied: list[tuple[str, str]]) -> set[str]:
    return {name for name in (_filter_name(report, key) for key, _ in applied) if "." in name}


def _dimension_params(name: str, kind: str, bucket: str | None, key: Any) -> list[tuple[str, str]] | None:
    """Return the list filters of one dimension's value; None for a system column no list filters on."""
    field_name = name
    if field_name in m.SYSTEM_FIELDS and field_name not in SYSTEM_FILTERS:
        return None
    if key is None:
        return [(f"{field_name}.empty", "1")]
    if bucket is not None:
        first, last = bucket_days(bucket, str(key))
        return [(f"{field_name}.from", first.isoformat()), (f"{field_name}.to", last.isoformat())]
    return [(field_name, _text(key))]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _merged(params: list[tuple[str, str]], added: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Add filters, keeping the narrower bound where the report's filters already bound the same field.

    ISO days and moments order as text, so the later lower bound and the earlier upper bound win.
    """
    result = list(params)
    for key, value in added:
        existing = next((index for index, (name, _) in enumerate(result) if name == key), None)
        if existing is None or key.endswith(".empty") or "." not in key:
            result.append((key, value))
            continue
        bound = result[existing][1]
        lower = key.rsplit(".", 1)[1] in _LOWER_BOUNDS
        result[existing] = (key, max(bound, value) if lower else min(bound, value))
    return result
