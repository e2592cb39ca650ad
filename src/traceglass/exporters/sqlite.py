"""The bundled SQLite span exporter: every trace on the developer's own disk.

    from traceglass.exporters import SQLiteSpanExporter
    provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter()))

Also registered as the ``traceglass_sqlite`` entry point of ``opentelemetry_traces_exporter``
(``OTEL_TRACES_EXPORTER=traceglass_sqlite``), where it is created with no arguments and reads
``TRACEGLASS_DB``, ``TRACEGLASS_DB_MAX_AGE`` and ``TRACEGLASS_DB_MAX_SIZE``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from traceglass._guard import report
from traceglass.store import _paths, _retention, _schema
from traceglass.store._checkpointer import Checkpointer, hand_over
from traceglass.store._forksafe import LOCK as FORK_LOCK
from traceglass.store._rows import row_from_span
from traceglass.store._writer import write_rows

logger = logging.getLogger("traceglass")

MAX_AGE_ENV = "TRACEGLASS_DB_MAX_AGE"
MAX_SIZE_ENV = "TRACEGLASS_DB_MAX_SIZE"
_RETENTION_INTERVAL_S = 60.0


def _env_retention() -> tuple[float | None, int | None]:
    from traceglass.store._time import parse_duration

    age = size = None
    raw_age, raw_size = os.environ.get(MAX_AGE_ENV, "").strip(), os.environ.get(MAX_SIZE_ENV, "").strip()
    if raw_age:
        try:
            age = parse_duration(raw_age)
        except ValueError as exc:
            logger.warning("ignoring %s=%r: %s", MAX_AGE_ENV, raw_age, exc)
    if raw_size:
        try:
            size = _retention.parse_size(raw_size)
        except ValueError as exc:
            logger.warning("ignoring %s=%r: %s", MAX_SIZE_ENV, raw_size, exc)
    return age, size


class SQLiteSpanExporter(SpanExporter):
    """Write finished spans to a SQLite file (WAL mode; one transaction per batch).

    ``path`` defaults to ``$TRACEGLASS_DB`` or the per-user data directory. ``max_age`` (seconds
    or a timedelta) and ``max_size`` (bytes or ``"500MB"``) turn on retention, applied in a
    background thread in small deletes so export never waits for it. ``export`` never raises:
    a locked, read-only, missing or full database returns FAILURE and logs on ``traceglass``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_age: float | timedelta | None = None,
        max_size: int | str | None = None,
        _busy_timeout_ms: int = _schema.DEFAULT_BUSY_TIMEOUT_MS,
        _on_connect: Callable[[sqlite3.Connection], Any] | None = None,
        _retention_interval: float = _RETENTION_INTERVAL_S,
    ) -> None:
        self.path = _paths.resolve(path)
        env_age, env_size = _env_retention()
        self.max_age = _retention.as_seconds(max_age) if max_age is not None else env_age
        self.max_size = _retention.parse_size(max_size) if max_size is not None else env_size
        self._busy_timeout_ms = _busy_timeout_ms
        self._on_connect = _on_connect
        self._retention_interval = _retention_interval
        self._lock = threading.Lock()
        self._retention_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._shutdown = False
        self._failing = False
        self._last_retention = float("-inf")
        self._retention_thread: threading.Thread | None = None
        self._checkpointer: Checkpointer | None = None
        if hasattr(os, "register_at_fork"):
            # A thread of the parent may hold our locks at the fork; the child starts afresh.
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork_in_child(ref))

    # -- SpanExporter ------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        try:
            # Our own file I/O must never show up as spans (sqlite3 instrumentation, for one).
            with suppress_instrumentation():
                rows = [row_from_span(span) for span in spans]
                with self._lock, FORK_LOCK:
                    write_rows(self._connection(), rows)
                    if self._checkpointer is not None:
                        self._checkpointer.wrote(sum(len(row.data[0]) for row in rows))
        except (sqlite3.Error, OSError, _schema.SchemaTooNewError) as exc:
            self._log_failure(exc, len(spans))
            self._drop_connection()
            return SpanExportResult.FAILURE
        except Exception as exc:  # noqa: BLE001 - a bug of ours: logged (raised under tests)
            report("SQLiteSpanExporter.export", exc)
            return SpanExportResult.FAILURE
        if self._failing:
            self._failing = False
            logger.info("traceglass: exporting to %s works again", self.path)
        self._maybe_apply_retention()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the database; idempotent. Waits briefly for a running retention pass."""
        self._shutdown = True
        thread = self._retention_thread
        if thread is not None:
            thread.join(timeout=5)
        self._drop_connection()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are synchronous and committed before ``export`` returns: nothing is pending."""
        return True

    # -- internals ---------------------------------------------------------------------------
    def _reset_after_fork(self) -> None:
        # The parent's connection and threads do not exist here; locks may be held by them.
        self._lock = threading.Lock()
        self._retention_lock = threading.Lock()
        self._conn, self._checkpointer, self._retention_thread = None, None, None
        self._pid = os.getpid()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid != os.getpid():
            # A forked child must not use its parent's connection (nor its thread); open its own.
            self._conn, self._checkpointer = None, None
        if self._conn is None:
            conn = _schema.connect(self.path, busy_timeout_ms=self._busy_timeout_ms)
            if self._checkpointer is None:
                try:
                    self._checkpointer = Checkpointer(self.path, self._busy_timeout_ms)
                except RuntimeError:  # no new threads at interpreter exit: checkpoint inline
                    self._checkpointer = None
            if self._checkpointer is not None:
                hand_over(conn)
            if self._on_connect is not None:
                self._on_connect(conn)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _drop_connection(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.close()
        if conn is not None and self._pid == os.getpid():
            try:
                with FORK_LOCK:
                    conn.close()
            except sqlite3.Error:
                pass

    def _log_failure(self, exc: BaseException, count: int) -> None:
        # One warning per failure streak: a locked database must not flood the application's log.
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        logger.log(level, "traceglass: could not export %d span(s) to %s: %s", count, self.path, exc)

    def _maybe_apply_retention(self) -> None:
        if self.max_age is None and self.max_size is None:
            return
        with self._retention_lock:  # exports from several threads start at most one pass
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
                with FORK_LOCK:
                    conn = _schema.connect(self.path, create=False, busy_timeout_ms=self._busy_timeout_ms)
                try:
                    # A short pause between slices lets exports take the write lock in between.
                    _retention.prune(conn, older_than=self.max_age, max_size=self.max_size, pause=0.001,
                                     step=FORK_LOCK)
                finally:
                    with FORK_LOCK:
                        conn.close()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("traceglass: retention on %s failed (retried later): %s", self.path, exc)
        except Exception as exc:
            logger.warning("traceglass: retention on %s failed", self.path, exc_info=exc)

    def _wait_for_retention(self, timeout: float = 30.0) -> None:
        """Test seam: wait for a running retention pass to finish."""
        thread = self._retention_thread
        if thread is not None:
            thread.join(timeout)


def _after_fork_in_child(ref: weakref.ref[SQLiteSpanExporter]) -> None:
    exporter = ref()
    if exporter is not None:
        exporter._reset_after_fork()
