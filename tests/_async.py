"""Helpers for tests that run on an event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def run_loop_until(condition: Callable[[], Any], steps: int = 10) -> None:
    """Let the running event loop take up to ``steps`` steps (what it scheduled runs, e.g. an async
    generator's ``aclose`` after it was collected), stopping once ``condition()`` is true."""
    for _ in range(steps):
        await asyncio.sleep(0)
        if condition():
            return
