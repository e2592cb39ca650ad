"""Span ends handed to a background thread, so the processors behind run off the application's.

A span ends inside the traced call: whatever the processors do in ``on_end`` is latency on that
call. Behind ``configure()``'s fan-out they price the span, roll its usage up, copy it and size it
for the export queue's byte bound, ~100,000 instructions a span (``benchmarks/bench_span_chain.py``)
against the ~7,000 of the SDK's batch processor that the peers' setups stop at. Here the calling
thread appends the ended span to a queue (a deque: one atomic call, no lock) and one thread
hands the spans on, in the order they ended, so roll-ups still see a span's children first.

Nothing is lost or unbounded: past ``max_pending`` spans waiting (a worker starved of the GIL), each
calling thread hands on the oldest waiting span before it queues its own: the order holds, memory
stays bounded, and each span costs its thread what it did before the hand-off (plus, at most, a wait
for the worker's current round of ``_ROUND`` spans), not a whole queue's work at once.
``force_flush`` and ``shutdown`` wait for every span handed over before them, bounded by time.
``on_start`` and ``_on_ending`` (which need the live span) still run on the calling thread.

A span's maker may also queue work that must happen before its span can end (``defer``, found by
``traceglass._deferred_end``): the hand-off thread runs it in the queue's order, and the span it ends
there is handed on at once, in the task's place.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from traceglass._after_fork import reset_in_forked_child
from traceglass._deferred_end import RUNNING, run_task, running_owner
from traceglass._guard import report
from traceglass.processors._fanout import ending_hooks, flush_all, remaining_millis

logger = logging.getLogger("traceglass")

DEFAULT_MAX_PENDING = 4096
# Spans the worker hands on per hold of the ending lock: a caller past the bound waits at most this many.
_ROUND = 32
_STOP_TIMEOUT_S = 30.0
# Deferred tasks waiting at most (each may hold a stream's 256 kept chunks, where a span is one span):
# past it, the deferring thread runs the oldest waiting items itself, as past ``max_pending``.
MAX_WAITING_TASKS = 64


class _Marker:
    """Queued by ``force_flush``/``drain``: reached once every span queued before it was handed on."""

    __slots__ = ("reached",)

    def __init__(self) -> None:
        self.reached = threading.Event()


class _Task:
    """Queued by ``defer``: work to run on the hand-off thread in the queue's order."""

    __slots__ = ("run",)

    def __init__(self, run: Callable[[], None]) -> None:
        self.run = run


class HandOffSpanProcessor(SpanProcessor):
    """Hand ended spans to ``downstream`` processors on a background thread, in the order they ended."""

    defers_span_work = True  # see traceglass._deferred_end
    _token_queue = deque  # where the worker's wake-up token waits (a test puts a span in its way)

    def __init__(self, downstream: Sequence[SpanProcessor], *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if max_pending <= 0:
            raise ValueError("max_pending must be positive")
        self._downstream: tuple[SpanProcessor, ...] = tuple(downstream)
        self._endings = ending_hooks(self._downstream)
        self._max_pending = max_pending
        self._shut = False
        self._faults: list[BaseException] = []  # under the test suite: raised again by force_flush
        self._reset()
        reset_in_forked_child(self._reset)

    def _reset(self) -> None:
        self._pending: deque[Any] = deque()  # ended spans and flush markers, oldest first
        # Tasks deferred (numbered by an atomic next()) and tasks run (counted under ``_ending``).
        self._task_numbers = itertools.count(1)
        self._tasks_run = 0
        # The worker's wake-up: it holds one token here while it waits on ``_signal``; whoever pops
        # the token (an atomic deque call: exactly one caller gets it) releases ``_signal`` once.
        self._idle: deque[None] = self._token_queue()
        self._signal = threading.Lock()
        self._signal.acquire()
        # Held by whoever hands queued spans on, so they go in order (re-entrant: a processor behind
        # that ends a span of its own on this thread must not deadlock).
        self._ending = threading.RLock()
        self._stopping = False
        self._worker = threading.Thread(target=self._work, name="traceglass-span-end", daemon=True)
        if not self._shut:
            self._worker.start()

    @property
    def downstream(self) -> tuple[SpanProcessor, ...]:
        """The processors ended spans are handed to."""
        return self._downstream

    # --- SpanProcessor ---------------------------------------------------------------------
    def _on_start_forwards_to(self) -> tuple[SpanProcessor, ...]:
        """on_start reads no attribute, and hands the span to these (see ``_handler._span_start``)."""
        return self._downstream

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for processor in self._downstream:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        for hook in self._endings:
            hook(span)

    def on_end(self, span: ReadableSpan) -> None:
        if RUNNING and running_owner() is self:
            self._end(span)  # ended by a deferred task: handed on in the task's place in the queue
            return
        pending = self._pending
        if self._shut:  # no worker any more: what waits, then this span, here
            # (not waiting for a processor that was stuck past shutdown and holds the lock still)
            if self._ending.acquire(blocking=False):
                try:
                    self._end_queued(None)
                finally:
                    self._ending.release()
            self._end(span)
            return
        if len(pending) >= self._max_pending:
            # The worker is behind: this thread hands on the oldest waiting span, making room for its
            # own at the back (the order holds, and each span ended costs its thread one span's work).
            with self._ending:
                self._end_queued(1)
        pending.append(span)
        if self._idle:
            self._wake()

    def defer(self, task: Callable[[], None]) -> bool:
        """Queue ``task`` to run on the hand-off thread, after every span ended before it and before
        every span ended after it; a span the task ends is handed on in its place. False (nothing
        queued) once shut down: the caller runs the task itself. A task that raises is reported as a
        processor that raises is. Past ``MAX_WAITING_TASKS`` tasks waiting (a task may hold a stream's
        kept chunks) or ``max_pending`` items, the caller first runs the oldest waiting items itself."""
        if self._shut:
            return False
        pending = self._pending
        earlier = next(self._task_numbers) - 1  # tasks deferred before this one
        if len(pending) >= self._max_pending or earlier - self._tasks_run >= MAX_WAITING_TASKS:
            with self._ending:  # the worker is behind: hand on the oldest waiting items here
                self._end_queued(1)
                while pending and earlier - self._tasks_run >= MAX_WAITING_TASKS:
                    self._end_queued(1)
        pending.append(_Task(task))
        if self._idle:
            self._wake()
        return True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Hand on every span ended before the call, then flush ``downstream``, all within the timeout."""
        deadline = time.monotonic() + max(0, timeout_millis) / 1000
        reached = self.drain(timeout_millis)
        if self._faults:
            raise self._faults.pop(0)
        return flush_all(self._downstream, remaining_millis(deadline)) and reached

    def drain(self, timeout_millis: int = 30000) -> bool:
        """Wait (at most ``timeout_millis``) until every span ended before the call was handed on."""
        if not self._worker.is_alive():
            with self._ending:
                self._end_queued(None)
            return True
        marker = _Marker()
        self._pending.append(marker)
        if self._idle:
            self._wake()
        return marker.reached.wait(max(0, timeout_millis) / 1000)

    def shutdown(self, timeout_millis: float = _STOP_TIMEOUT_S * 1000) -> None:
        """Hand on what waits (waiting for the worker at most ``timeout_millis``), then shut ``downstream``."""
        if self._shut:
            return
        self._shut = True  # spans ending from now on are handed on by their own thread
        self._stopping = True
        if self._worker.is_alive():
            self._wake()
            self._worker.join(max(0, timeout_millis) / 1000)
        if self._worker.is_alive():
            logger.warning("traceglass: a span processor was still busy after %.1f s at shutdown; %d spans waiting "
                           "for it are not handed on", timeout_millis / 1000,
                           sum(1 for item in self._pending if item.__class__ is not _Marker))
        else:
            with self._ending:
                self._end_queued(None)
        for processor in self._downstream:
            processor.shutdown()

    # --- the hand-off thread ---------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._idle.pop()
        except IndexError:
            return  # another thread took the token (and woke the worker) first
        self._signal.release()

    def _work(self) -> None:
        pending, idle = self._pending, self._idle
        while True:
            while pending:
                with self._ending:
                    self._end_queued(_ROUND)
            if self._stopping:
                return
            idle.append(None)
            if pending or self._stopping:  # queued after the last look: take the token back
                try:
                    idle.pop()
                except IndexError:
                    self._signal.acquire()  # a caller took it and releases the signal: consume that
                continue
            self._signal.acquire()  # until a caller pops the token and releases

    def _end_queued(self, limit: int | None) -> None:
        """Hand on up to ``limit`` queued spans (None: all), oldest first. The caller holds ``_ending``."""
        pending = self._pending
        count = 0
        while pending and (limit is None or count < limit):
            item = pending.popleft()
            count += 1
            kind = item.__class__
            if kind is _Marker:
                item.reached.set()
            elif kind is _Task:
                self._run(item)
            else:
                self._end(item)

    def _end(self, span: ReadableSpan) -> None:
        for processor in self._downstream:
            try:
                processor.on_end(span)
            except Exception as exc:  # noqa: BLE001 - the next processor, and the next span, still go
                self._fault("hand_off.on_end", exc)

    def _run(self, task: _Task) -> None:
        """Run a deferred task; the caller holds ``_ending``, so one task runs at a time."""
        try:
            run_task(self, task.run)
        except Exception as exc:  # noqa: BLE001 - the task's maker's fault: the queue goes on
            self._fault("hand_off.task", exc)
        finally:
            self._tasks_run += 1

    def _fault(self, where: str, exc: Exception) -> None:
        try:
            report(where, exc)
        except Exception:  # noqa: BLE001 - the test suite's mode: loud at the next flush
            self._faults.append(exc)


__all__ = ["DEFAULT_MAX_PENDING", "MAX_WAITING_TASKS", "HandOffSpanProcessor"]
