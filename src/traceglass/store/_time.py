"""Times the query API and the CLI accept: datetimes, epoch seconds, ISO text and ``"1h"``-style ages."""

from __future__ import annotations

import math
import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Union

from traceglass._units import DURATION_UNITS

TimeLike = Union[datetime, date, timedelta, int, float, str]
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_EPOCH = re.compile(r"\s*[+-]?\d+(?:\.\d+)?\s*")
# Stored times are SQLite integers (signed 64-bit ns: the years 1677 to 2262); a bound outside
# them cannot be compared and is a mistake (milliseconds given for seconds, a typo).
NS_MIN, NS_MAX = -(2**63), 2**63 - 1


def to_ns(value: TimeLike | None, *, now: float | None = None) -> int | None:
    """Unix time in ns. Numbers, and strings that are bare numbers, are epoch seconds; a timedelta
    or an age string with a unit (``"90s"``, ``"1h"``, ``"7d"``) means that long before now; naive
    datetimes are local time; other strings are ISO 8601. Raises ``ValueError`` for anything else
    and for a time outside the years 1677-2262 that the store can hold."""
    if value is None:
        return None
    current = time.time() if now is None else now
    try:
        seconds = _seconds(value, current)
    except (OverflowError, OSError):  # a datetime/date far outside the platform's range
        raise ValueError(f"time out of range: {value!r}") from None
    except ValueError as exc:
        if str(exc).startswith("not a time"):
            raise
        # e.g. "year 0 is out of range" from the local time of 0001-01-01
        raise ValueError(f"time out of range: {value!r}") from None
    if not math.isfinite(seconds) or not NS_MIN <= seconds * 1e9 <= NS_MAX:
        raise ValueError(f"time out of range: {value!r} (epoch seconds must be within the years 1677-2262)")
    return int(seconds * 1e9)


def _seconds(value: TimeLike, current: float) -> float:
    if isinstance(value, timedelta):
        return current - value.total_seconds()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        if _EPOCH.fullmatch(value):
            return float(value)
        age = _AGE.fullmatch(value)
        if age:
            return current - float(age.group(1)) * DURATION_UNITS[age.group(2)]
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a time: {value!r} (use epoch seconds, an ISO date/time or an age such as "
                             "1h, 7d)") from None
        return _seconds(parsed, current)
    raise ValueError(f"not a time: {value!r}")


def from_ns(ns: int | None) -> datetime | None:
    """A timezone-aware UTC datetime from Unix ns (None for None or a value no datetime can hold)."""
    if ns is None:
        return None
    try:
        return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        return None
