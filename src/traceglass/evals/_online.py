"""Online metrics: the scorers named on ``@observe(metrics=[...])`` / ``@trace_llm(metrics=[...])``,
run on each call after its span ends, their results attached as scores to that span.

The app's thread only reads the span's few facts a scorer needs (ids, latency, cost, model) and
appends them with the call's input and output to a bounded queue (the decorators call
:meth:`OnlineMetrics.submit` after the span has ended, so its export is never delayed). The span
itself is not kept: a queue of live spans (each a dozen objects the garbage collector tracks) made
the app's own collections several times dearer than the enqueue. One daemon worker thread builds
the :class:`EvalItem`, runs the scorers and emits each
result with ``traceglass.score(..., source="eval")``. A full queue drops the call (counted in
:func:`online_metrics_stats`); a scorer that raises or names nothing known is logged once per
scorer and the others still run. The worker runs each job in an empty context, so a judge's own
spans start new traces (marked ``traceglass.eval.judge``), never children of the app's span.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from traceglass import semconv
from traceglass._scoring import score as emit_score
from traceglass.decorators import set_online_metrics_listener
from traceglass.evals._item import COST_USD, LATENCY_MS, EvalItem
from traceglass.evals._registry import get_scorer
from traceglass.evals._scorer import score_arguments

logger = logging.getLogger("traceglass")

DEFAULT_MAX_QUEUE = 1_000


@dataclass(frozen=True)
class OnlineMetricsStats:
    """Counters since the process started: calls queued, scored (every scorer ran), dropped
    (queue full), and scorer runs that failed (raised, or unknown name)."""

    queued: int
    processed: int
    dropped: int
    failed: int
    pending: int


class OnlineMetrics:
    """A bounded queue of finished calls and the one worker thread that scores them."""

    def __init__(self, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError(f"max_queue must be a positive integer, got {max_queue!r}")
        self.max_queue = max_queue
        self._jobs: collections.deque[tuple[Any, ...]] = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = 0  # jobs taken off the queue and not finished yet
        self._idle = False  # the worker waits for a job (only then does submit notify it)
        self._queued = self._processed = self._dropped = self._failed = 0
        self._warned: set[str] = set()

    # --- the app's thread: an append, nothing else --------------------------------------------
    def submit(self, metrics: tuple[str, ...], span: Any, arguments: Any, output: Any) -> None:
        """Queue one finished call (the decorators' listener). Never blocks; drops when full."""
        facts = _span_facts(span)
        with self._cond:
            if len(self._jobs) >= self.max_queue:
                self._dropped += 1
                return
            self._jobs.append((metrics, facts, arguments, output))
            self._queued += 1
            if self._thread is None:
                self._start()
            elif self._idle:  # a busy worker finds the job itself: no wake-up to pay for
                self._cond.notify()

    def _start(self) -> None:
        # An empty context: the thread (and the judges' spans) inherit neither the app's span nor
        # its session, whatever instrumentation propagates contexts into new threads.
        thread = threading.Thread(target=contextvars.Context().run, args=(self._work,),
                                  name="traceglass-online-metrics", daemon=True)
        self._thread = thread
        thread.start()

    # --- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                job = self._jobs.popleft()
                self._busy += 1
            failed = 0
            try:
                failed = contextvars.Context().run(self._score, *job)
            except Exception as exc:  # our own fault: the worker keeps going
                failed = len(job[0])
                self._warn_once("online-metrics", "traceglass: online metrics failed on a span", exc)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._processed += 1
                    self._failed += failed
                    self._cond.notify_all()

    def _score(self, metrics: tuple[str, ...], facts: _SpanFacts, arguments: Any, output: Any) -> int:
        """Run each named scorer on the call; the number that failed."""
        if callable(arguments):  # the decorators defer binding the arguments to this thread
            arguments = arguments()
        item = _item(facts, arguments, output)
        failed = 0
        for name in metrics:
            try:
                scorer = get_scorer(name)
                result = scorer.score(item)
                if result is None:
                    continue
                fields = score_arguments(result)
                if fields["value"] is None:
                    continue
                emit_score(scorer.name, fields["value"], trace_id=item.trace_id, span_id=item.span_id,
                           comment=fields["comment"], source="eval", metadata=fields["metadata"] or None)
            except Exception as exc:  # the user's scorer (or its judge): logged once, the rest go on
                failed += 1
                self._warn_once(f"scorer:{name}", f"traceglass: online metric {name!r} failed "
                                "(further failures of it are logged at debug)", exc)
        return failed

    def _warn_once(self, key: str, message: str, exc: BaseException) -> None:
        if key in self._warned:
            logger.debug(message, exc_info=exc)
            return
        self._warned.add(key)
        logger.warning("%s: %s: %s", message, type(exc).__name__, exc)

    # --- waiting and counters -------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued call is scored (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def stats(self) -> OnlineMetricsStats:
        with self._cond:
            return OnlineMetricsStats(self._queued, self._processed, self._dropped, self._failed,
                                      len(self._jobs) + self._busy)


# (trace id, span id, latency ms, cost USD, model): atoms only, so the collector never traverses a
# queued job's facts; None where the span has no such value.
_SpanFacts = tuple[int, int, "float | None", "float | None", "str | None"]


def _span_facts(span: Any) -> _SpanFacts:
    context = span.get_span_context()
    latency = None
    start, end = getattr(span, "start_time", None), getattr(span, "end_time", None)
    if isinstance(start, int) and isinstance(end, int) and end >= start:
        latency = (end - start) / 1e6
    attributes = _readable(span)
    cost = None
    for key in (semconv.COST_TOTAL, semconv.ROLLUP_COST):
        value = attributes.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            cost = float(value)
            break
    model = attributes.get(semconv.GEN_AI_REQUEST_MODEL)
    return context.trace_id, context.span_id, latency, cost, model if isinstance(model, str) else None


def _readable(span: Any) -> Any:
    """The span's attributes, as the SDK's plain dict where it has one: through the public read-only
    view each missing key costs a Python-level lookup and a caught KeyError, on the app's thread.

    Relies on opentelemetry-sdk's ``BoundedAttributes._dict`` (1.x; checked on 1.45.2). Measured
    per call: the public view costs +3,400 instructions (+0.5 µs CPU) with cost and model set and
    +13,300 (+1.9 µs) with neither, against ~10,000 (1.1 µs) here. An SDK without it falls back to
    the public view; tests/evals/test_online_span_facts.py fails when that happens."""
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    if isinstance(inner, dict):
        return inner
    return getattr(span, "attributes", None) or {}


def _item(facts: _SpanFacts, arguments: Any, output: Any) -> EvalItem:
    trace_id, span_id, latency, cost, model = facts
    metadata: dict[str, Any] = {}
    if latency is not None:
        metadata[LATENCY_MS] = latency
    if cost is not None:
        metadata[COST_USD] = cost
    if model is not None:
        metadata["model"] = model
    return EvalItem(input=arguments, output=output, metadata=metadata,
                    trace_id=format(trace_id, "032x"), span_id=format(span_id, "016x"))


def item_from_span(span: Any, arguments: Any, output: Any) -> EvalItem:
    """The item of one finished call: its input/output, latency and cost, and its span's ids."""
    return _item(_span_facts(span), arguments, output)


_lock = threading.Lock()
_online = OnlineMetrics()


def configure_online_metrics(*, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
    """Bound the queue of calls waiting for their metrics (default 1,000; past it, calls are
    dropped and counted). Calls already queued under the previous bound still run."""
    global _online
    replacement = OnlineMetrics(max_queue)
    with _lock:
        _online = replacement


def flush_online_metrics(timeout: float = 10.0) -> bool:
    """Wait until the metrics of every finished call so far have run (False: ``timeout`` passed).
    Scores then sit in the log pipeline: ``traceglass.flush()`` writes them out."""
    return _online.flush(timeout)


def online_metrics_stats() -> OnlineMetricsStats:
    """How many calls were queued, scored, dropped (queue full) and how many scorer runs failed."""
    return _online.stats()


def _submit(metrics: tuple[str, ...], span: Any, arguments: Any, output: Any) -> None:
    _online.submit(metrics, span, arguments, output)


set_online_metrics_listener(_submit)

__all__ = ["OnlineMetrics", "OnlineMetricsStats", "configure_online_metrics", "flush_online_metrics",
           "item_from_span", "online_metrics_stats"]
