"""A replaceable fan-out to downstream processors, so configure() can run twice cleanly.

The SDK has no way to remove a processor from a provider; configure() adds one fan-out once and
swaps what is inside it on each later call.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor


class FanOutSpanProcessor(SpanProcessor):
    def __init__(self, processors: Sequence[SpanProcessor] = ()) -> None:
        self._processors: tuple[SpanProcessor, ...] = tuple(processors)
        self._lock = threading.Lock()

    @property
    def processors(self) -> tuple[SpanProcessor, ...]:
        return self._processors

    def replace(self, processors: Sequence[SpanProcessor]) -> tuple[SpanProcessor, ...]:
        """Install ``processors``; return the old ones (the caller shuts them down)."""
        with self._lock:
            old, self._processors = self._processors, tuple(processors)
        return old

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for processor in self._processors:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        for processor in self._processors:
            hook = getattr(processor, "_on_ending", None)
            if hook is not None:
                hook(span)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        for processor in self._processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([processor.force_flush(timeout_millis) for processor in self._processors])
