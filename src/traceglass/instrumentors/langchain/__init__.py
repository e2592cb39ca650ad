"""LangChain and LangGraph tracing.

``LangChainInstrumentor().instrument()`` (or ``traceglass.configure()``) traces every run with
no code change; ``trace_graph(graph)`` traces one compiled graph without global patching;
``TraceglassCallbackHandler`` can be passed in ``config={"callbacks": [...]}`` by hand.
Importing this package does not import LangChain (``opentelemetry-instrument`` loads the
instrumentor before it checks that the library is installed).
"""

from __future__ import annotations

from typing import Any

from traceglass.instrumentors.langchain._graph import trace_graph
from traceglass.instrumentors.langchain._patch import LangChainInstrumentor


def __getattr__(name: str) -> Any:
    if name == "TraceglassCallbackHandler":
        from traceglass.instrumentors.langchain._callback import TraceglassCallbackHandler

        return TraceglassCallbackHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LangChainInstrumentor", "TraceglassCallbackHandler", "trace_graph"]
