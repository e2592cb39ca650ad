"""``TraceWriter``: the store's one write side, used by the SQLite exporter, the OTLP receiver and
``TraceStore.upsert_span``.

It owns the write connection and what keeping it healthy takes inside a traced application: a
fresh connection in a forked child, a new database when the file was deleted under us, retries
while another process holds the write lock (bounded, and cut short by ``close``), and retention
applied in a background thread so a write never waits for it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan

from traceglass._scores import Score, ScoreError, checked
from traceglass._units import as_seconds, parse_size
from traceglass.store import _open, _paths, _schema, _sqlite, _upsert
from traceglass.store._backend import Backend
from traceglass.store._models import SpanNode
from traceglass.store._rows import SpanRow, row_from_parts, row_from_span

logger = logging.getLogger("traceglass")

T = TypeVar("T")

RETENTION_INTERVAL_S = 60.0
_ATTEMPT_WAIT_MS = 1000  # each attempt's own wait for the lock (SQLite's busy timeout)
_FIRST_PAUSE_S = 0.05
_MAX_PAUSE_S = 1.0


class TraceWriter:
    """Write spans into the trace database at ``path`` (default: ``$TRACEGLASS_DB`` or the
    per-user data directory), each call in one transaction. Safe to share between threads.

    ``max_age`` (seconds or a timedelta) and ``max_size`` (bytes or ``"500MB"``) turn on retention,
    applied in a background thread, in small deletes, at most every minute. A write the database
    keeps locked out (another process writing) is retried with growing pauses for up to
    ``retry_for`` seconds, or until ``close``. The error given up on is raised: ``sqlite3.Error``,
    ``OSError`` or ``SchemaTooNewError`` (see :data:`STORAGE_ERRORS`). A database file deleted
    while in use is noticed at the next write and created anew.
    """

    #: The exceptions a write raises when the database (not the caller) is at fault.
    STORAGE_ERRORS = _sqlite.STORAGE_ERRORS

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_age: float | timedelta | None = None,
        max_size: int | str | None = None,
        retry_for: float = 30.0,
        _busy_timeout_ms: int = _schema.DEFAULT_BUSY_TIMEOUT_MS,
        _on_connect: Callable[[sqlite3.Connection], Any] | None = None,
        _retention_interval: float = RETENTION_INTERVAL_S,
    ) -> None:
        self.path = _paths.resolve(path)
        self.max_age = as_seconds(max_age) if max_age is not None else None
        self.max_size = parse_size(max_size) if max_size is not None else None
        self.retry_for = retry_for
        self._busy_timeout_ms = _busy_timeout_ms
        self._on_connect = _on_connect
        self._retention_interval = _retention_interval
        self._closed = False
        self._stop = threading.Event()  # set by close(): ends a retry's wait
        self._lock = threading.Lock()
        self._retention_lock = threading.Lock()
        self._db: Backend | None = None
        self._pid = os.getpid()
        self._last_retention = float("-inf")
        self._retention_thread: threading.Thread | None = None
        self._refused_names: set[str] = set()  # score names whose refusal was logged (once each)
        if hasattr(os, "register_at_fork"):
            # A thread of the parent may hold our locks at the fork; the child starts afresh.
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork_in_child(ref))

    # -- writing -----------------------------------------------------------------------------
    def write(self, spans: Sequence[ReadableSpan]) -> None:
        """Store finished SDK spans (re-written spans replace their stored copy) in one transaction."""
        if not spans:
            return
        self._write_rows([row_from_span(span) for span in spans])

    def _write_rows(self, rows: Sequence[SpanRow]) -> None:
        """Store converted rows (``row_from_span``/``row_from_parts``) in one transaction."""
        if not rows:
            return
        # Our own file I/O must never show up as spans (sqlite3 instrumentation, for one).
        with suppress_instrumentation():
            self._run(lambda db: db.write(rows))
        self._maybe_apply_retention()

    def upsert_span(self, span: Mapping[str, Any]) -> SpanNode:
        """Create a span from a plain dict, or update the stored one with the same ids (attributes and
        resource merged, events appended); the span as stored. Raises ValueError listing every problem."""
        body = span if isinstance(span, Mapping) else {}
        trace_id, span_id = body.get("trace_id"), body.get("span_id")

        def upsert(db: Backend) -> SpanNode:
            existing = None
            if isinstance(trace_id, str) and isinstance(span_id, str):
                existing = db.span_parts(trace_id, span_id)
            parts = _upsert.parts_from_dict(span, existing)
            db.write([row_from_parts(**parts)])
            stored = db.get_span(parts["trace_id"], parts["span_id"])
            assert stored is not None  # written in this very call, under our lock
            return stored

        with suppress_instrumentation():
            return self._run(upsert)

    def write_scores(self, scores: Sequence[Score]) -> list[Score]:
        """Store ``scores`` (same id: updated) in one transaction; returns the scores stored.

        A score that is not valid, or whose data type differs from the one its name already holds,
        is not stored (logged once per name). Storage errors raise as :meth:`write` says."""
        stored, refused = self._store_scores(scores)
        for score, error in refused:
            name = getattr(score, "name", None)
            key = name if isinstance(name, str) else repr(type(score))
            if key not in self._refused_names:
                self._refused_names.add(key)
                logger.warning("traceglass: a score named %r was not stored (%s); "
                               "further refusals of this name are not logged", name, error)
        return stored

    def _store_scores(self, scores: Sequence[Any]) -> tuple[list[Score], list[tuple[Any, ScoreError]]]:
        """The scores stored and, for each refused one, why (for ``write_scores`` and ``TraceStore.add_score``)."""
        valid: list[Score] = []
        refused: list[tuple[Any, ScoreError]] = []
        for score in scores:
            try:
                valid.append(checked(score))
            except ScoreError as exc:
                refused.append((score, exc))
        if valid:
            with suppress_instrumentation():
                stored, conflicts = self._run(lambda db: db.write_scores(valid))
            refused.extend(conflicts)
        else:
            stored = []
        self._maybe_apply_retention()
        return stored, refused

    def close(self) -> None:
        """Close the database; idempotent. Ends a write's retries; waits briefly for a running retention pass."""
        self._closed = True
        self._stop.set()
        thread = self._retention_thread
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            self._close_db()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TraceWriter({str(self.path)!r})"

    # -- internals ---------------------------------------------------------------------------
    def _run(self, step: Callable[[Backend], T]) -> T:
        """``step(db)`` under our lock, retried while another connection holds the write lock, for at
        most ``retry_for`` seconds (or until close); the error given up on is raised."""
        deadline = time.monotonic() + self.retry_for
        pause = _FIRST_PAUSE_S
        while True:
            if self._closed:
                raise sqlite3.ProgrammingError(f"the TraceWriter for {self.path} is closed")
            try:
                with self._lock:
                    return step(self._connection())
            except self.STORAGE_ERRORS as exc:
                if not _open.is_busy(exc):
                    self._drop_connection()  # the next write starts from a fresh connection
                    raise
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise
                logger.debug("traceglass: %s is locked; retrying the write in %.2f s", self.path, pause)
                # Outside our lock: other threads may write meanwhile, and a fork may happen.
                if self._stop.wait(min(pause, left)):
                    raise
                pause = min(pause * 2, _MAX_PAUSE_S)

    def _connection(self) -> Backend:
        """The write connection (caller holds ``_lock``), opened anew after a fork or a deleted file."""
        if self._db is not None and self._pid != os.getpid():
            # A forked child must not use its parent's connection (nor its thread); open its own.
            self._db = None
        if self._db is not None and self._db.replaced():
            logger.warning("traceglass: the database %s was deleted or replaced while in use; "
                           "writing to a new one there", self.path)
            self._close_db(stale=True)
        if self._db is None:
            # Short waits for the lock: the retry loop does the rest, and close() can end it.
            self._db = _open.open_writer(self.path, busy_timeout_ms=min(self._busy_timeout_ms, _ATTEMPT_WAIT_MS),
                                           checkpoint_busy_timeout_ms=self._busy_timeout_ms,
                                           on_connect=self._on_connect)
            self._pid = os.getpid()
        return self._db

    def _drop_connection(self) -> None:
        with self._lock:
            self._close_db()

    def _close_db(self, *, stale: bool = False) -> None:
        db, self._db = self._db, None
        if db is not None and self._pid == os.getpid():
            db.close(stale=stale)

    def _reset_after_fork(self) -> None:
        # The parent's connection and threads do not exist here; locks may be held by them.
        self._lock = threading.Lock()
        self._retention_lock = threading.Lock()
        self._db, self._retention_thread = None, None
        self._stop = threading.Event()
        self._pid = os.getpid()

    def _maybe_apply_retention(self) -> None:
        if self.max_age is None and self.max_size is None:
            return
        with self._retention_lock:  # writes from several threads start at most one pass
            now = time.monotonic()
            running = self._retention_thread is not None and self._retention_thread.is_alive()
            if running or now - self._last_retention < self._retention_interval:
                return
            self._last_retention = now
            thread = threading.Thread(target=self._apply_retention, name="traceglass-retention", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter exit: retention waits for the next run
                return
            self._retention_thread = thread

    def _apply_retention(self) -> None:
        try:
            with suppress_instrumentation():
                db = _open.open_backend(self.path, create=False, busy_timeout_ms=self._busy_timeout_ms)
                try:
                    # A short pause between slices lets writes take the write lock in between.
                    db.prune(older_than=self.max_age, max_size=self.max_size, pause=0.001)
                finally:
                    db.close()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("traceglass: retention on %s failed (retried later): %s", self.path, exc)
        except Exception as exc:
            logger.warning("traceglass: retention on %s failed", self.path, exc_info=exc)

    def _wait_for_retention(self, timeout: float = 30.0) -> None:
        """Test seam: wait for a running retention pass to finish."""
        thread = self._retention_thread
        if thread is not None:
            thread.join(timeout)


def _after_fork_in_child(ref: weakref.ref[TraceWriter]) -> None:
    writer = ref()
    if writer is not None:
        writer._reset_after_fork()
