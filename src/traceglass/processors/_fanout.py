"""A replaceable fan-out to downstream processors, so configure() can run twice cleanly.

The SDK has no way to remove a processor from a provider; configure() adds one fan-out once and
swaps what is inside it on each later call. A span that ends while the swap happens goes through
exactly one pipeline, the old or the new: ``replace`` returns the old processors only once every
``on_end`` still running on them has returned, so shutting them down loses nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from traceglass._deferred_end import RUNNING, running_owner
from traceglass._pipeline_changes import forwarding_changed

# How long ``replace`` waits for in-flight on_end calls on the old processors (they take microseconds).
_DRAIN_TIMEOUT_S = 5.0
_ENTER_TRIES = 16


class _Generation:
    """One set of processors and the hand-offs (``on_end`` calls) running on it."""

    __slots__ = ("processors", "endings", "in_flight")

    def __init__(self, processors: Sequence[SpanProcessor]) -> None:
        self.processors: tuple[SpanProcessor, ...] = tuple(processors)
        self.endings = ending_hooks(self.processors)
        # One item per hand-off in flight. A deque's append and pop are each one atomic call, so a
        # span's hand-off takes no lock (two lock round trips were ~6,000 instructions a span).
        self.in_flight: deque[None] = deque()


class Replaceable:
    """The swap: one generation of processors at a time, and ``replace`` that waits out the old one.

    Shared by the span fan-out here and the log-record fan-out (``_log_fanout``), which differ only
    in the hook they hand on (``on_end`` or ``on_emit``).
    """

    def __init__(self, processors: Sequence[Any] = ()) -> None:
        self._current = _Generation(processors)
        self._replacing = threading.Lock()  # one replace at a time

    @property
    def processors(self) -> tuple[Any, ...]:
        return self._current.processors

    def replace(self, processors: Sequence[Any]) -> tuple[Any, ...]:
        """Install ``processors``; return the old ones once nothing is being handed to them.

        The caller shuts the old ones down. The wait is bounded, in case a hook blocks.
        """
        deadline = time.monotonic() + _DRAIN_TIMEOUT_S
        with self._replacing:
            old, self._current = self._current, _Generation(processors)
            forwarding_changed()
        # A hand-off that counted itself on the old generation before the swap runs to its end on it;
        # one that counts itself after sees the swap and moves to the new one (``_enter``).
        pause = 0.0005
        while old.in_flight and time.monotonic() < deadline:
            time.sleep(pause)  # a hand-off takes microseconds; replace is rare (configure() again)
            pause = min(pause * 2, 0.05)
        return old.processors

    def _enter(self) -> _Generation:
        """The generation in force, counted as in use until ``_leave``."""
        generation = self._current
        generation.in_flight.append(None)
        if generation is self._current:
            return generation
        return self._enter_after_replace(generation)

    def _enter_after_replace(self, generation: _Generation) -> _Generation:
        for _ in range(_ENTER_TRIES):
            generation.in_flight.pop()  # replaced meanwhile: the new generation takes the span
            generation = self._current
            generation.in_flight.append(None)
            if generation is self._current:
                return generation
        return generation  # replaced on each of 16 tries in a row (bounded; not seen in practice): the last one

    def _leave(self, generation: _Generation) -> None:
        generation.in_flight.pop()

    def shutdown(self) -> None:
        for processor in self._current.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return flush_all(self._current.processors, timeout_millis)


class FanOutSpanProcessor(Replaceable, SpanProcessor):
    @property
    def defers_span_work(self) -> bool:
        """True while it holds one processor, which takes deferred span work (``traceglass._deferred_end``)."""
        return self._deferring() is not None

    def defer(self, task: Callable[[], None]) -> bool:
        """Hand ``task`` to the one processor inside, if it takes it (False: the caller runs it)."""
        inside = self._deferring()
        return False if inside is None else bool(inside.defer(task))

    def _deferring(self) -> Any:
        """The one processor inside, when it takes deferred span work; else None."""
        processors = self._current.processors
        if len(processors) == 1 and getattr(processors[0], "defers_span_work", False) is True:
            return processors[0]
        return None

    def _on_start_forwards_to(self) -> tuple[SpanProcessor, ...]:
        """on_start reads no attribute, and hands the span to these (see ``_handler._span_start``)."""
        return self._current.processors

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for processor in self._current.processors:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        if RUNNING:
            owner = running_owner()
            if owner is not None:  # a deferred task ends it: its pipeline, not the one in force now
                owner._on_ending(span)
                return
        for hook in self._current.endings:
            hook(span)

    def on_end(self, span: ReadableSpan) -> None:
        if RUNNING:
            owner = running_owner()
            if owner is not None:  # see _on_ending
                owner.on_end(span)
                return
        generation = self._enter()
        try:
            for processor in generation.processors:
                processor.on_end(span)
        finally:
            self._leave(generation)


def ending_hooks(processors: Sequence[Any]) -> tuple[Callable[[Any], None], ...]:
    """The ``_on_ending`` hooks of ``processors`` that do something (the SDK's base class's does
    nothing): what a processor that hands spans on calls as a span ends."""
    hooks = []
    for processor in processors:
        hook = getattr(processor, "_on_ending", None)
        if hook is not None and getattr(processor.__class__, "_on_ending", None) is not _BASE_ENDING:
            hooks.append(hook)
    return tuple(hooks)


_BASE_ENDING = getattr(SpanProcessor, "_on_ending", None)


def remaining_millis(deadline: float) -> int:
    """Milliseconds left until ``deadline`` (a ``time.monotonic()`` value), never below 0."""
    return max(0, int((deadline - time.monotonic()) * 1000))


def flush_all(processors: Sequence[Any], timeout_millis: int) -> bool:
    """Flush every one of ``processors`` (even after one fails) within one shared deadline, so N of
    them never take N timeouts; True only if all of them confirmed."""
    deadline = time.monotonic() + max(0, timeout_millis) / 1000
    results = []
    for processor in processors:
        results.append(processor.force_flush(remaining_millis(deadline)))
    return all(results)
