"""Read-only stores beside the app's, for the dashboard's heavy reads.

The app's :class:`TraceStore` serializes its callers on one connection, so one heavy read (the
Aggregates tables or the header counts over a million spans: seconds) made every other request
wait. These readers are read-only stores of the same database, kept open and lent one per request
(at most :data:`MAX_READERS` at once; past that, or when the database cannot be opened a second
time, a request reads through the app's store as before). SQLite's WAL lets readers run beside the
writer; a PostgreSQL reader has its own connection pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from traceglass.store import TraceStore

logger = logging.getLogger("traceglass")

MAX_READERS = 4
T = TypeVar("T")


class Readers:
    """Lends read-only stores of ``store``'s database, one request at a time each."""

    def __init__(self, store: TraceStore, size: int = MAX_READERS) -> None:
        self.store = store
        self._size = size
        self._idle: list[TraceStore] = []
        self._open = 0  # readers made and not closed (idle or lent)
        self._lock = threading.Lock()
        self._closed = False
        self._unavailable = False  # the database cannot be opened a second time: the app's store only

    def run(self, func: Callable[[TraceStore], T]) -> T:
        """``func`` on a reader of its own (the app's store when none can be had)."""
        reader = self._borrow()
        if reader is None:
            return func(self.store)
        try:
            return func(reader)
        finally:
            self._give_back(reader)

    def ping(self) -> None:
        """The database answers (``TraceStore.ping``), asked on a reader: ``/readyz`` does not wait for
        a long query on the app's store and report a healthy replica as not ready."""
        self.run(lambda store: store.ping())

    def _borrow(self) -> TraceStore | None:
        with self._lock:
            if self._closed or self._unavailable:
                return None
            if self._idle:
                return self._idle.pop()
            if self._open >= self._size:
                return None
            self._open += 1
        try:
            return TraceStore(self.store.path, create=False, read_only=True)
        except Exception as exc:  # noqa: BLE001 - a memory database, a file gone, a server refusing more connections
            with self._lock:
                self._open -= 1
                self._unavailable = True
            logger.info("traceglass: dashboard reads share the app's store (no second connection: %s)", exc)
            return None

    def _give_back(self, reader: TraceStore) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(reader)
                return
            self._open -= 1
        reader.close()

    def close(self) -> None:
        """Close the idle readers; one lent out now is closed when it comes back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for reader in idle:
            reader.close()
