"""Retention: delete whole traces (spans, summary, scores, per-trace alert state) by age and/or database
size, a few at a time; by age, alert events too (evaluation runs stay: they keep trace ids as text).

Each step is its own short transaction, so exports waiting on the write lock get in between.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta

from traceglass._units import as_seconds, parse_size
from traceglass.store import _alert_history, _resources, _search
from traceglass.store._transaction import write_transaction

DELETE_CHUNK = 200  # traces per transaction
_NO_LOCK = nullcontext()  # reusable: the default per-step context
_VACUUM_PAGES = 2000  # pages returned to the file system per transaction


def delete_traces(conn: sqlite3.Connection, trace_ids: Sequence[str]) -> int:
    """Delete the spans, summaries, scores and per-trace alert state of ``trace_ids`` in one
    transaction; returns how many traces existed (the scores of an id whose spans have not arrived go too)."""
    if not trace_ids:
        return 0
    marks = ",".join("?" * len(trace_ids))
    with write_transaction(conn):
        numbers = [row[0] for row in conn.execute(f"SELECT id FROM traces WHERE trace_id IN ({marks})", trace_ids)]
        if numbers:
            of = ",".join("?" * len(numbers))
            first = conn.execute(f"SELECT {_search.FIRST_ID}").fetchone()[0]
            if first is not None and _search.FTS5:  # the spans' words go with them
                _search.forget(conn, first, f"s.trace_no IN ({of})", numbers)
            elif first is not None:
                _search.abandon(conn)
            conn.execute(f"DELETE FROM span_data WHERE id IN (SELECT id FROM spans WHERE trace_no IN ({of}))", numbers)
            conn.execute(f"DELETE FROM spans WHERE trace_no IN ({of})", numbers)
            conn.execute(f"DELETE FROM traces WHERE id IN ({of})", numbers)
            conn.execute(_resources.FORGET)
        conn.execute(f"DELETE FROM scores WHERE trace_id IN ({marks})", trace_ids)
        _alert_history.forget_traces(conn, trace_ids)
    return len(numbers)


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the database file in use (free pages not counted)."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return (pages - free) * page_size


def prune_older(conn: sqlite3.Connection, max_age_s: float, *, now: float | None = None,
                chunk: int = DELETE_CHUNK, pause: float = 0.0, step: AbstractContextManager = _NO_LOCK) -> int:
    """Delete traces that started more than ``max_age_s`` seconds ago, with their scores, and the
    scores and per-trace alert state created before then whose trace is not stored, and the alert
    events created before then (one still "pending" a day later); returns the count of traces."""
    cutoff = int(((time.time() if now is None else now) - max_age_s) * 1e9)
    deleted = 0
    while True:
        with step:
            ids = [r[0] for r in conn.execute(
                "SELECT trace_id FROM traces WHERE start_ns < ? ORDER BY start_ns LIMIT ?", (cutoff, chunk))]
            if not ids:
                break
            deleted += delete_traces(conn, ids)
        if pause:
            time.sleep(pause)
    for sql, before in [(_ORPHANS, cutoff), *_alert_history.age_pruning_sql("?", cutoff)]:
        while True:
            with step:
                if not _delete_some(conn, sql, before, chunk):
                    break
            if pause:
                time.sleep(pause)
    return deleted


# Scores whose trace never arrived (or was deleted by another tool): by age, oldest first,
# over the scores_created index; each one's trace looked up in the traces' unique index.
_ORPHANS = """DELETE FROM scores WHERE no IN (SELECT c.no FROM scores c WHERE c.created_ns < ?
    AND NOT EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = c.trace_id) ORDER BY c.created_ns LIMIT ?)"""


def _delete_some(conn: sqlite3.Connection, sql: str, cutoff_ns: int, chunk: int) -> int:
    with write_transaction(conn):
        count = conn.execute(sql, (cutoff_ns, chunk)).rowcount
    return count


def prune_size(conn: sqlite3.Connection, max_bytes: int, *, chunk: int = DELETE_CHUNK, pause: float = 0.0,
               step: AbstractContextManager = _NO_LOCK) -> int:
    """Delete the oldest traces until the data fits in ``max_bytes``; returns the count.

    Each round estimates from the size and the span count how many of the oldest spans must go,
    deletes their traces, then merges the word index, whose deletions take space until merged (a
    size measured before that would ask for more deletions than needed), and measures again."""
    deleted = 0
    while True:
        with step:
            need = _spans_over(conn, max_bytes)
        if not need:
            return deleted
        while need > 0:
            with step:
                ids, covered = _oldest(conn, need, chunk)
                if not ids:
                    return deleted
                deleted += delete_traces(conn, ids)
            need -= covered
            if pause:
                time.sleep(pause)
        _search.merge(conn, pause=pause, step=step)


def _spans_over(conn: sqlite3.Connection, max_bytes: int) -> int:
    """How many spans, of the average size, hold the bytes above ``max_bytes`` (0: it fits)."""
    used = used_bytes(conn)
    if used <= max_bytes:
        return 0
    spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    return int((used - max_bytes) / (used / spans)) + 1 if spans else 0


def _oldest(conn: sqlite3.Connection, spans: int, chunk: int) -> tuple[list[str], int]:
    """The oldest traces (at most ``chunk``) holding at least ``spans`` spans, and how many they hold."""
    ids, covered = [], 0
    for trace_id, count in conn.execute("SELECT trace_id, span_count FROM traces ORDER BY start_ns LIMIT ?",
                                        (chunk,)):
        ids.append(trace_id)
        covered += count
        if covered >= spans:
            break
    return ids, covered


def release_space(conn: sqlite3.Connection, *, pause: float = 0.0,
                  step: AbstractContextManager = _NO_LOCK) -> None:
    """Give free pages back to the file system, a slice per transaction (incremental auto-vacuum)."""
    with step:
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # 2 = INCREMENTAL
            return
    while True:
        with step:
            if not conn.execute("PRAGMA freelist_count").fetchone()[0]:
                break
            conn.execute(f"PRAGMA incremental_vacuum({_VACUUM_PAGES})").fetchall()
        if pause:
            time.sleep(pause)
    # Fold the WAL back into the database so the file sizes on disk reflect the pruning.
    with step:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def prune(conn: sqlite3.Connection, *, older_than: float | timedelta | None = None,
          max_size: int | str | None = None, pause: float = 0.0,
          step: AbstractContextManager = _NO_LOCK) -> int:
    """Apply retention: age first, then size; free space is returned to the file system.

    Each small step runs inside ``step`` (a lock, for the exporter's background thread)."""
    deleted = 0
    if older_than is not None:
        deleted += prune_older(conn, as_seconds(older_than), pause=pause, step=step)
    if max_size is not None:
        deleted += prune_size(conn, parse_size(max_size), pause=pause, step=step)
    with step:
        due = _search.merge_due(conn)
    if due:  # the index's deletions take space until merged
        _search.merge(conn, pause=pause, step=step)
    if deleted:
        release_space(conn, pause=pause, step=step)
    return deleted
