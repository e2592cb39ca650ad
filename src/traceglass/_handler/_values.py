"""Reading numbers off provider payloads, where ``True`` must not pass for ``1``."""

from __future__ import annotations

from typing import Any


def number(value: Any) -> float | None:
    """``value`` as a float when it is an int or float (not a bool), else None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def integer(value: Any) -> int | None:
    """``value`` when it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
