"""OpenAI auto-instrumentation: ``OpenAIInstrumentor``, ``TracedOpenAI``, ``TracedAsyncOpenAI``.

``OpenAIInstrumentor`` is importable without ``openai`` installed (``opentelemetry-instrument``
loads entry points before checking libraries); the traced clients subclass the SDK's clients and
load on first use.
"""

from __future__ import annotations

from typing import Any

from traceglass.instrumentors.openai._instrumentor import OpenAIInstrumentor


def __getattr__(name: str) -> Any:
    if name in ("TracedOpenAI", "TracedAsyncOpenAI"):
        from traceglass.instrumentors.openai import _clients

        return getattr(_clients, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["OpenAIInstrumentor", "TracedAsyncOpenAI", "TracedOpenAI"]
