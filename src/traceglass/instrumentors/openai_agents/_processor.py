"""The Agents SDK tracing processor that turns its traces and spans into our OTel spans.

The SDK tells a processor when each trace and span starts and ends, synchronously, in the
context that runs the step. Parents follow the SDK's own tree (``span.parent_id``, else the
trace), not the OTel context. The processor never attaches an OTel context: the SDK starts a span
in one place and may finish it in another (streamed runs, ``start()``/``finish()`` pairs), so a
detach in ``on_span_end`` could fail ("Failed to detach context") or leak. Instead, spans others
make inside a step (our OpenAI instrumentor's call under a ``response`` span, a decorated helper
in a tool) find their parent through ``current_step``, registered with the handler as a parent
resolver: it reads the SDK's current span from its own ContextVar (``agents.tracing.scope``).

A model call is shown once. The SDK's ``response``/``generation`` span is deferred: its OTel span
is made only when it ends, unless a model-call span of ours (the OpenAI, LiteLLM or Anthropic
instrumentor) started inside it meanwhile, which then stands in its place under the agent, with
the provider's exact usage; the SDK's span is then dropped. So with every combination of our
instrumentors on, each call has one model-call span and its tokens count once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from agents.tracing import TracingProcessor
from agents.tracing.scope import Scope
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from traceglass import _config
from traceglass._guard import guard
from traceglass._handler import MODEL_CALLS, Invocation, TelemetryHandler, ToolInvocation
from traceglass._runtime import get_handler
from traceglass.instrumentors.openai_agents import _extract

# Bound on open steps kept: a trace the SDK never ends (an abandoned stream) must not grow
# this dict forever. Past it, the oldest entries are forgotten (their spans never end).
_MAX_OPEN = 10_000
_DEFERRED = frozenset({"response", "generation"})  # model calls: see the module docstring


class _Open:
    """One open SDK trace or span: its invocation and the handler that started it."""

    __slots__ = ("key", "invocation", "telemetry", "parent", "kind", "deferred_ns", "covered", "failure", "calls")

    def __init__(self, key: str, invocation: Invocation, telemetry: TelemetryHandler,
                 parent: _Open | None = None, kind: SpanKind = SpanKind.INTERNAL) -> None:
        self.key = key  # for a hidden span's alias entry: the key of the shown ancestor
        self.invocation = invocation
        self.telemetry = telemetry
        self.parent = parent
        self.kind = kind
        self.deferred_ns = 0  # a deferred model call's start time, until its span is made
        self.covered = False  # a model-call span of ours started inside it: it is not shown
        # An error the SDK put on a hidden span below (a guardrail's tripwire goes on the turn).
        self.failure: tuple[str, str | None] | None = None
        # On a shown step: the (tool name, call id) pairs its latest model call asked for, not yet
        # given to a function span (the SDK's function span has no call id of its own).
        self.calls: list[tuple[str, str]] | None = None


class TraceglassAgentsProcessor(TracingProcessor):  # type: ignore[misc]
    """Maps every Agents SDK trace and span to a span through traceglass's handler.

    ``telemetry``: spans go to this handler (explicit providers); None: the runtime's handler,
    looked up per trace (so ``traceglass.testing.capture()`` sees them). ``enabled`` switches it
    off without unregistering (the SDK has no way to remove one processor).
    """

    def __init__(self) -> None:
        self.telemetry: TelemetryHandler | None = None
        self.enabled = False
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    # --- the SDK's interface -----------------------------------------------------------------
    def on_trace_start(self, trace_: Any) -> None:
        if not self.enabled:
            return
        with guard("openai_agents.trace_start"):
            self._start(str(trace_.trace_id), None, _extract.workflow(trace_), SpanKind.INTERNAL)

    def on_trace_end(self, trace_: Any) -> None:
        with guard("openai_agents.trace_end"):
            self._end(str(trace_.trace_id), None)

    def on_span_start(self, span: Any) -> None:
        if not self.enabled:
            return
        with guard("openai_agents.span_start"):
            key = str(span.span_id)
            parent_key = str(span.parent_id or span.trace_id)
            data = span.span_data
            kind = getattr(data, "type", None)
            if kind in _extract.HIDDEN:
                parent = self._open.get(parent_key)
                if parent is not None:
                    self._remember(_Open(parent.key, parent.invocation, parent.telemetry, parent.parent), key)
                return
            inv, span_kind = _extract.begin(data)
            if kind in _DEFERRED:
                telemetry = self.telemetry or get_handler()
                if telemetry.enabled:
                    entry = _Open(key, inv, telemetry, self._open.get(parent_key), span_kind)
                    entry.deferred_ns = time.time_ns()
                    self._remember(entry, key)
                return
            if kind == "function" and isinstance(inv, ToolInvocation):
                inv.call_id = self._take_call_id(parent_key, inv.tool_name)
            self._start(key, parent_key, inv, span_kind)

    def on_span_end(self, span: Any) -> None:
        with guard("openai_agents.span_end"):
            self._end(str(span.span_id), span)

    def shutdown(self) -> None:
        pass  # spans are ended as the SDK ends its own; the OTel pipeline flushes itself

    def force_flush(self) -> None:
        pass

    # --- for the handler: the SDK's current step in this context -------------------------------
    def current_step(self, starting: Invocation) -> Invocation | None:
        """The open invocation a span starting now (``starting``) belongs under: the SDK's current
        span (or trace) in this context. Inside a deferred model call, a model-call span covers
        it and goes under its parent; anything else makes the deferred span now."""
        if not self._open:
            return None
        span = Scope.get_current_span()
        entry = self._open.get(str(span.span_id)) if span is not None else None
        if entry is None:
            current_trace = Scope.get_current_trace()
            entry = self._open.get(str(current_trace.trace_id)) if current_trace is not None else None
        if entry is None:
            return None
        if entry.deferred_ns:
            if isinstance(starting, MODEL_CALLS) or entry.covered:
                entry.covered = True
                return entry.parent.invocation if entry.parent is not None else None
            self._make_deferred(entry)
        return entry.invocation

    def _make_deferred(self, entry: _Open) -> None:
        """Start a deferred model call's span, back-dated to when the SDK started it."""
        start_ns, entry.deferred_ns = entry.deferred_ns, 0
        self._start_under(entry, entry.parent, start_ns)

    # --- tool call ids: from the model call's output to the function spans that follow it ------
    def _shown(self, entry: _Open | None) -> _Open | None:
        """The shown step an entry stands for (itself, or a hidden span's shown ancestor)."""
        return self._open.get(entry.key) if entry is not None else None

    def _offer_calls(self, entry: _Open, span: Any) -> None:
        """Keep the tool calls a finished model call asked for on its step: the SDK runs them next,
        in this order, each in a function span named after the tool."""
        shown = self._shown(entry.parent)
        if shown is not None:
            with guard("openai_agents.tool_calls"):
                shown.calls = _extract.tool_calls(span.span_data)  # the next model call's replace them

    def _take_call_id(self, parent_key: str, tool_name: str | None) -> str | None:
        """The call id of the first call to ``tool_name`` the step's model call asked for and no
        function span has taken yet (matched by name, in order)."""
        shown = self._shown(self._open.get(parent_key))
        if shown is None or not shown.calls or not tool_name:
            return None
        with self._lock:
            for index, (name, call_id) in enumerate(shown.calls):
                if tool_name in (name, name.rpartition(".")[2]):
                    del shown.calls[index]
                    return call_id
        return None

    # --- the core: one start, one end ------------------------------------------------------------
    def _start(self, key: str, parent_key: str | None, inv: Invocation, kind: SpanKind) -> None:
        telemetry = self.telemetry or get_handler()
        if not telemetry.enabled:
            return
        parent = self._open.get(parent_key) if parent_key is not None else None
        entry = _Open(key, inv, telemetry, parent, kind)
        self._start_under(entry, parent, None)
        self._remember(entry, key)

    @staticmethod
    def _start_under(entry: _Open, parent: _Open | None, start_ns: int | None) -> None:
        inv, telemetry = entry.invocation, entry.telemetry
        if parent is None or parent.invocation.span is None:
            # A root (or a step whose parent we never saw): under the current context, so the
            # user's span around Runner.run and our OpenAI span of an enclosing call hold it.
            telemetry.start(inv, kind=entry.kind, activate=False, start_time_ns=start_ns)
        else:
            telemetry.start(inv, kind=entry.kind, parent_context=trace.set_span_in_context(parent.invocation.span),
                            activate=False, start_time_ns=start_ns)
            inv.parent = parent.invocation  # the SDK's tree, whatever was current

    def _remember(self, entry: _Open, key: str) -> None:
        with self._lock:
            if len(self._open) >= _MAX_OPEN:
                self._open.pop(next(iter(self._open)))
            self._open[key] = entry

    def _end(self, key: str, span: Any) -> None:
        with self._lock:
            entry = self._open.pop(key, None)
        if entry is None:
            return
        if entry.key != key:  # a hidden span: its error, if any, is its shown ancestor's
            failure = _extract.error_of(getattr(span, "error", None))
            shown = self._open.get(entry.key)
            if failure is not None and shown is not None and shown.failure is None:
                shown.failure = failure
            return
        if span is not None and getattr(span.span_data, "type", None) in _DEFERRED:
            self._offer_calls(entry, span)
        if entry.covered:  # a model-call span of ours stood in for it
            return
        inv, telemetry = entry.invocation, entry.telemetry
        failure = None
        if span is not None:
            capture = telemetry.settings.capture_content is not _config.ContentCapture.NO_CONTENT
            with guard("openai_agents.span_data"):
                name = _extract.finish(inv, span.span_data, capture)
                if name and entry.deferred_ns:
                    inv.name = name  # its span is made just below, under the name it has now
                elif name:
                    telemetry.rename(inv, name)
            failure = _extract.error_of(getattr(span, "error", None))
        failure = failure or entry.failure
        if entry.deferred_ns:
            self._make_deferred(entry)
        if failure is not None:
            telemetry.stop_failed(inv, failure[0], failure[1])
        else:
            telemetry.stop(inv)


_shared: TraceglassAgentsProcessor | None = None
_shared_lock = threading.Lock()


def shared() -> TraceglassAgentsProcessor:
    """The process-wide processor (registered with the SDK once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TraceglassAgentsProcessor()
        return _shared
