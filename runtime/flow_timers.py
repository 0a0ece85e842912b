"""SLA due times of flow steps, in hours or in China's working days.

When a record enters a state, every transition out of that state with an `sla` gets a due
time: `hours` after the entry, or the same time of day `working_days` working days later.
Working days follow China's official holidays and make-up working days (the
chinese-calendar package). The due times are kept in the step row (`md_flow_step.due`),
so a restart loses none; runtime/flow_sweep.py acts on them.
"""

from __future__ import annotations

import datetime
import functools
import logging
from typing import Any

import chinese_calendar

from metamodel import model as m

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def _warn_no_calendar(year: int) -> None:
    logger.warning("chinese-calendar has no holidays for %s; counting Monday to Friday as working days", year)


def is_working_day(day: datetime.date) -> bool:
    """Tell whether a day is a working day in mainland China, Monday to Friday where the calendar has no data yet."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # NOTE: holidays are published a year at a time; until the package has the year, make-up days and holidays are missed.
        _warn_no_calendar(day.year)
        return day.weekday() < 5


def add_working_days(start: datetime.datetime, days: int, zone: datetime.tzinfo) -> datetime.datetime:
    """Return the same local time of day on the `days`-th working day after `start`'s day."""
    local = start.astimezone(zone)
    day = local.date()
    counted = 0
    while counted < days:
        day += datetime.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    moment = datetime.datetime.combine(day, local.timetz().replace(tzinfo=None)).replace(tzinfo=zone)
    return moment.astimezone(datetime.timezone.utc)


def due_times(flow: m.Flow, state: str, entered_at: datetime.datetime, zone: datetime.tzinfo) -> dict[str, dict[str, Any]] | None:
    """Return the timers of a step in `state`: per transition with an SLA, its due and reminder times."""
    timers: dict[str, dict[str, Any]] = {}
    for transition in flow.transitions.values():
        sla = transition.sla
        if sla is None or state not in transition.sources:
            continue
        if sla.hours is not None:
            due = entered_at + datetime.timedelta(seconds=float(sla.hours * 3600))
        elif sla.working_days is not None:
            due = add_working_days(entered_at, sla.working_days, zone)
        else:
            continue
        remind = due - datetime.timedelta(seconds=float(sla.remind_before_hours * 3600)) if sla.remind_before_hours else None
        timers[transition.name] = {"due_at": _text(due), "remind_at": _text(remind) if remind else None,
                                   "reminded": False, "escalated": False, "expired": False}
    return timers or None


def _text(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).isoformat()


def _moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)
