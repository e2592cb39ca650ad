"""``LlamaIndexInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` for ``llama-index-core``."""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from traceglass._handler import add_parent_resolver, remove_parent_resolver
from traceglass._runtime import handler_for
from traceglass.instrumentors._deferred import Pending, when_imported
from traceglass.instrumentors.llamaindex._tracker import TRACKER

OLDEST_SUPPORTED = "llama-index-core >= 0.12"
_lock = threading.Lock()
_registered = False  # our handlers are on the root dispatcher (they stay, switched by TRACKER.enabled)


def _register() -> None:
    global _registered
    from llama_index.core.instrumentation import get_dispatcher

    from traceglass.instrumentors.llamaindex import _handlers

    with _lock:
        _handlers.wire()
        if not _registered:
            root = get_dispatcher()
            root.add_span_handler(_handlers.TraceglassSpanHandler())
            root.add_event_handler(_handlers.TraceglassEventHandler())
            _registered = True
        TRACKER.enabled = True
    add_parent_resolver(TRACKER.current_step)


class LlamaIndexInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace LlamaIndex through its instrumentation dispatcher: query engines, retrievers (their
    documents as retrieval results), synthesizers, LLM calls (streams end once, after the last
    chunk), embeddings and tools, parented by the dispatcher's span tree.

    ``instrument(tracer_provider=..., meter_provider=...)``; idempotent. ``uninstrument()`` switches
    the handlers off (the dispatcher has no way to remove one).
    """

    _pending: Pending | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return (OLDEST_SUPPORTED,)

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider, meter_provider = kwargs.get("tracer_provider"), kwargs.get("meter_provider")
        TRACKER.telemetry = (None if tracer_provider is None and meter_provider is None
                             else handler_for(tracer_provider, meter_provider))
        self._pending = when_imported("llama_index.core", _register)

    def _uninstrument(self, **kwargs: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        TRACKER.enabled = False
        remove_parent_resolver(TRACKER.current_step)
