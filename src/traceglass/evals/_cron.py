"""A small parser for the classic 5-field cron syntax, and the next time it matches.

``minute hour day-of-month month day-of-week``; each field ``*``, a number, a range ``a-b``, a
list ``a,b``, a step ``*/n`` or ``a-b/n``; month and weekday names (``jan``, ``mon``); weekday 0
or 7 is Sunday. As in cron, when both day fields are restricted a day matching either one
matches. Times are wall-clock times of the datetime given (naive: local time). Written here
rather than depending on ``croniter`` for these few dozen lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = {name: n for n, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAYS = {name: n for n, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, lowest, highest, names)
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}), ("month", 1, 12, _MONTHS),
           ("day of week", 0, 7, _DAYS))
_HORIZON_DAYS = 366 * 5  # "0 0 29 2 mon" may wait years; an impossible one ("0 0 31 2 *") never comes


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression: the allowed values of each field."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is *
    any_weekday: bool  # day of week is *

    def matches_day(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7
        if self.any_day or self.any_weekday:
            return moment.day in self.days and weekday in self.weekdays
        return moment.day in self.days or weekday in self.weekdays

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment`` (seconds dropped)."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = candidate + timedelta(days=_HORIZON_DAYS)
        while candidate < limit:
            if candidate.month not in self.months:
                candidate = (candidate.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self.matches_day(candidate):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        raise ValueError(f"cron {self.expression!r} matches no time in the next {_HORIZON_DAYS // 366} years")


def parse_cron(expression: str) -> Cron:
    """Parse ``"0 2 * * *"``; ValueError naming the field at fault."""
    if not isinstance(expression, str):
        raise ValueError(f"a cron expression must be text, got {type(expression).__name__}")
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"a cron expression has 5 fields (minute hour day month weekday), got {expression!r}")
    values = [_field(part, *spec) for part, spec in zip(parts, _FIELDS)]
    weekdays = frozenset(v % 7 for v in values[4])
    return Cron(expression, *map(frozenset, values[:4]), weekdays, parts[2] == "*", parts[4] == "*")


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    found: set[int] = set()
    for piece in text.lower().split(","):
        span, slash, step_text = piece.partition("/")
        step = _number(step_text, name, names={}) if slash else 1
        if step < 1:
            raise ValueError(f"cron {name}: a step must be at least 1, got {piece!r}")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _number(start, name, names), _number(end, name, names)
        else:
            first = _number(span, name, names)
            last = high if slash else first
        if not low <= first <= last <= high:
            raise ValueError(f"cron {name}: {piece!r} is outside {low}-{high} (or a range runs backwards)")
        found.update(range(first, last + 1, step))
    return found


def _number(text: str, name: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"cron {name}: not a number: {text!r}")
    return int(text)


__all__ = ["Cron", "parse_cron"]
