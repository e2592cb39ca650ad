"""Times the query API and the CLI accept: datetimes, epoch seconds, ISO text and ``"1h"``-style ages."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone
from typing import Union

TimeLike = Union[datetime, date, timedelta, int, float, str]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds from ``"90s"``, ``"15m"``, ``"2h"``, ``"7d"``, ``"1w"`` or a bare number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 7d, 1w)")
    seconds = float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    return seconds


def to_ns(value: TimeLike | None, *, now: float | None = None) -> int | None:
    """Unix time in ns. A timedelta or an age string (``"1h"``) means that long before now;
    numbers are epoch seconds; naive datetimes are local time; strings may be ISO 8601."""
    if value is None:
        return None
    current = time.time() if now is None else now
    if isinstance(value, timedelta):
        return int((current - value.total_seconds()) * 1e9)
    if isinstance(value, datetime):
        return int(value.timestamp() * 1e9)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day).timestamp() * 1e9)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1e9)
    if isinstance(value, str):
        try:
            return int((current - parse_duration(value)) * 1e9)
        except ValueError:
            pass
        try:
            return int(datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            raise ValueError(f"not a time: {value!r} (use an ISO date/time or an age such as 1h, 7d)") from None
    raise ValueError(f"not a time: {value!r}")


def from_ns(ns: int | None) -> datetime | None:
    """A timezone-aware UTC datetime from Unix ns."""
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
