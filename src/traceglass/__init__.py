"""traceglass: OpenTelemetry tracing, cost and a local dashboard for Python LLM applications.

Quick start::

    import traceglass
    traceglass.configure()          # SQLite store by default; OTLP with exporters=["otlp"]

    @traceglass.observe(type="tool")
    def search(query: str) -> list[str]: ...
"""

from __future__ import annotations

from typing import Any

from traceglass._config import ContentCapture
from traceglass._handler._mask import mask_whole_values
from traceglass._sampling import Exporter, FinishedTrace, Sampling
from traceglass._scores import Score
from traceglass._scoring import current_trace_id, score
from traceglass._setup import Telemetry, configure, flush, shutdown
from traceglass._version import __version__
from traceglass.current_span import (
    AgentAttributes,
    LlmAttributes,
    RetrieverAttributes,
    ToolAttributes,
    update_current_span_attributes,
)
from traceglass.decorators import observe, session, span, trace_llm
from traceglass.semconv import SpanType

_LAZY = {
    "TracedOpenAI": "traceglass.instrumentors.openai",
    "TracedAsyncOpenAI": "traceglass.instrumentors.openai",
    "TracedAnthropic": "traceglass.instrumentors.anthropic",
    "TracedAsyncAnthropic": "traceglass.instrumentors.anthropic",
    "trace_graph": "traceglass.instrumentors.langchain",
}


def __getattr__(name: str) -> Any:
    # Names whose modules import a third-party SDK load on first use, keeping `import traceglass` light.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'traceglass' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "AgentAttributes",
    "ContentCapture",
    "Exporter",
    "FinishedTrace",
    "LlmAttributes",
    "RetrieverAttributes",
    "Sampling",
    "Score",
    "SpanType",
    "Telemetry",
    "ToolAttributes",
    "__version__",
    "configure",
    "current_trace_id",
    "flush",
    "mask_whole_values",
    "observe",
    "score",
    "session",
    "shutdown",
    "span",
    "trace_llm",
    "update_current_span_attributes",
]
