"""LlamaIndex dispatcher spans and events -> our spans, keyed by the dispatcher's span ids.

Every dispatcher span is remembered from ``span_enter`` to its exit, with its start time; it is
*shown* (its OTel span started, back-dated to then) when its start event arrives (see
``_extract``) or at once for tools. Parents follow the dispatcher's ``parent_id`` to the nearest
shown ancestor, never the OTel context, and nothing is attached: spans others make inside a step
(our OpenAI call inside an LLM's ``complete``, a decorated helper in a tool) find it through
``current_step``, registered with the handler as a parent resolver over LlamaIndex's own
``active_span_id`` ContextVar. A streamed model call returns a generator and its span exits at
once; ours ends at the call's end event (after the last chunk), or when the span is dropped:
exactly once either way.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from traceglass import _config
from traceglass._guard import guard
from traceglass._handler import AgentInvocation, EmbeddingInvocation, Invocation, LLMInvocation, TelemetryHandler
from traceglass._runtime import get_handler
from traceglass.instrumentors.llamaindex import _extract

_MAX_OPEN = 10_000  # dispatcher spans never exited (an abandoned stream) cannot grow memory past it
_MAX_DEPTH = 256
_MODEL_CALLS = (LLMInvocation, EmbeddingInvocation)


class _Entry:
    __slots__ = ("span_id", "parent_id", "start_ns", "invocation", "telemetry", "streaming")

    def __init__(self, span_id: str, parent_id: str | None) -> None:
        self.span_id = span_id
        self.parent_id = parent_id
        self.start_ns = time.time_ns()
        self.invocation: Invocation | None = None  # set when shown
        self.telemetry: TelemetryHandler | None = None
        self.streaming = False  # exited with a generator: ends at its end event


class Tracker:
    """The state behind our span and event handlers (one per process, switched by ``enabled``)."""

    def __init__(self) -> None:
        self.enabled = False
        self.telemetry: TelemetryHandler | None = None
        self.is_tool: Callable[[Any], bool] = lambda instance: False
        self.is_workflow: Callable[[Any], bool] = lambda instance: False
        self.is_agent: Callable[[Any], bool] = lambda instance: False
        self.active_span_id: Callable[[], str | None] = lambda: None
        self._open: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    # --- from the dispatcher -----------------------------------------------------------------
    def enter(self, span_id: str, parent_id: str | None, instance: Any, bound_args: Any,
              tags: dict[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        entry = _Entry(span_id, parent_id)
        with self._lock:
            if len(self._open) >= _MAX_OPEN:
                self._open.pop(next(iter(self._open)))
            self._open[span_id] = entry
        method = _extract.owner_of(span_id)[1]
        if instance is not None:
            if method in _extract.TOOL_METHODS and self.is_tool(instance):
                self._show(entry, _extract.tool(instance, bound_args), SpanKind.INTERNAL)
            elif method == "run" and self.is_workflow(instance):
                self._show(entry, _extract.workflow_run(instance, self.is_agent(instance)), SpanKind.INTERNAL)
        elif tags and _extract.STEP_TAG in tags:
            # A workflow's step. An agent's steps (init_run, setup_agent, run_agent_step, call_tool,
            # ...) are its own machinery: hidden, so its model calls and tools sit right under it.
            parent = self._shown_from(parent_id)
            if parent is None or not isinstance(parent.invocation, AgentInvocation):
                self._show(entry, _extract.workflow_step(span_id, tags), SpanKind.INTERNAL)

    def event(self, event: Any) -> None:
        span_id = getattr(event, "span_id", None)
        entry = self._open.get(span_id) if span_id else None
        if entry is None:
            return
        telemetry = entry.telemetry or self.telemetry or get_handler()
        capture = telemetry.settings.capture_content is not _config.ContentCapture.NO_CONTENT
        if entry.invocation is None:
            made = _extract.begin(event, entry.span_id, capture)
            if made is not None and not self._inside_same_call(entry, made[0]):
                self._show(entry, *made)
            return
        _extract.on_event(entry.invocation, event, capture)
        if entry.streaming and type(event).__name__ in _extract.LLM_END_EVENTS:
            self._close(entry.span_id, None)

    def exit(self, span_id: str, result: Any) -> None:
        entry = self._open.get(span_id)
        if entry is None:
            return
        inv = entry.invocation
        if isinstance(inv, LLMInvocation) and (inspect.isgenerator(result) or inspect.isasyncgen(result)):
            entry.streaming = True  # ended by the call's end event, after the last chunk
            return
        if inv is not None and result is not None:
            telemetry = entry.telemetry or get_handler()
            with guard("llamaindex.result"):
                _extract.apply_result(inv, result,
                                      telemetry.settings.capture_content is not _config.ContentCapture.NO_CONTENT)
        self._close(span_id, None)

    def drop(self, span_id: str, error: BaseException | None) -> None:
        self._close(span_id, error)

    # --- for the handler: the dispatcher's current step in this context ---------------------------
    def current_step(self, starting: Invocation) -> Invocation | None:
        if not self._open:
            return None
        shown = self._shown_from(self.active_span_id())
        return shown.invocation if shown is not None else None

    # --- the core ----------------------------------------------------------------------------------
    def _shown_from(self, span_id: str | None) -> _Entry | None:
        for _ in range(_MAX_DEPTH):
            entry = self._open.get(span_id) if span_id else None
            if entry is None:
                return None
            if entry.invocation is not None and entry.invocation.span is not None:
                return entry
            span_id = entry.parent_id
        return None

    def _inside_same_call(self, entry: _Entry, inv: Invocation) -> bool:
        """A model call made inside a model call of the same type is the same call, reported twice
        (``CustomLLM.acomplete`` calls ``complete``; both dispatch a start event): shown once."""
        parent = self._shown_from(entry.parent_id)
        return parent is not None and isinstance(inv, _MODEL_CALLS) and type(parent.invocation) is type(inv)

    def _show(self, entry: _Entry, inv: Invocation, kind: SpanKind) -> None:
        telemetry = self.telemetry or get_handler()
        if not telemetry.enabled:
            return
        parent = self._shown_from(entry.parent_id)
        if parent is None:
            telemetry.start(inv, kind=kind, activate=False, start_time_ns=entry.start_ns)
        else:
            telemetry.start(inv, kind=kind, parent_context=trace.set_span_in_context(parent.invocation.span),  # type: ignore[union-attr,arg-type]
                            activate=False, start_time_ns=entry.start_ns)
            inv.parent = parent.invocation
        entry.invocation, entry.telemetry = inv, telemetry

    def _close(self, span_id: str, error: BaseException | None) -> None:
        with self._lock:
            entry = self._open.pop(span_id, None)
        if entry is None or entry.invocation is None or entry.telemetry is None:
            return
        if error is not None and not isinstance(error, GeneratorExit):
            entry.telemetry.fail(entry.invocation, error)
        else:
            entry.telemetry.stop(entry.invocation)


TRACKER = Tracker()
