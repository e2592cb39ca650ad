"""Background WAL checkpoints, so an export never pays for copying the log into the database.

SQLite's automatic checkpoint runs inside the COMMIT of whichever write crosses the threshold,
and on a slow disk that is most of an export's time. The exporter's connection raises that
threshold to a safety net and this thread checkpoints (PASSIVE: never blocks writers or readers)
on its own connection after every few megabytes written or every second, in parallel with the
application: the sqlite3 module releases the GIL while SQLite works.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from opentelemetry.instrumentation.utils import suppress_instrumentation

from traceglass.store._forksafe import LOCK

logger = logging.getLogger("traceglass")

# WAL size after which a write's own COMMIT checkpoints anyway (if this thread falls behind).
_SAFETY_NET_BYTES = 64 * 1024 * 1024
_EVERY_BYTES = 8 * 1024 * 1024
_EVERY_SECONDS = 1.0


def hand_over(conn: sqlite3.Connection) -> None:
    """Leave ``conn``'s own automatic checkpoints as a safety net only: the thread does them."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute(f"PRAGMA wal_autocheckpoint = {_SAFETY_NET_BYTES // page_size}")


class Checkpointer:
    """Checkpoint ``path``'s WAL in a daemon thread; ``wrote(n)`` after each committed write."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._pending = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceglass-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self, size: int) -> None:
        self._pending += size
        if self._pending >= _EVERY_BYTES:
            self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after a last checkpoint; idempotent."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        self._pending = 0
        try:
            with LOCK:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # busy or gone: the next round tries again
            logger.debug("traceglass: checkpoint of %s failed: %s", self._path, exc)

    def _run(self) -> None:
        conn = None
        try:
            with suppress_instrumentation():
                with LOCK:
                    conn = sqlite3.connect(str(self._path), timeout=self._busy_timeout_ms / 1000,
                                           isolation_level=None, check_same_thread=False)
                while not self._stop.is_set():
                    self._wake.wait(_EVERY_SECONDS)
                    self._wake.clear()
                    if self._pending:
                        self._checkpoint(conn)
                self._checkpoint(conn)
        except Exception as exc:  # noqa: BLE001 - never take the application down from here
            logger.warning("traceglass: WAL checkpoints of %s stopped: %s", self._path, exc)
        finally:
            if conn is not None:
                with LOCK:
                    conn.close()
