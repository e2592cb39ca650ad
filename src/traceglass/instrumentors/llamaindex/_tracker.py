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
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from traceglass import _config
from traceglass._guard import guard
from traceglass._handler import MODEL_CALLS, UNSET, AgentInvocation, Invocation, LLMInvocation, TelemetryHandler
from traceglass._runtime import get_handler
from traceglass.instrumentors.llamaindex import _extract, _streams

_MAX_OPEN = 10_000  # dispatcher spans never exited (an abandoned stream) cannot grow memory past it
_MAX_DEPTH = 256
_SYNC_STREAMS = frozenset({"stream_complete", "stream_chat"})
_STREAMED_RESPONSES = frozenset({"StreamingResponse", "AsyncStreamingResponse"})


class _Entry:
    __slots__ = ("span_id", "parent_id", "start_ns", "invocation", "telemetry", "streaming", "produced")

    def __init__(self, span_id: str, parent_id: str | None) -> None:
        self.span_id = span_id
        self.parent_id = parent_id
        self.start_ns = time.time_ns()
        self.invocation: Invocation | None = None  # set when shown
        self.telemetry: TelemetryHandler | None = None
        self.streaming = False  # exited with a generator: ends at its end event
        self.produced = False  # a streaming model call had an event after it returned (a chunk)


class Tracker:
    """The state behind our span and event handlers (one per process, switched by ``enabled``)."""

    def __init__(self) -> None:
        self.enabled = False
        self.telemetry: TelemetryHandler | None = None
        self.is_tool: Callable[[Any], bool] = lambda instance: False
        self.is_workflow: Callable[[Any], bool] = lambda instance: False
        self.is_agent: Callable[[Any], bool] = lambda instance: False
        self.active_span_id: Callable[[], str | None] = lambda: None
        self.span_var: ContextVar[Any] | None = None  # LlamaIndex's active_span_id, for streamed queries
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
        entry.produced = entry.streaming
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
        if type(result).__name__ in _STREAMED_RESPONSES and self._hold_for_stream(entry, result):
            return  # a streamed query's step: it ends with the stream (see _streams)
        if inv is not None and result is not None:
            telemetry = entry.telemetry or get_handler()
            with guard("llamaindex.result"):
                _extract.apply_result(inv, result,
                                      telemetry.settings.capture_content is not _config.ContentCapture.NO_CONTENT)
        self._close(span_id, None)

    def drop(self, span_id: str, error: BaseException | None) -> None:
        self._close(span_id, error)

    # --- streamed queries --------------------------------------------------------------------------
    def _hold_for_stream(self, entry: _Entry, response: Any) -> bool:
        """A step returning a ``StreamingResponse``: its answer is generated later, when the application
        reads ``response_gen``. The generator is wrapped (once, by the innermost step returning it) to
        run under the nearest shown step; each shown step returning it stays open until it ends."""
        if self.span_var is None:
            return False
        generator = getattr(response, "response_gen", None)
        stream = _streams.stream_of(generator)
        if stream is None:
            target = self._shown_from(entry.span_id)
            if target is None:
                return False
            stream = _streams.Stream(target.span_id, self._stream_ended)
            wrapped = _streams.wrap(generator, stream, self.span_var)
            if wrapped is None:
                return False
            response.response_gen = wrapped
        if entry.invocation is None or stream.ended:
            return False  # a hidden step ends now; its shown ancestor is held when it returns
        entry.streaming = True
        stream.held.append(entry)
        return True

    def _stream_ended(self, stream: _streams.Stream, error: BaseException | None) -> None:
        with guard("llamaindex.stream_end"):
            # A model call's stream closed with the answer's (the application stopped reading) sends
            # no end event: it ends here, before the steps above it.
            held = {id(entry.invocation) for entry in stream.held}
            with self._lock:
                below = [entry for entry in self._open.values() if entry.streaming and entry not in stream.held
                         and self._is_below(entry.invocation, held)]
            for entry in below:
                self._close(entry.span_id, error)
            text = stream.text
            for entry in stream.held:
                inv, telemetry = entry.invocation, entry.telemetry
                if inv is not None and telemetry is not None and text and inv.output_value is UNSET \
                        and telemetry.settings.capture_content is not _config.ContentCapture.NO_CONTENT:
                    inv.output_value = text
                self._close(entry.span_id, error)

    @staticmethod
    def _is_below(inv: Invocation | None, ancestors: set[int]) -> bool:
        parent = inv.parent if inv is not None else None
        for _ in range(_MAX_DEPTH):
            if parent is None:
                return False
            if id(parent) in ancestors:
                return True
            parent = parent.parent
        return False

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
        if not isinstance(inv, MODEL_CALLS):
            return False
        parent = self._shown_from(entry.parent_id)
        if parent is not None and type(parent.invocation) is type(inv):
            return True
        # CustomLLM.astream_complete / astream_chat return a generator that calls stream_complete /
        # stream_chat when first read, after their own span exited: the async stream of the same
        # class under the same step, open with no chunk yet, is that same call.
        owner, method = _extract.owner_of(entry.span_id)
        if method not in _SYNC_STREAMS:
            return False
        twin, under = (owner, "a" + method), parent.invocation if parent is not None else None
        with self._lock:
            candidates = list(self._open.values())
        return any(other.streaming and not other.produced and other.invocation is not None
                   and other.invocation.parent is under and _extract.owner_of(other.span_id) == twin
                   for other in candidates)

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
