"""Span processors: cost and roll-ups on every GenAI span, sessions onto every span."""

from __future__ import annotations

from typing import Any

from traceglass.processors.session import SessionSpanProcessor

__all__ = ["CostSpanProcessor", "SessionSpanProcessor"]


def __getattr__(name: str) -> Any:
    if name == "CostSpanProcessor":  # loads the price library on first use only
        from traceglass.processors.cost import CostSpanProcessor

        return CostSpanProcessor
    raise AttributeError(name)
