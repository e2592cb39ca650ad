"""Alerts in the server: rules evaluated in the background, and ``GET /api/alerts``.

:class:`AlertRunner` owns one thread, its own store connection and a notification dispatcher: the
window rules run every ``interval`` seconds, the per-trace rules as soon as the OTLP receiver has
stored a batch (the receiver only hands the trace ids over, through a bounded queue, and never
waits). A notifier that is down delays nothing but its own deliveries.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from traceglass._guard import report
from traceglass.alerts import AlertEngine, AlertRules, Dispatcher
from traceglass.server._rest import ApiError
from traceglass.store import TraceStore

logger = logging.getLogger("traceglass.alerts")

# Batches of trace ids waiting for the per-trace rules; beyond this the scheduled pass catches them.
_PENDING = 1000
_RECENT_S = 3600  # how long a per-trace alert shows among the firing ones
_DEFAULT_LIMIT, _MAX_LIMIT = 50, 500


class AlertRunner:
    """Evaluates ``rules`` over the database at ``db_path`` until :meth:`close`."""

    def __init__(self, db_path: str | os.PathLike[str], rules: AlertRules) -> None:
        self.rules = rules
        self.store = TraceStore(db_path)
        self.dispatcher = Dispatcher(self.store.set_alert_delivery)
        self.engine = AlertEngine(rules, self.store, dispatcher=self.dispatcher)
        self._pending: queue.Queue[list[str]] = queue.Queue(_PENDING)
        self._stop = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="traceglass-alerts", daemon=True)
        self._thread.start()

    def traces_written(self, trace_ids: Iterable[str]) -> None:
        """Queue just-stored traces for the per-trace rules; never blocks (a full queue drops them: the
        next scheduled pass looks at every trace of the rules' windows anyway)."""
        ids = list(trace_ids)
        if ids:
            try:
                self._pending.put_nowait(ids)
            except queue.Full:
                pass

    def _run(self) -> None:
        next_pass = time.monotonic()
        while not self._stop.is_set():
            wait = next_pass - time.monotonic()
            if wait <= 0:
                self._guarded(self.engine.evaluate)
                next_pass = time.monotonic() + self.rules.interval
                continue
            try:
                ids = self._pending.get(timeout=min(wait, 1.0))
            except queue.Empty:
                continue
            if ids:  # an empty batch is close()'s wake-up call
                self._guarded(lambda: self.engine.check_traces(ids))

    def _guarded(self, work: Any) -> None:
        try:
            work()
        except (sqlite3.Error, OSError) as exc:  # locked past the busy timeout, read-only, full: next time
            self._storage_failed(exc)
        except Exception as exc:  # noqa: BLE001 - a bug of ours: logged (raised under tests)
            report("AlertRunner", exc)
        else:
            if self._failing:
                self._failing = False
                logger.info("traceglass: evaluating alert rules works again")

    def _storage_failed(self, exc: BaseException) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        logger.log(level, "traceglass: could not evaluate the alert rules (will retry): %s", exc)

    def close(self) -> None:
        """Stop evaluating and notifying (pending retries end at once); idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            self._pending.put_nowait([])
        except queue.Full:
            pass
        self._thread.join(10)
        self.dispatcher.close()
        self.store.close()


def _limit(text: str | None) -> int:
    if text is None or text == "":
        return _DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"limit must be an integer, got {text!r}") from None
    if not 1 <= value <= _MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {_MAX_LIMIT}, got {value}")
    return value


class AlertsApi:
    """``GET /api/alerts``: what fires now, and the history (newest first)."""

    def __init__(self, store: TraceStore, runner: AlertRunner | None) -> None:
        self.store = store
        self.runner = runner

    async def get(self, request: Request) -> Response:
        params = request.query_params
        limit = _limit(params.get("limit"))
        rule = params.get("rule") or None
        since = params.get("since") or None
        try:
            return JSONResponse(await run_in_threadpool(self._read, limit, rule, since))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    def _read(self, limit: int, rule: str | None, since: str | None) -> dict[str, Any]:
        history = self.store.alert_history(rule=rule, since=since, limit=limit)
        now_ns = time.time_ns()
        # What fires now, read by the database: a per-trace rule keeps a row per trace it ever fired for.
        current = [state for state in self.store.alert_state(active_since=(now_ns - _RECENT_S * 10**9) / 1e9).values()
                   if state.status == "firing" or (state.status == "fired" and now_ns - state.since_ns < _RECENT_S * 1e9)]
        firing = []
        if current:
            # Each firing group's latest event says what it is (its message, severity, link).
            latest: dict[tuple[str, str], dict[str, Any]] = {}
            for record in self.store.alert_history(limit=_MAX_LIMIT * 4):
                latest.setdefault((record.rule, record.group_key), record.to_dict())
            for state in sorted(current, key=lambda s: -s.since_ns):
                event = latest.get((state.rule, state.group_key))
                if event is not None and event.get("state") == "firing":
                    firing.append({**event, "value": state.value, "since_ns": state.since_ns})
        rules = [r.to_dict() for r in self.runner.rules.rules] if self.runner is not None else []
        return {"rules": rules, "firing": firing, "history": [record.to_dict() for record in history]}
