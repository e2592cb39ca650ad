"""``EvalSchedule``: evaluate the new traces every so often, in a background thread.

Each run is ``evaluate_traces(scorers, **filters)`` over the traces the filters select, minus the
(trace, span, scorer) these scorers already evaluated (a stored result that was not an error, or
an evaluation score of that name): running twice writes no duplicate scores, and a scorer added
later evaluates the old traces too. A run that fails is logged and the schedule goes on.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any, Callable

from traceglass._units import parse_duration
from traceglass.evals import _stores
from traceglass.evals._cron import Cron, parse_cron
from traceglass.evals._registry import get_scorer
from traceglass.evals._run import EvalRun, evaluate_traces

logger = logging.getLogger("traceglass")


class EvalSchedule:
    """Run ``scorers`` over the new traces ``every`` interval (``"24h"``, ``"15m"``, seconds) or
    at the times of ``cron`` (``"0 2 * * *"``: 02:00 local time every day); exactly one of the two.

    ``run_once()`` runs now, in the calling thread; ``start()`` runs on schedule in a daemon
    thread until ``stop()``. ``filters`` are ``TraceBridge.to_dataset``'s; ``concurrency``,
    ``judge`` and ``model`` are ``evaluate_traces``'s.
    """

    def __init__(self, scorers: Any, *, every: str | float | None = None, cron: str | None = None,
                 store: _stores.StoreLike = None, concurrency: int = 4, judge: Any = None,
                 model: str | None = None, **filters: Any) -> None:
        if (every is None) == (cron is None):
            raise ValueError("EvalSchedule needs exactly one of every= (e.g. '24h') or cron= (e.g. '0 2 * * *')")
        self.interval_s: float | None = None
        self.cron: Cron | None = None
        if every is not None:
            self.interval_s = parse_duration(every) if isinstance(every, str) else _seconds(every)
        else:
            self.cron = parse_cron(cron)  # type: ignore[arg-type]
        # Resolved now: a bad spec fails here, not in the background thread at 2 a.m.
        given = [scorers] if isinstance(scorers, str) or hasattr(scorers, "score") else list(scorers)
        self.scorers = [get_scorer(spec, judge=judge, model=model) for spec in given]
        self.name = "schedule"  # a schedules file names each one
        self.store = store
        self.concurrency = concurrency
        self.filters = filters
        self.runs = 0  # runs finished, successful or not
        self.last_run: EvalRun | None = None
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one run at a time (run_once beside the thread)
        self._done = threading.Condition()

    def next_run(self, after: datetime | None = None) -> datetime:
        """When the schedule runs next after ``after`` (default: now, local time)."""
        after = after or datetime.now()
        if self.cron is not None:
            return self.cron.next_after(after)
        return after + timedelta(seconds=self.interval_s or 0)

    def run_once(self) -> EvalRun:
        """Evaluate the traces not evaluated by these scorers yet; returns the run (stored)."""
        with self._lock:
            return evaluate_traces(self.scorers, store=self.store, concurrency=self.concurrency, progress=False,
                                   _only_new=True, **self.filters)

    def start(self) -> EvalSchedule:
        """Run on schedule in a background daemon thread (the first run at the first scheduled time)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="traceglass-eval-schedule", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the thread (a run in progress finishes first); idempotent."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def wait_for_runs(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` runs have finished (or ``timeout`` seconds); whether they have."""
        with self._done:
            return self._done.wait_for(lambda: self.runs >= count, timeout)

    def __enter__(self) -> EvalSchedule:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self, clock: Callable[[], datetime] = datetime.now) -> None:
        while not self._stop.is_set():
            now = clock()
            wait_s = max(0.0, (self.next_run(now) - now).total_seconds())
            if self._stop.wait(wait_s):
                return
            try:
                self.last_run = self.run_once()
                self.last_error = None
            except Exception as exc:  # a failed run is logged; the next one still comes
                self.last_error = exc
                logger.warning("traceglass: a scheduled evaluation run failed: %s: %s", type(exc).__name__, exc,
                               exc_info=exc)
            with self._done:
                self.runs += 1
                self._done.notify_all()


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError(f"every must be a positive duration such as '24h' or seconds, got {value!r}")
    return float(value)


__all__ = ["EvalSchedule"]
