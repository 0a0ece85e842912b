"""Five-field cron expressions of YAML schedules: Huey crontab tests in the app's time zone, next runs and words.

The fields are minute, hour, day of month, month and day of week. Each is `*`, a number,
a range `a-b`, a step `*/n` or `a-b/n`, or a list of these joined by commas. Day of week
counts from 0 = Sunday to 6 = Saturday; 7 is Sunday as well. `metadesk check` has already
refused anything else (metamodel.build_declarations.cron_problem).

Two rules differ between cron and Huey's `crontab`, and cron's win here:

- When both the day of month and the day of week are restricted (neither field starts
  with `*`), cron runs on a day that matches either; Huey requires both. So the two are
  tested as two crontabs joined by "or".
- Cron reads the times in the machine's zone; a metadesk application names its own
  (`timezone` in app.yaml). Huey with `utc=True` passes naive UTC times to a periodic
  task's test, which converts them to that zone before matching.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Callable

from huey import crontab

DateTest = Callable[[datetime.datetime], bool]

#: Name of each field as Huey's crontab takes it, with its lowest and highest value.
_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("day_of_week", 0, 6),
)

_WEEKDAYS_EN = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEKDAYS_ZH = ("周日", "周一", "周二", "周三", "周四", "周五", "周六")

#: How far `next_after` looks: a run on 29 February may be eight years away (2096, then 2104).
_LOOKAHEAD_DAYS = 8 * 366


class CronError(ValueError):
    """A cron expression that is not five valid fields; the message names the field and the value."""


def _values(text: str, name: str, low: int, high: int) -> frozenset[int]:
    """Return the values one field matches, as Huey's crontab reads it."""
    top = 7 if name == "day_of_week" else high
    found: set[int] = set()
    for piece in text.split(","):
        base, _, step_text = piece.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise CronError(f"the {name} field has the step {piece!r}; write */n or a-b/n with n at least 1")
        if base == "*":
            if step is not None and name == "day_of_week":
                raise CronError(f"the {name} field cannot take a step such as {piece!r}; list the days instead")
            start, end = low, high
        elif base.isdigit() and not step_text:
            start = end = int(base)
        elif "-" in base and all(part.isdigit() for part in base.split("-", 1)):
            start, end = (int(part) for part in base.split("-", 1))
        else:
            raise CronError(f"the {name} field must be * or numbers from {low} to {high}, not {text!r}")
        if not (low <= start <= top and low <= end <= top) or start > end:
            raise CronError(f"the {name} field must be * or numbers from {low} to {high}, not {text!r}")
        found.update(value % 7 if name == "day_of_week" else value for value in range(start, end + 1, step or 1))
    return frozenset(found)


@dataclass(frozen=True)
class Cron:
    """A parsed five-field cron expression, with the set of values each field matches."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    #: 0 = Sunday ... 6 = Saturday.
    weekdays: frozenset[int]
    #: Whether day of month and day of week are both restricted, so that either one selects a day.
    either_day: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 5:
            raise CronError(f"the cron expression {text!r} has {len(fields)} field(s) instead of 5")
        minutes, hours, days, months, weekdays = (_values(value, name, low, high) for value, (name, low, high) in zip(fields, _FIELDS))
        either_day = not fields[2].startswith("*") and not fields[4].startswith("*")
        return cls(" ".join(fields), minutes, hours, days, months, weekdays, either_day)

    @property
    def fields(self) -> list[str]:
        return self.text.split()

    # Matching ------------------------------------------------------------------------------

    def matches(self, local: datetime.datetime) -> bool:
        """Tell whether the minute of `local` (a wall-clock time in the app's zone) is one to run at."""
        if local.minute not in self.minutes or local.hour not in self.hours or local.month not in self.months:
            return False
        return self._day_matches(local.date())

    def _day_matches(self, day: datetime.date) -> bool:
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        return (in_month or in_week) if self.either_day else (in_month and in_week)

    def huey_test(self) -> DateTest:
        """Return Huey crontab tests of a wall-clock time, joined by "or" where cron's day rule needs it."""
        minute, hour, day, month, weekday = self.fields
        if not self.either_day:
            return crontab(minute, hour, day, month, weekday, strict=True)  # type: ignore[no-any-return]
        by_month_day = crontab(minute, hour, day, month, "*", strict=True)
        by_weekday = crontab(minute, hour, "*", month, weekday, strict=True)
        return lambda moment: bool(by_month_day(moment) or by_weekday(moment))

    def validator(self, zone: datetime.tzinfo, *, utc: bool = True) -> DateTest:
        """Return the `validate_datetime` of a Huey periodic task: Huey's time, read in `zone`, tested by crontab.

        Huey passes naive times, in UTC when the queue has `utc=True`, else in the machine's zone.
        """
        test = self.huey_test()

        def validate(moment: datetime.datetime) -> bool:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc) if utc else moment.astimezone()
            return test(moment.astimezone(zone))

        return validate

    # Runs ------------------------------------------------------------------------------------

    def next_after(self, moment: datetime.datetime, zone: datetime.tzinfo) -> datetime.datetime | None:
        """Return the first minute after `moment` to run at, in `zone`; None if none comes within eight years."""
        local = moment.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None) + datetime.timedelta(minutes=1)
        minutes = sorted(self.minutes)
        hours = sorted(self.hours)
        for offset in range(_LOOKAHEAD_DAYS):
            day = local.date() + datetime.timedelta(days=offset)
            if day.month not in self.months or not self._day_matches(day):
                continue
            for hour in hours:
                for minute in minutes:
                    candidate = datetime.datetime.combine(day, datetime.time(hour, minute))
                    if candidate >= local:
                        return candidate.replace(tzinfo=zone)
        return None

    def last_at_or_before(self, moment: datetime.datetime, zone: datetime.tzinfo,
                          within: datetime.timedelta = datetime.timedelta(days=1)) -> datetime.datetime | None:
        """Return the latest minute at or before `moment` to run at, looking back no further than `within`."""
        local = moment.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
        for back in range(int(within.total_seconds() // 60) + 1):
            candidate = local - datetime.timedelta(minutes=back)
            if self.matches(candidate):
                return candidate.replace(tzinfo=zone)
        return None

    # Words -------------------------------------------------------------------------------------

    def describe(self, lang: str) -> str | None:
        """Say the common shapes in words ("every day at 02:00"); None for the others, which are shown as written."""
        minute, hour, day, month, weekday = self.fields
        english = lang == "en"
        if self.text == "* * * * *":
            return "every minute" if english else "每分钟"
        if minute.startswith("*/") and (hour, day, month, weekday) == ("*", "*", "*", "*"):
            step = minute[2:]
            return f"every {step} minutes" if english else f"每 {step} 分钟"
        if not (minute.isdigit() and month == "*"):
            return None
        if (hour, day, weekday) == ("*", "*", "*"):
            return f"every hour at minute {int(minute)}" if english else f"每小时第 {int(minute)} 分钟"
        if not hour.isdigit():
            return None
        at = f"{int(hour):02d}:{int(minute):02d}"
        if (day, weekday) == ("*", "*"):
            return f"every day at {at}" if english else f"每天 {at}"
        if day == "*":
            days = sorted(self.weekdays, key=lambda value: (value == 0, value))
            if english:
                return f"every {', '.join(_WEEKDAYS_EN[value] for value in days)} at {at}"
            return f"每{'、'.join(_WEEKDAYS_ZH[value] for value in days)} {at}"
        if weekday == "*" and day.isdigit():
            return f"on day {int(day)} of every month at {at}" if english else f"每月 {int(day)} 日 {at}"
        return None
