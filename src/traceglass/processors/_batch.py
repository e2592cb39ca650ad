"""Our batch span processor: bounded by bytes as well as count, with a flush that tells the truth.

Why not the SDK's ``BatchSpanProcessor`` (opentelemetry-sdk 1.45, ``_shared_internal.BatchProcessor``):
its queue is bounded by span count only (65,536 spans of 16 KB held 1.35 GB while a collector was
down); its ``force_flush`` exports on the caller's thread, ignores its timeout
(opentelemetry-python#4568) and returns True whatever the exporter answered; and it drops what it
drops with a WARNING per span. Here the application's thread only ever appends to the queue: one
background thread exports, and ``force_flush``/``shutdown`` wait for it at most their timeout.

Batching is the SDK's: a batch goes out when ``max_export_batch_size`` spans are queued, or every
``schedule_delay_millis`` otherwise.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, NamedTuple

from opentelemetry import metrics as otel_metrics
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import TraceFlags

from traceglass import semconv
from traceglass._after_fork import reset_in_forked_child
from traceglass._ended_span import frozen_attributes, span_events, span_links
from traceglass._version import __version__

logger = logging.getLogger("traceglass")

_getsizeof = sys.getsizeof
_ASCII_HEADER = sys.getsizeof("")  # an ASCII str is this plus one byte per character
_SAMPLED = TraceFlags.SAMPLED  # TraceFlags.sampled is a property that tests this bit
_SCALARS = frozenset({int, float, bool})
DEFAULT_MAX_QUEUE_SIZE = 65536
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT_MILLIS = 30000
_WARN_INTERVAL_S = 60.0

# What a finished span costs in memory beyond its strings, measured on CPython 3.11 with
# opentelemetry-sdk 1.45 (a span with three attributes and one event holds ~3.6 KB of RSS): the
# ReadableSpan, its context, status and bounded attribute dict (with its own lock).
_SPAN_BYTES = 2048
_ATTRIBUTE_BYTES = 96
_EVENT_BYTES = 768
_LINK_BYTES = 256


def estimate_size(span: ReadableSpan) -> int:
    """Roughly the bytes a finished span holds: fixed costs plus its string payloads.

    Runs on the application's thread for every span, so it reads the SDK's plain containers where
    it can (see ``frozen_attributes``): the public ``attributes``/``events``/``links`` go through
    ``BoundedAttributes``, a Python mapping, and copy, which made this several times slower.
    """
    size = _SPAN_BYTES + len(span.name or "") + _attributes_size(frozen_attributes(span))
    for event in span_events(span):
        size += _EVENT_BYTES + len(event.name) + _attributes_size(frozen_attributes(event))
    for link in span_links(span):
        size += _LINK_BYTES + _attributes_size(frozen_attributes(link))
    return size


def _attributes_size(attributes: Any) -> int:
    if not attributes:
        return 0
    size = _ATTRIBUTE_BYTES * len(attributes)
    for value in attributes.values():
        kind = type(value)  # a specialised call in 3.11; value.__class__ is a generic attribute lookup
        if kind is str:
            # What sys.getsizeof says (O(1)), without its cost (a __sizeof__ lookup and call, ~10x
            # len's) for ASCII text, which is a one-byte-per-character string plus a fixed header.
            size += len(value) + _ASCII_HEADER if value.isascii() else _getsizeof(value)
        elif kind in _SCALARS:
            continue
        elif isinstance(value, (tuple, list)):
            size += 8 * len(value)
            for item in value:
                if type(item) is str and item.isascii():
                    size += len(item) + _ASCII_HEADER
                else:
                    size += _getsizeof(item) if isinstance(item, (str, bytes)) else 32
        elif isinstance(value, (str, bytes)):
            size += _getsizeof(value)
    return size


class _Queued(NamedTuple):
    span: ReadableSpan
    size: int
    seq: int


# Made in C on the application's thread (a NamedTuple's own __new__ is Python code).
_queued: Callable[[tuple[ReadableSpan, int, int]], _Queued] = functools.partial(tuple.__new__, _Queued)


class _Flush:
    """One ``force_flush`` call waiting for every span queued before it."""

    __slots__ = ("target", "lost", "done")

    def __init__(self, target: int) -> None:
        self.target = target
        self.lost = False
        self.done = False


class BatchSpanProcessor(SpanProcessor):
    """Export finished spans in batches on a background thread, bounded by count and bytes.

    A span that does not fit (``max_queue_size`` spans or ``max_queue_bytes`` estimated bytes
    queued) is dropped and counted on the ``traceglass.spans.dropped`` counter of
    ``meter_provider`` (None: the global one), as are spans an export failed to deliver; a
    WARNING on the ``traceglass`` logger sums them up at most once a minute.
    ``force_flush(timeout)`` returns within its timeout, True only when every span ended before
    it was delivered and none was lost since the previous flush. ``shutdown`` is idempotent.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_export_batch_size: int = 512,
        schedule_delay_millis: float = 5000,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        meter_provider: Any = None,
        _warn_interval: float = _WARN_INTERVAL_S,
        _clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_export_batch_size <= 0 or max_queue_size <= 0 or max_queue_bytes <= 0 or schedule_delay_millis <= 0:
            raise ValueError("batch size, queue size, queue bytes and schedule delay must be positive")
        self._exporter = exporter
        self._batch_size = max_export_batch_size
        self._delay = schedule_delay_millis / 1000
        self._max_size = max_queue_size
        self._max_bytes = max_queue_bytes
        self._warn_interval = _warn_interval
        self._clock = _clock  # of the warning interval only
        meter = otel_metrics.get_meter("traceglass", __version__, meter_provider=meter_provider)
        self._dropped_counter = meter.create_counter(
            semconv.METRIC_SPANS_DROPPED, unit="{span}",
            description="Spans traceglass could not export: queue full, export failed, or after shutdown",
        )
        self._warn_lock = threading.Lock()
        self._unreported: dict[str, int] = {}
        self._last_warning = float("-inf")
        self._export_failures_logged = 0
        self._shutdown = False
        self._reset()
        reset_in_forked_child(self._reset)  # the parent exports what was queued

    def _reset(self) -> None:
        # A plain Lock (not the default RLock): every ended span takes it once.
        # ``_mutex`` is the condition's lock, taken directly where nothing waits (Condition's
        # __enter__ is a Python call).
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._queue: deque[_Queued] = deque()
        self._bytes = 0
        self._seq = 0  # the last span queued
        self._settled = 0  # every span up to this one was exported, or lost
        self._flushes: list[_Flush] = []
        self._lost_since_flush = 0
        self._woken = False
        self._abandon = False  # shutting down, out of time or the destination failing: export no more
        self._worker = threading.Thread(target=self._work, name="traceglass-batch-export", daemon=True)
        if not self._shutdown:
            self._worker.start()

    @property
    def span_exporter(self) -> SpanExporter:
        """The exporter this processor feeds (as the SDK's processor names it)."""
        return self._exporter

    # --- SpanProcessor ---------------------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def _on_start_forwards_to(self) -> tuple[SpanProcessor, ...]:
        """on_start reads no attribute (see ``_handler._span_start``)."""
        return ()

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags & _SAMPLED:
            return
        size = estimate_size(span)
        with self._mutex:
            if self._shutdown:
                reason = semconv.SPAN_DROP_SHUTDOWN
            elif len(self._queue) >= self._max_size or self._bytes + size > self._max_bytes:
                reason = semconv.SPAN_DROP_QUEUE_FULL
            else:
                self._seq += 1
                self._queue.append(_queued((span, size, self._seq)))
                self._bytes += size
                if len(self._queue) >= self._batch_size and not self._woken:
                    self._woken = True
                    self._cond.notify_all()
                return
            self._lost_since_flush += 1
        self._dropped(reason, 1)

    def force_flush(self, timeout_millis: int = DEFAULT_TIMEOUT_MILLIS) -> bool:
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        with self._cond:
            lost_before, self._lost_since_flush = self._lost_since_flush, 0
            if self._shutdown:
                return False
            if self._settled == self._seq:
                return lost_before == 0
            waiter = _Flush(self._seq)
            self._flushes.append(waiter)
            self._cond.notify_all()
            while not waiter.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._flushes.remove(waiter)
                    return False
                self._cond.wait(remaining)
        return lost_before == 0 and not waiter.lost

    def shutdown(self, timeout_millis: int = DEFAULT_TIMEOUT_MILLIS) -> None:
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        with self._cond:
            if self._shutdown:
                return
            self._shutdown = True
            self._cond.notify_all()
        if self._worker.is_alive():
            self._worker.join(max(0.0, deadline - time.monotonic()))
        if self._worker.is_alive():
            with self._cond:
                self._abandon = True
                left = len(self._queue)
            logger.warning("traceglass: the exporter did not finish within %.1f s at shutdown; %d queued spans "
                           "are not exported", timeout_millis / 1000, left)
        # The exporter's own shutdown may wait on a stuck export too: bounded by what is left.
        closer = threading.Thread(target=self._shutdown_exporter, name="traceglass-exporter-shutdown", daemon=True)
        closer.start()
        closer.join(max(0.0, deadline - time.monotonic()))

    # --- the export thread -----------------------------------------------------------------
    def _work(self) -> None:
        self._next_timer = time.monotonic() + self._delay
        while True:
            batch, abandoned = self._next_batch()
            if abandoned:
                self._dropped(semconv.SPAN_DROP_SHUTDOWN, abandoned)
            if batch is None:
                return
            if batch:
                ok = self._export(batch)
                self._settle(batch, ok)
                if not ok:
                    self._dropped(semconv.SPAN_DROP_EXPORT_FAILED, len(batch))
            self._warn_if_due()

    def _next_batch(self) -> tuple[list[_Queued] | None, int]:
        """Wait until a batch is due; return it (None: stop) and how many spans were given up on."""
        with self._cond:
            while not self._export_due():
                remaining = self._next_timer - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._woken = False
            if time.monotonic() >= self._next_timer:
                self._next_timer = time.monotonic() + self._delay
            abandoned = self._abandon_queue() if self._abandon else 0
            batch = self._take_batch()
            if not batch:
                self._settle_flushes()
                if self._shutdown:
                    return None, abandoned
            return batch, abandoned

    def _settle(self, batch: list[_Queued], ok: bool) -> None:
        with self._cond:
            self._settled = batch[-1].seq
            if not ok:
                self._lose(batch)
                if self._shutdown:
                    self._abandon = True  # shutting down and the destination fails: do not wait on it per batch
            self._settle_flushes()

    def _export_due(self) -> bool:
        if self._shutdown or len(self._queue) >= self._batch_size:
            return True
        return bool(self._queue) and any(w.target > self._settled for w in self._flushes)

    def _abandon_queue(self) -> int:
        """Give up on every queued span (shutdown ran out of time, or the exporter fails)."""
        lost = list(self._queue)
        if lost:
            self._queue.clear()
            self._bytes = 0
            self._settled = self._seq
            self._lose(lost)
        return len(lost)

    def _lose(self, items: list[_Queued]) -> None:
        """Tell each waiting flush whose spans were lost; the rest is told by the next flush."""
        covered = 0
        for waiter in self._flushes:
            if waiter.target >= items[0].seq:
                waiter.lost = True
                covered = max(covered, waiter.target)
        self._lost_since_flush += sum(1 for item in items if item.seq > covered)

    def _take_batch(self) -> list[_Queued]:
        count = min(self._batch_size, len(self._queue))
        batch = [self._queue.popleft() for _ in range(count)]
        self._bytes -= sum(item.size for item in batch)
        return batch

    def _settle_flushes(self) -> None:
        done = [w for w in self._flushes if w.target <= self._settled]
        if done:
            for waiter in done:
                waiter.done = True
            self._flushes = [w for w in self._flushes if not w.done]
            self._cond.notify_all()

    def _export(self, batch: list[_Queued]) -> bool:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))  # our own I/O is never traced
        try:
            return self._exporter.export([item.span for item in batch]) is SpanExportResult.SUCCESS
        except Exception:  # noqa: BLE001 - export() must not raise; one that does must not kill the thread
            self._export_failures_logged += 1
            level = logging.WARNING if self._export_failures_logged == 1 else logging.DEBUG
            logger.log(level, "traceglass: %s.export raised", type(self._exporter).__name__, exc_info=True)
            return False
        finally:
            detach(token)

    def _shutdown_exporter(self) -> None:
        try:
            self._exporter.shutdown()
        except Exception:  # noqa: BLE001
            logger.warning("traceglass: %s.shutdown raised", type(self._exporter).__name__, exc_info=True)

    # --- counting what is lost -------------------------------------------------------------
    def _dropped(self, reason: str, count: int) -> None:
        self._dropped_counter.add(count, {semconv.ERROR_TYPE: reason})
        if reason == semconv.SPAN_DROP_SHUTDOWN:
            return  # spans ending after shutdown: counted, not worth a warning
        with self._warn_lock:
            self._unreported[reason] = self._unreported.get(reason, 0) + count
        self._warn_if_due()

    def _warn_if_due(self) -> None:
        with self._warn_lock:
            now = self._clock()
            if not self._unreported or now - self._last_warning < self._warn_interval:
                return
            counts, self._unreported, self._last_warning = self._unreported, {}, now
        logger.warning(
            "traceglass: %d spans not exported (%s) since the last report; the queue holds at most %d spans "
            "or %d bytes: is the exporter's destination reachable?",
            sum(counts.values()), ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())),
            self._max_size, self._max_bytes,
        )
