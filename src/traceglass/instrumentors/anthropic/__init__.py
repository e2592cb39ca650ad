"""Anthropic auto-instrumentation: ``AnthropicInstrumentor``, ``TracedAnthropic``, ``TracedAsyncAnthropic``.

``AnthropicInstrumentor`` is importable without ``anthropic`` installed (``opentelemetry-instrument``
loads entry points before checking libraries); the traced clients subclass the SDK's clients and
load on first use.
"""

from __future__ import annotations

from typing import Any

from traceglass.instrumentors.anthropic._instrumentor import AnthropicInstrumentor


def __getattr__(name: str) -> Any:
    if name in ("TracedAnthropic", "TracedAsyncAnthropic"):
        from traceglass.instrumentors.anthropic import _clients

        return getattr(_clients, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AnthropicInstrumentor", "TracedAnthropic", "TracedAsyncAnthropic"]
