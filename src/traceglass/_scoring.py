"""``traceglass.score()``: record how good a trace or span was, as an OTel evaluation event.

A score is checked here (:func:`traceglass._scores.new_score`: every problem at once, as a
``ValueError``), then emitted as a ``gen_ai.evaluation.result`` log record carrying the scored
span's trace context, through the logger provider of the runtime in force: ``configure()``'s
(a batch processor per destination: the SQLite store, OTLP, the console), ``capture()``'s (in
memory), else the global one (``opentelemetry-instrument``'s; a no-op when nothing set one up).
Emitting only queues the record: no I/O on the caller's thread, and a fault of ours or of an
exporter never reaches the caller.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from traceglass import _runtime, semconv
from traceglass._guard import guard
from traceglass._scores import Score, ScoreError, check_data_type, event_attributes, new_score

logger = logging.getLogger("traceglass")

_SCOPE = "traceglass"
_NOT_EXPORTED = "score-not-exported"
# A stand-in trace id while the rest of a score outside any span is checked (so every problem is
# listed at once); never emitted.
_PLACEHOLDER_TRACE_ID = "1" * 32

# The data type of each score name scored in this process (the store checks names against the
# database when it writes). Bounded: past this many names, new ones are not remembered.
_MAX_NAMES = 10_000
_data_types: dict[str, str] = {}
_data_types_lock = threading.Lock()


def current_trace_id() -> str | None:
    """The current trace's id as 32 hex digits (None outside any span): hand it to a frontend that
    later sends feedback with ``traceglass.score(..., trace_id=...)`` or the REST API."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def score(
    name: str,
    value: float | bool | str,
    *,
    trace_id: str | None = None,
    span_id: str | None = None,
    comment: str | None = None,
    source: str = "api",
    user_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    id: str | None = None,  # noqa: A002 - the public parameter's name
) -> Score:
    """Score the current span (and its trace), or the trace/span given by id; returns the :class:`Score`.

    ``value`` is a number, a bool (stored as 1.0/0.0) or a label string. Without ids the score is
    about the current span; ``trace_id`` alone scores a whole trace. Raises ``ValueError``
    (:class:`~traceglass._scores.ScoreError`, listing every problem) for bad input, outside any
    span without ``trace_id``, and for a value whose type differs from earlier scores of that name.
    Reusing an ``id`` updates that score. Never blocks on I/O; never raises for an export fault.
    """
    problems: list[tuple[str, str]] = []
    explicit = trace_id is not None or span_id is not None
    if not explicit:
        current = trace.get_current_span().get_span_context()
        if current.is_valid:
            trace_id, span_id = format(current.trace_id, "032x"), format(current.span_id, "016x")
        else:
            problems.append(("trace_id", "traceglass.score() was called outside any span: pass trace_id= "
                                         "(e.g. from traceglass.current_trace_id() inside the traced request)"))
    elif trace_id is None:
        problems.append(("trace_id", "is required when span_id is given (a span is found by its trace id and its id)"))
    try:
        result = new_score(name, value, trace_id=_PLACEHOLDER_TRACE_ID if trace_id is None else trace_id,
                           span_id=span_id, comment=comment, source=source, user_id=user_id, metadata=metadata,
                           id=id)
    except ScoreError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ScoreError(problems)
    _remember_data_type(result)
    with guard("traceglass.score"):
        _emit(result, _context(result) if explicit else None)
    return result


def _remember_data_type(result: Score) -> None:
    with _data_types_lock:
        check_data_type(result, _data_types)
        if result.name not in _data_types and len(_data_types) < _MAX_NAMES:
            _data_types[result.name] = result.data_type


def _context(result: Score) -> Any:
    """A context whose current span is the scored one (not recording: only its ids are carried)."""
    span_context = SpanContext(
        trace_id=int(result.trace_id, 16), span_id=int(result.span_id, 16) if result.span_id else 0,
        is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def _emit(result: Score, context: Any) -> None:
    from opentelemetry import _logs

    runtime = _runtime.current()
    provider = runtime.logger_provider
    if provider is None:
        provider = _logs.get_logger_provider()  # opentelemetry-instrument's, the application's, or none
        if not _exports(provider) and runtime.first_time(_NOT_EXPORTED):
            logger.info("traceglass: scores go nowhere: no logger provider is set up; call traceglass.configure() "
                        "(or run under opentelemetry-instrument with OTEL_LOGS_EXPORTER) to store or send them")
    record = _logs.LogRecord(
        timestamp=result.created_ns, context=context, severity_number=_logs.SeverityNumber.INFO,
        attributes=event_attributes(result), event_name=semconv.EVENT_GEN_AI_EVALUATION_RESULT)
    provider.get_logger(_SCOPE).emit(record)


def _exports(provider: Any) -> bool:
    from opentelemetry.sdk._logs import LoggerProvider

    return isinstance(provider, LoggerProvider)


__all__ = ["current_trace_id", "score"]
