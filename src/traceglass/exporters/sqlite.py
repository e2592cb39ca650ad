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
from traceglass.store._rows import SpanRow, row_from_span
from traceglass.store._writer import write_rows

logger = logging.getLogger("traceglass")

MAX_AGE_ENV = "TRACEGLASS_DB_MAX_AGE"
MAX_SIZE_ENV = "TRACEGLASS_DB_MAX_SIZE"
_RETENTION_INTERVAL_S = 60.0
# A batch another process keeps locked out is retried with growing pauses for this long (on top
# of each attempt's busy timeout), then dropped: the SDK's own export timeout is 30 s.
_RETRY_FOR_S = 30.0
_ATTEMPT_WAIT_MS = 1000  # each attempt's own wait for the lock (SQLite's busy timeout)
_FIRST_PAUSE_S = 0.05
_MAX_PAUSE_S = 1.0


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
    background thread in small deletes so export never waits for it. ``export`` never raises: a
    batch another process keeps locked out is retried for up to 30 s (until ``shutdown``); a
    read-only, missing or full database returns FAILURE and logs on ``traceglass``. A database
    file deleted while in use is noticed at the next export and created anew.
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
        _retry_for: float = _RETRY_FOR_S,
    ) -> None:
        self.path = _paths.resolve(path)
        env_age, env_size = _env_retention()
        self.max_age = _retention.as_seconds(max_age) if max_age is not None else env_age
        self.max_size = _retention.parse_size(max_size) if max_size is not None else env_size
        self._busy_timeout_ms = _busy_timeout_ms
        self._on_connect = _on_connect
        self._retention_interval = _retention_interval
        self._retry_for = _retry_for
        self._stop = threading.Event()  # set by shutdown(): ends a retry's wait
        self._lost = 0  # spans given up on during the current failure streak
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file the connection has open
        self._wal: tuple[int, int] | None = None  # and of its WAL file
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
                result = self._write(rows)
        except Exception as exc:  # noqa: BLE001 - a bug of ours: logged (raised under tests)
            report("SQLiteSpanExporter.export", exc)
            return SpanExportResult.FAILURE
        if result is not None:
            self._log_failure(result, len(spans))
            return SpanExportResult.FAILURE
        if self._failing:
            self._failing = False
            lost, self._lost = self._lost, 0
            logger.info("traceglass: exporting to %s works again (%d span(s) were lost meanwhile)", self.path, lost)
        self._maybe_apply_retention()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the database; idempotent. Ends an export's retries; waits briefly for a running retention pass."""
        self._shutdown = True
        self._stop.set()
        thread = self._retention_thread
        if thread is not None:
            thread.join(timeout=5)
        self._drop_connection()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are synchronous and committed before ``export`` returns: nothing is pending."""
        return True

    # -- internals ---------------------------------------------------------------------------
    def _write(self, rows: list[SpanRow]) -> BaseException | None:
        """Write ``rows``, retrying while another connection holds the write lock, for at most
        ``_retry_for`` seconds (or until shutdown); the error given up on, else None."""
        deadline = time.monotonic() + self._retry_for
        pause = _FIRST_PAUSE_S
        while True:
            try:
                with self._lock, FORK_LOCK:
                    write_rows(self._connection(), rows)
                    if self._wal is None:  # the WAL exists from the first write on, as long as we are open
                        self._wal = _identity(f"{self.path}-wal")
                    if self._checkpointer is not None:
                        self._checkpointer.wrote(sum(len(row.data[0]) for row in rows))
                return None
            except (sqlite3.Error, OSError, _schema.SchemaTooNewError) as exc:
                if not _is_busy(exc):
                    self._drop_connection()  # the next export starts from a fresh connection
                    return exc
                left = deadline - time.monotonic()
                if left <= 0 or self._shutdown:
                    return exc
                logger.debug("traceglass: %s is locked; retrying the export in %.2f s", self.path, pause)
                # Outside our locks: other threads may export meanwhile, and a fork may happen.
                if self._stop.wait(min(pause, left)):
                    return exc
                pause = min(pause * 2, _MAX_PAUSE_S)

    # -- internals ---------------------------------------------------------------------------
    def _reset_after_fork(self) -> None:
        # The parent's connection and threads do not exist here; locks may be held by them.
        self._lock = threading.Lock()
        self._retention_lock = threading.Lock()
        self._conn, self._checkpointer, self._retention_thread, self._wal = None, None, None, None
        self._stop = threading.Event()
        self._pid = os.getpid()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid != os.getpid():
            # A forked child must not use its parent's connection (nor its thread); open its own.
            self._conn, self._checkpointer, self._wal = None, None, None
        if self._conn is not None and (self._identity is None or self._identity != _identity(self.path)):
            # The file was deleted (or replaced) under us: writing on would go into an unlinked
            # inode nobody can read. Start a new database at the path.
            logger.warning("traceglass: the database %s was deleted or replaced while in use; "
                           "writing to a new one there", self.path)
            wal = self._wal
            self._close_connection()
            _remove_stale_wal(self.path, wal)
        if self._conn is None:
            # Short waits for the lock: the retry loop does the rest, and shutdown() can end it.
            conn = _schema.connect(self.path, busy_timeout_ms=min(self._busy_timeout_ms, _ATTEMPT_WAIT_MS))
            if self._checkpointer is None:
                try:
                    self._checkpointer = Checkpointer(self.path, self._busy_timeout_ms)
                except RuntimeError:  # no new threads at interpreter exit: checkpoint inline
                    self._checkpointer = None
            if self._checkpointer is not None:
                hand_over(conn)
            if self._on_connect is not None:
                self._on_connect(conn)
            self._conn, self._pid, self._identity = conn, os.getpid(), _identity(self.path)
        return self._conn

    def _drop_connection(self) -> None:
        with self._lock:
            self._close_connection()

    def _close_connection(self) -> None:
        """Close the connection and stop its checkpoints (caller holds ``_lock``)."""
        conn, self._conn, self._wal = self._conn, None, None
        checkpointer, self._checkpointer = self._checkpointer, None
        # The checkpointer's connection first: the last one to close removes the WAL file.
        if checkpointer is not None:
            checkpointer.close()
        if conn is not None and self._pid == os.getpid():
            try:
                with FORK_LOCK:
                    conn.close()
            except sqlite3.Error:
                pass

    def _log_failure(self, exc: BaseException, count: int) -> None:
        # One warning per failure streak: a locked database must not flood the application's log
        # (the recovery message counts what the streak lost).
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        self._lost += count
        logger.log(level, "traceglass: could not export %d span(s) to %s (dropped): %s", count, self.path, exc)

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


def _is_busy(exc: BaseException) -> bool:
    """Another connection holds the lock (SQLITE_BUSY or SQLITE_LOCKED): worth another try."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _remove_stale_wal(path: os.PathLike[str], ours: tuple[int, int] | None) -> None:
    """Remove the WAL our closed connection left beside a deleted or replaced database file.

    SQLite keeps the WAL of a file that moved away, and the next connection would replay its
    pages into whatever database now has the name. A WAL that is not ours (another process made
    the new database and writes to it) stays.
    """
    if os.path.exists(path) and (ours is None or _identity(f"{os.fspath(path)}-wal") != ours):
        return
    for suffix in ("-wal", "-shm"):
        try:
            os.remove(f"{os.fspath(path)}{suffix}")
        except OSError:
            pass


def _after_fork_in_child(ref: weakref.ref[SQLiteSpanExporter]) -> None:
    exporter = ref()
    if exporter is not None:
        exporter._reset_after_fork()
