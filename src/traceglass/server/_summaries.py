"""The trace-list columns the store's ``TraceSummary`` does not carry: root span type and models.

Read with one parameterized query per page over the store's ``spans``/``traces`` tables.
When ``TraceSummary`` grows ``type``/``models`` fields of its own, they are used instead.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from traceglass.store import _schema

_EXTRAS = """SELECT t.trace_id,
    (SELECT s.span_type FROM spans s WHERE s.trace_no = t.id AND s.span_id = t.root_span_id),
    (SELECT group_concat(m, char(31)) FROM (SELECT DISTINCT s.model AS m FROM spans s
        WHERE s.trace_no = t.id AND s.model IS NOT NULL ORDER BY s.model))
    FROM traces t WHERE t.trace_id IN ({marks})"""


class SummaryExtras:
    """Adds ``type`` (of the root span) and ``models`` (every model the trace called) to list rows."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def add(self, rows: Sequence[dict[str, Any]], summaries: Sequence[Any]) -> None:
        if not rows:
            return
        own = all(hasattr(s, "type") and hasattr(s, "models") for s in summaries)
        if own:
            for row, summary in zip(rows, summaries):
                row["type"], row["models"] = summary.type, list(summary.models or [])
            return
        ids = [row["trace_id"] for row in rows]
        with self._lock:
            if self._conn is None:
                self._conn = _schema.connect(self._path, create=False)
            found = {trace_id: (span_type, models) for trace_id, span_type, models in
                     self._conn.execute(_EXTRAS.format(marks=", ".join("?" * len(ids))), ids)}
        for row in rows:
            span_type, models = found.get(row["trace_id"], (None, None))
            row["type"] = span_type
            row["models"] = models.split("\x1f") if models else []

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
