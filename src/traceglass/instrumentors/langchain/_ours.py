"""Recognising traceglass's callback handler among a manager's handlers, without importing LangChain.

The instrumentor and the activation hooks must import without langchain-core (so that
``opentelemetry-instrument`` can check the dependency first), and the handler's module imports
langchain-core; the handler carries this marker so they can tell it apart with ``isinstance``
instead of importing the handler's module (which would also close an import cycle).
"""

from __future__ import annotations

from typing import Any


class OurHandler:
    """Marker base of :class:`~traceglass.instrumentors.langchain.TraceglassCallbackHandler`."""

    __slots__ = ()


def find_ours(handlers: Any) -> Any:
    """Our handler among ``handlers`` (a list, tuple or None), else None."""
    for handler in handlers or ():
        if isinstance(handler, OurHandler):
            return handler
    return None


def has_ours(handlers: Any) -> bool:
    return find_ours(handlers) is not None
