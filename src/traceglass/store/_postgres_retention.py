"""Retention on PostgreSQL: delete whole traces (spans, summary, scores, per-trace alert state) by age
and/or size, a few at a time; by age, alert events too (evaluation runs stay, as on SQLite).

As :mod:`._retention` (SQLite), each step is its own short transaction. A trace's summary row is
locked before its spans are deleted, the lock span writers take first (see :mod:`._postgres_write`),
so a prune never deletes a trace half-way through another process's write of it. "Size" is the
live rows' bytes (``pg_column_size``): the space deleted rows held is reused by new rows after
autovacuum, not returned to the file system.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from traceglass._units import as_seconds, parse_size
from traceglass.store import _alert_history

DELETE_CHUNK = 200
_TABLES = ("spans", "span_data", "traces", "scores")


def delete_traces(conn: Any, trace_ids: Sequence[str]) -> int:
    if not trace_ids:
        return 0
    ids = sorted(set(trace_ids))
    with conn.transaction():
        numbers = [r[0] for r in conn.execute(
            "SELECT id FROM traces WHERE trace_id = ANY(%s) ORDER BY trace_id FOR UPDATE", (ids,))]
        if numbers:
            conn.execute("DELETE FROM span_data WHERE id IN (SELECT id FROM spans WHERE trace_no = ANY(%s))",
                         (numbers,))
            conn.execute("DELETE FROM spans WHERE trace_no = ANY(%s)", (numbers,))
            conn.execute("DELETE FROM traces WHERE id = ANY(%s)", (numbers,))
        conn.execute("DELETE FROM scores WHERE trace_id = ANY(%s)", (ids,))
        _alert_history.forget_traces(conn, ids, mark="%s")
    return len(numbers)


def used_bytes(conn: Any) -> int:
    """Bytes of the live rows of the traceglass tables (what ``max_size`` bounds). Exact, not the
    files' size: PostgreSQL keeps deleted rows' space for new rows rather than shrinking its files."""
    sql = " + ".join(f"(SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM {table} x)" for table in _TABLES)
    return int(conn.execute(f"SELECT {sql}").fetchone()[0])


def _prune_older(conn: Any, max_age_s: float, pause: float) -> int:
    cutoff = int((time.time() - max_age_s) * 1e9)
    deleted = 0
    while True:
        ids = [r[0] for r in conn.execute("SELECT trace_id FROM traces WHERE start_ns < %s ORDER BY start_ns LIMIT %s",
                                          (cutoff, DELETE_CHUNK))]
        if not ids:
            break
        deleted += delete_traces(conn, ids)
        if pause:
            time.sleep(pause)
    while conn.execute(
            "DELETE FROM scores WHERE no IN (SELECT c.no FROM scores c WHERE c.created_ns < %s AND NOT EXISTS "
            "(SELECT 1 FROM traces t WHERE t.trace_id = c.trace_id) ORDER BY c.created_ns LIMIT %s)",
            (cutoff, DELETE_CHUNK)).rowcount:
        if pause:
            time.sleep(pause)
    for sql, before in _alert_history.age_pruning_sql("%s", cutoff):
        while conn.execute(sql, (before, DELETE_CHUNK)).rowcount:
            if pause:
                time.sleep(pause)
    return deleted


def _prune_size(conn: Any, max_bytes: int, pause: float) -> int:
    # Measured once (a scan of every table): the oldest traces go until the spans deleted cover
    # the excess at the average span's size.
    used = used_bytes(conn)
    spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    if used <= max_bytes or not spans:
        return 0
    need = max(1, int((used - max_bytes) / (used / spans)) + 1)
    deleted = covered = 0
    while covered < need:
        ids = []
        for trace_id, count in conn.execute("SELECT trace_id, span_count FROM traces ORDER BY start_ns LIMIT %s",
                                            (DELETE_CHUNK,)):
            ids.append(trace_id)
            covered += count
            if covered >= need:
                break
        count = delete_traces(conn, ids) if ids else 0
        if not count:
            break
        deleted += count
        if pause:
            time.sleep(pause)
    return deleted


def prune(conn: Any, *, older_than: float | timedelta | None = None, max_size: int | str | None = None,
          pause: float = 0.0) -> int:
    deleted = 0
    if older_than is not None:
        deleted += _prune_older(conn, as_seconds(older_than), pause)
    if max_size is not None:
        deleted += _prune_size(conn, parse_size(max_size), pause)
    return deleted
