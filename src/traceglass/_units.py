"""Durations and sizes as people write them (``"30d"``, ``"2GB"``): the settings, the store's retention
and the CLI parse them here. Standard library only, so the settings can use it without importing the store."""

from __future__ import annotations

import math
import numbers
import re
from datetime import timedelta

DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
               "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_duration(text: str) -> float:
    """Seconds from ``"90s"``, ``"15m"``, ``"2h"``, ``"7d"``, ``"1w"`` or a bare number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 7d, 1w)")
    seconds = float(match.group(1)) * DURATION_UNITS.get(match.group(2) or "s", 1)
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    if not math.isfinite(seconds):
        raise ValueError(f"duration out of range: {text!r}")
    return seconds


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string such as ``500MB``, ``2GiB``, ``1000000``."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"size must be positive, got {value!r}")
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {value!r} (use e.g. 500MB, 2GB, 1GiB or a number of bytes)")
    size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(f"size must be positive, got {value!r}")
    return size


# The oldest age that means anything: no 64-bit nanosecond clock reaches further back than now (~146 years).
MAX_AGE_S = 2.0**62 / 1e9


def as_seconds(value: float | timedelta) -> float:
    """Seconds from a number of seconds or a timedelta; an age beyond :data:`MAX_AGE_S` (infinity too)
    is that age, which keeps everything."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, timedelta)):
        raise ValueError(f"age must be a number of seconds or a timedelta, got {value!r}")
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not seconds > 0:  # NaN too
        raise ValueError(f"age must be positive, got {value!r}")
    return min(seconds, MAX_AGE_S)
