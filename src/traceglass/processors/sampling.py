"""Content sampling: every span exported, prompts and completions kept only where they earn their place.

``ContentSamplingProcessor`` wraps the processors that export, each with a content policy:

* ``"all"``: every span as it was captured, at once;
* ``"none"``: every span with its content removed (and ``traceglass.content.sampled=false``), at once;
* ``"sampled"``: a trace's spans wait in a bounded buffer until its local root ends (a span without
  a parent, or whose parent is in another process); then the whole trace keeps its content when a
  ``keep_content_when`` condition holds (by default an error anywhere in it) or its id falls under
  ``content_rate`` (the same draw in every process), and loses it otherwise.

What is removed is what content capture controls (``semconv.CONTENT_ATTRIBUTES``, the indexed peer
dialects, ``semconv.CONTENT_EVENTS``), whoever captured it; names, status, model, tokens, cost,
roll-ups, session and user stay. Metrics are not affected: the handler records its metrics before a
span ends, and the cost processor, which runs before this one, counts cost and computes roll-ups on
the whole span. A trace whose root never ends here is decided after ``decision_timeout``; when the
buffer is full the oldest traces leave with their content removed. The application's thread never
waits on anything but a short lock.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable, Sequence

from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import StatusCode

from traceglass import semconv
from traceglass._after_fork import reset_in_forked_child
from traceglass._ended_span import frozen_attributes
from traceglass._guard import report
from traceglass._pipeline_changes import forwarding_changed
from traceglass._sampling import (
    CONTENT_ALL,
    CONTENT_NONE,
    CONTENT_POLICIES,
    CONTENT_SAMPLED,
    FinishedTrace,
    Sampling,
    keeps_content,
)
from traceglass._span_usage import read_span_usage
from traceglass._version import __version__
from traceglass.processors._batch import estimate_size
from traceglass.processors._enrich import EnrichedSpan
from traceglass.processors._fanout import ending_hooks, flush_all
from traceglass.processors._trace_buffer import PendingTrace, TraceBuffer
from traceglass.rollup import own_usage, trace_total

logger = logging.getLogger("traceglass")

_CONTENT_KEYS = semconv.CONTENT_ATTRIBUTES
_INDEXED = semconv.CONTENT_INDEXED_PREFIXES
_CONTENT_EVENTS = semconv.CONTENT_EVENTS


def is_content(key: str) -> bool:
    """True for an attribute content capture controls (ours, the conventions', the peers')."""
    if key in _CONTENT_KEYS:
        return True
    if key.startswith(_INDEXED):
        for prefix in _INDEXED:
            if key.startswith(prefix):
                rest = key[len(prefix):]
                return rest[:1].isdigit()
    return False


def strip_content(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` without content, marked ``traceglass.content.sampled=false``."""
    attributes = {k: v for k, v in frozen_attributes(span).items() if not is_content(k)}
    attributes[semconv.CONTENT_SAMPLED] = False
    events = span.events
    if events and any(e.name in _CONTENT_EVENTS for e in events):
        events = [e for e in events if e.name not in _CONTENT_EVENTS]
    return EnrichedSpan(span, attributes, events=events)


def summarize(trace_id: int, spans: Sequence[ReadableSpan], complete: bool) -> FinishedTrace:
    """The trace as a ``keep_content_when`` callable sees it: error, duration, tokens and cost."""
    error = False
    start: int | None = None
    end: int | None = None
    root_name = None
    parents: dict[int, int | None] = {}
    own: dict[int, Any] = {}
    for span in spans:
        attributes = frozen_attributes(span)
        if span.status.status_code is StatusCode.ERROR or attributes.get(semconv.ERROR_TYPE):
            error = True
        if span.start_time is not None:
            start = span.start_time if start is None else min(start, span.start_time)
        if span.end_time is not None:
            end = span.end_time if end is None else max(end, span.end_time)
        parent = span.parent
        span_id = span.context.span_id
        if parent is None or parent.is_remote:
            root_name = root_name or span.name
            parents[span_id] = None
        else:
            parents[span_id] = parent.span_id
        usage = read_span_usage(attributes)
        if usage is not None and usage.counted:
            cost = attributes.get(semconv.COST_TOTAL)
            own[span_id] = own_usage(usage.input_tokens, usage.output_tokens,
                                     float(cost) if isinstance(cost, (int, float)) else None)
    total = trace_total(parents, own)  # each model call once, by traceglass.rollup's rule
    duration = (end - start) / 1e9 if start is not None and end is not None else 0.0
    return FinishedTrace(format(trace_id, "032x"), root_name, error, max(duration, 0.0), total.input_tokens,
                         total.output_tokens, total.cost_usd, len(spans), complete)


class ContentSamplingProcessor(SpanProcessor):
    """Applies ``sampling``'s content policy to finished spans, per destination.

    ``downstream``: ``(policy, processor)`` pairs, policy ``"all"``, ``"sampled"`` or ``"none"``.
    ``head_rate``: drop spans of traces whose id falls above this ratio (the ``TraceIdRatioBased``
    test), for a tracer provider whose sampler traceglass could not set; None: keep every trace.
    ``meter_provider``: where the ``traceglass.sampling.*`` counters go (None: the global one).
    """

    def __init__(
        self,
        sampling: Sampling,
        downstream: Iterable[tuple[str, SpanProcessor]],
        *,
        head_rate: float | None = None,
        meter_provider: Any = None,
        _clock: Callable[[], float] = time.monotonic,
        _timer: bool = True,
    ) -> None:
        self._sampling = sampling
        self._pairs: list[tuple[str, SpanProcessor]] = []
        self._all = self._none = self._sampled = self._every = ()
        self._endings: tuple[Callable[[Any], None], ...] = ()
        for policy, processor in downstream:
            self.add_downstream(policy, processor)
        self._head_bound = None if head_rate is None or head_rate >= 1.0 else TraceIdRatioBased.get_bound_for_rate(head_rate)
        self._clock = _clock
        self._use_timer = _timer
        meter = otel_metrics.get_meter("traceglass", __version__, meter_provider=meter_provider)
        self._traces = meter.create_counter(
            semconv.METRIC_SAMPLING_TRACES, unit="{trace}",
            description="Traces whose content was decided: kept or dropped, when and why",
        )
        self._stripped = meter.create_counter(
            semconv.METRIC_SAMPLING_SPANS_STRIPPED, unit="{span}",
            description="Spans exported with their content removed",
        )
        self._condition_errors: set[str] = set()
        self._local = threading.local()
        self._shut = False
        self._reset()
        reset_in_forked_child(self._reset)  # the parent exports what it buffered; the child starts empty

    def _reset(self) -> None:
        sampling = self._sampling
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._buffer = TraceBuffer(sampling.max_buffered_spans, sampling.max_buffered_bytes,
                                   sampling.decision_timeout)
        self._timer_thread: threading.Thread | None = None

    def add_downstream(self, policy: str, processor: SpanProcessor) -> None:
        """Feed ``processor`` too, under ``policy`` (``opentelemetry-instrument`` adds exporters one by one)."""
        if policy not in CONTENT_POLICIES:
            raise ValueError(f"content policy must be one of {list(CONTENT_POLICIES)}, got {policy!r}")
        self._pairs.append((policy, processor))
        groups: dict[str, list[SpanProcessor]] = {name: [] for name in CONTENT_POLICIES}
        for name, each in self._pairs:
            # Every trace keeps its content when nothing is sampled out: "sampled" is "all", nothing waits.
            groups[CONTENT_ALL if name == CONTENT_SAMPLED and not self._sampling.samples_content else name].append(each)
        self._all = tuple(groups[CONTENT_ALL])
        self._none = tuple(groups[CONTENT_NONE])
        self._sampled = tuple(groups[CONTENT_SAMPLED])
        self._every = tuple(each for _, each in self._pairs)
        self._endings = ending_hooks(self._every)
        forwarding_changed()

    @property
    def downstream(self) -> tuple[SpanProcessor, ...]:
        """Every processor it feeds, whatever its policy."""
        return self._every

    def decide_pending(self) -> None:
        """Decide every trace still waiting (on what is known of it) and hand its spans on."""
        self._decide_all(semconv.SAMPLING_TRIGGER_FLUSH)

    @property
    def pending(self) -> tuple[int, int, int]:
        """(traces, spans, estimated bytes) waiting for a decision."""
        with self._lock:
            return len(self._buffer), self._buffer.spans, self._buffer.bytes

    # --- SpanProcessor ---------------------------------------------------------------------
    def _on_start_forwards_to(self) -> tuple[SpanProcessor, ...]:
        """on_start reads no attribute, and hands the span to these (see ``_handler._span_start``)."""
        return self._every

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for processor in self._every:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        for hook in self._endings:
            hook(span)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if not context.trace_flags.sampled:
            return  # recorded for metrics and roll-ups only: head sampling left its trace out
        if self._head_bound is not None and context.trace_id & TraceIdRatioBased.TRACE_ID_LIMIT >= self._head_bound:
            return
        for processor in self._all:
            processor.on_end(span)
        if self._none:
            self._forward(self._none, [span], False)
        if self._sampled:
            if self._shut:
                self._forward(self._sampled, [span], False)  # nothing waits after shutdown
                return
            try:
                self._sample(span)
            except Exception as exc:  # noqa: BLE001 - our fault: the span still leaves, without content
                report("sampling.on_end", exc)
                self._forward(self._sampled, [span], False)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Decide every pending trace (on what is known of it), then flush downstream."""
        self._decide_all(semconv.SAMPLING_TRIGGER_FLUSH)
        return flush_all(self._every, timeout_millis)

    def shutdown(self) -> None:
        if self._shut:
            return
        self._decide_all(semconv.SAMPLING_TRIGGER_FLUSH)
        with self._lock:
            self._shut = True
            self._wake.notify_all()
        for processor in self._every:
            processor.shutdown()

    # --- the decision ----------------------------------------------------------------------
    def _sample(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id
        parent = span.parent
        root = parent is None or parent.is_remote
        evicted: list[PendingTrace] = []
        with self._lock:
            decided = self._buffer.decision(trace_id)
            if decided is None:
                buffer = self._buffer
                new = trace_id not in buffer
                buffer.add(trace_id, span, estimate_size(span), self._clock())
                if root:
                    decided = buffer.take(trace_id)
                else:
                    while buffer.over_limit() and len(buffer):
                        oldest = buffer.take(buffer.oldest())  # type: ignore[arg-type]
                        evicted.append(oldest)  # type: ignore[arg-type]
                    if new and self._use_timer and self._timer_thread is None and not self._shut:
                        self._start_timer()
            elif isinstance(decided, PendingTrace):
                self._buffer.join_deciding(decided, span)
                return  # leaves with its trace
        for entry in evicted:
            self._settle(entry, False, semconv.SAMPLING_TRIGGER_PRESSURE, "pressure")
        if decided is None:
            return
        if isinstance(decided, PendingTrace):
            self._decide(decided, semconv.SAMPLING_TRIGGER_ROOT, complete=True)
        else:
            self._forward(self._sampled, [span], decided)  # its trace was decided already

    def _decide(self, entry: PendingTrace, trigger: str, complete: bool) -> None:
        keep, reason = False, "internal_error"  # our fault: content is dropped, never leaked; metadata stays
        fault = None
        local = self._local
        nested = getattr(local, "deciding", False)
        try:
            local.deciding = True
            summary = summarize(entry.trace_id, list(entry.spans), complete)
            # A trace ended by a condition's own code (it traced something) is decided by the rate
            # alone: calling the condition again would recurse.
            keep, reason = keeps_content(self._sampling, summary, entry.trace_id, self._condition_failed,
                                         conditions=not nested)
        except Exception as exc:  # noqa: BLE001
            fault = exc
        finally:
            local.deciding = nested
        self._settle(entry, keep, trigger, reason)  # the spans leave whatever happened
        if fault is not None:
            report("sampling.decide", fault)

    def _settle(self, entry: PendingTrace, keep: bool, trigger: str, reason: str) -> None:
        with self._lock:
            spans = list(self._buffer.settle(entry, keep))
        self._traces.add(1, {
            semconv.SAMPLING_OUTCOME: semconv.SAMPLING_OUTCOME_KEPT if keep else semconv.SAMPLING_OUTCOME_DROPPED,
            semconv.SAMPLING_TRIGGER: trigger,
            semconv.SAMPLING_REASON: reason,
        })
        self._forward(self._sampled, spans, keep)

    def _decide_all(self, trigger: str) -> None:
        with self._lock:
            entries = [self._buffer.take(trace_id) for trace_id in self._buffer.pending_ids()]
        for entry in entries:
            if entry is not None:
                self._decide(entry, trigger, complete=False)

    def _forward(self, processors: Sequence[SpanProcessor], spans: list[ReadableSpan], keep: bool) -> None:
        if not keep:
            stripped = []
            for span in spans:
                try:
                    stripped.append(strip_content(span))
                except Exception as exc:  # noqa: BLE001 - our fault: that span is lost rather than leak content
                    report("sampling.strip", exc)
            if stripped:
                self._stripped.add(len(stripped))
            spans = stripped
        for span in spans:
            for processor in processors:
                processor.on_end(span)

    def _condition_failed(self, name: str, exc: Exception) -> None:
        if name not in self._condition_errors:
            self._condition_errors.add(name)
            logger.warning("traceglass: keep_content_when condition %r raised %r; treated as not met", name, exc)

    # --- the timeout -----------------------------------------------------------------------
    def _start_timer(self) -> None:
        """Called under the lock, once: the thread decides the traces whose root never ends here."""
        thread = threading.Thread(target=self._time_out, name="traceglass-sampling-timeout", daemon=True)
        self._timer_thread = thread
        thread.start()

    def _time_out(self) -> None:
        while True:
            with self._lock:
                if self._shut:
                    return
                deadline = self._buffer.next_deadline()
                wait = self._buffer.timeout if deadline is None else deadline - self._clock()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
            try:
                self._expire()
            except Exception:  # noqa: BLE001 - the thread must live on: the next traces need it
                logger.warning("traceglass: deciding timed-out traces failed", exc_info=True)

    def _expire(self) -> int:
        """Decide every trace waiting longer than the timeout; how many were decided."""
        with self._lock:
            ids = list(self._buffer.expired(self._clock()))
            entries = [self._buffer.take(trace_id) for trace_id in ids]
        for entry in entries:
            if entry is not None:
                self._decide(entry, semconv.SAMPLING_TRIGGER_TIMEOUT, complete=False)
        return len(entries)


__all__ = ["ContentSamplingProcessor", "strip_content"]
