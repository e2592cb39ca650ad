"""The SQLite implementation of the storage seam (:class:`~traceglass.store._backend.Backend`).

One connection to a traceglass database file, and what SQLite alone needs around it: a writer's
background WAL checkpoints, noticing that the file was deleted or replaced under an open
connection (and removing the WAL such a connection leaves behind), telling a locked database
from a broken one, and holding the fork gate around every step of a writer. The SQL itself lives
in :mod:`._schema` (opening, migrations), :mod:`._writer` (a batch of rows), :mod:`._queries`
(reads) and :mod:`._retention` (deletes).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from traceglass._scores import Score, ScoreError
from traceglass.store import _alert_history, _alert_queries, _evals_sql, _queries, _retention, _schema, _scores
from traceglass.store import _resources, _search, _sessions
from traceglass.store import _timeseries
from traceglass.store._alert_models import AlertRecord, AlertState, TraceBreach, TraceQuery, WindowMetrics, WindowQuery
from traceglass.store._checkpointer import Checkpointer, hand_over
from traceglass.store._eval_models import DatasetInfo, EvalResultRecord, EvalRunRecord
from traceglass.store._filter import TraceFilter
from traceglass.store._forksafe import LOCK as FORK_LOCK
from traceglass.store._models import ScorePage, SpanNode, StatsRow, Trace, TracePage
from traceglass.store._packed import unpacked_all
from traceglass.store._rows import SpanRow
from traceglass.store._session_models import Session, SessionPage, UserPage
from traceglass.store._time import TimeLike
from traceglass.store._timeseries_models import SeriesQuery, TimeSeries
from traceglass.store._writer import write_rows

logger = logging.getLogger("traceglass")

# The errors a database (not our code) raises: locked, read-only, full, missing, too new.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, _schema.SchemaTooNewError)

_SPAN_PARTS = f"""SELECT s.trace_id, s.span_id, s.parent_id, s.name, s.kind, s.start_ns, s.end_ns, s.status,
    s.status_message, d.attributes, d.events, d.links, {_resources.STORED}
    FROM spans s LEFT JOIN span_data d ON d.id = s.id
    WHERE s.trace_no = (SELECT id FROM traces WHERE trace_id = ?) AND s.span_id = ?"""
_SPAN_KEY = " WHERE s.trace_no = (SELECT id FROM traces WHERE trace_id = ?) AND s.span_id = ?"


def open_backend(path: Path, *, create: bool = True, read_only: bool = False,
                 busy_timeout_ms: int = _schema.DEFAULT_BUSY_TIMEOUT_MS) -> SQLiteBackend:
    """A connection for reading and maintenance (see ``_schema.connect`` for what it raises)."""
    with FORK_LOCK:
        return SQLiteBackend(path, _schema.connect(path, create=create, read_only=read_only,
                                                   busy_timeout_ms=busy_timeout_ms))


def open_writer(path: Path, *, busy_timeout_ms: int, checkpoint_busy_timeout_ms: int,
                on_connect: Callable[[sqlite3.Connection], Any] | None = None) -> SQLiteBackend:
    """A connection for a writer: created when missing, checkpointed in a background thread."""
    with FORK_LOCK:
        conn = _schema.connect(path, busy_timeout_ms=busy_timeout_ms)
        try:
            try:
                checkpointer: Checkpointer | None = Checkpointer(path, checkpoint_busy_timeout_ms)
            except RuntimeError:  # no new threads at interpreter exit: SQLite checkpoints inline
                checkpointer = None
            if checkpointer is not None:
                hand_over(conn)
            if on_connect is not None:
                on_connect(conn)
        except BaseException:
            conn.close()
            raise
    return SQLiteBackend(path, conn, checkpointer=checkpointer, identity=file_identity(path))


class SQLiteBackend:
    """One connection to a traceglass SQLite database (see the module docstring)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, *, checkpointer: Checkpointer | None = None,
                 identity: tuple[int, int] | None = None) -> None:
        self.path = path
        self.conn = conn
        self._checkpointer = checkpointer
        self._identity = identity  # (st_dev, st_ino) of the file a writer opened
        self._wal: tuple[int, int] | None = None  # and of its WAL, from the first write on

    # -- writing -----------------------------------------------------------------------------
    def write(self, rows: Sequence[SpanRow]) -> None:
        with FORK_LOCK:
            write_rows(self.conn, rows)
            if self._wal is None:  # the WAL exists from the first write on, as long as we are open
                self._wal = file_identity(f"{self.path}-wal")
            if self._checkpointer is not None:
                self._checkpointer.wrote(sum(len(row.data[0]) for row in rows))

    def write_scores(self, scores: Sequence[Score]) -> tuple[list[Score], list[tuple[Score, ScoreError]]]:
        with FORK_LOCK:
            result = _scores.write_scores(self.conn, scores)
            if self._wal is None:
                self._wal = file_identity(f"{self.path}-wal")
            return result

    def span_parts(self, trace_id: str, span_id: str) -> dict[str, Any] | None:
        with FORK_LOCK:
            row = self.conn.execute(_SPAN_PARTS, (trace_id.lower(), span_id.lower())).fetchone()
        if row is None:
            return None
        parts = dict(zip(("trace_id", "span_id", "parent_id", "name", "kind", "start_ns", "end_ns", "status",
                          "status_message"), row[:9]))
        # The stored attributes and events decompressed in one call, without tg_json (see _one_step).
        texts = [*unpacked_all(row[9:11]), *row[11:]]
        for key, text, empty in zip(("attributes", "events", "links", "resource"), texts, ({}, [], [], {})):
            parts[key] = json.loads(text) if text else empty
        return parts

    @staticmethod
    def is_busy(exc: BaseException) -> bool:
        """Another connection holds the lock (SQLITE_BUSY or SQLITE_LOCKED): worth another try."""
        code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
        if code is not None:
            return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def replaced(self) -> bool:
        # Writing on into a deleted file would go into an unlinked inode nobody can read.
        return self._identity is None or self._identity != file_identity(self.path)

    # -- reading -----------------------------------------------------------------------------
    def get_span(self, trace_id: str, span_id: str) -> SpanNode | None:
        with FORK_LOCK:
            row = self.conn.execute(_queries.SPAN_SELECT + _SPAN_KEY, (trace_id.lower(), span_id.lower())).fetchone()
        return None if row is None else _queries.span_node(row)

    def get_trace(self, trace_id: str, *, prefix: bool = False) -> Trace | None:
        return _queries.get_trace(self.conn, trace_id, prefix=prefix)

    def list_traces(self, where: TraceFilter, *, limit: int, cursor: str | None) -> TracePage:
        return _queries.list_traces(self.conn, where, limit=limit, cursor=cursor)

    def types_and_models(self, trace_ids: Sequence[str]) -> dict[str, tuple[str | None, list[str]]]:
        return _queries.types_and_models(self.conn, list(trace_ids))

    def root_io(self, trace_ids: Sequence[str]) -> dict[str, tuple[Any, Any]]:
        return _queries.root_io(self.conn, list(trace_ids))

    def stats(self, group_by: str, *, since: TimeLike | None, until: TimeLike | None,
              project: str | None) -> list[StatsRow]:
        return _queries.stats(self.conn, group_by, since=since, until=until, project=project)

    def count(self) -> dict[str, int]:
        traces = self.conn.execute("SELECT count(*) FROM traces").fetchone()[0]
        spans = self.conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        return {"traces": traces, "spans": spans}

    def call_timeseries(self, query: SeriesQuery) -> TimeSeries:
        return _timeseries.call_timeseries(self.conn, query)

    def score_timeseries(self, query: SeriesQuery) -> TimeSeries:
        return _timeseries.score_timeseries(self.conn, query)

    def get_score(self, score_id: str) -> Score | None:
        return _scores.get_score(self.conn, score_id)

    def scores(self, *, trace_id: str | None, name: str | None, source: str | None, since: TimeLike | None,
               until: TimeLike | None, limit: int, cursor: str | None) -> ScorePage:
        return _scores.list_scores(self.conn, trace_id=trace_id, name=name, source=source, since=since,
                                   until=until, limit=limit, cursor=cursor)

    def export_spans(self, *, trace_id: str | None, project: str | None, since: TimeLike | None,
                     until: TimeLike | None) -> tuple[int, Iterator[SpanNode]]:
        return _queries.export_spans(self.conn, trace_id=trace_id, project=project, since=since, until=until)

    # -- sessions and users ------------------------------------------------------------------
    def sessions(self, *, since_ns: int | None, until_ns: int | None, project: str | None, user: str | None,
                 limit: int, cursor: str | None) -> SessionPage:
        return _sessions.sessions(self.conn, since_ns=since_ns, until_ns=until_ns, project=project, user=user,
                                  limit=limit, cursor=cursor)

    def session(self, session_id: str, *, limit: int) -> Session | None:
        return _sessions.session(self.conn, session_id, limit=limit)

    def users(self, *, since_ns: int | None, until_ns: int | None, project: str | None, limit: int,
              cursor: str | None) -> UserPage:
        return _sessions.users(self.conn, since_ns=since_ns, until_ns=until_ns, project=project, limit=limit,
                               cursor=cursor)

    # -- alerts ------------------------------------------------------------------------------
    def window_metrics(self, query: WindowQuery) -> list[WindowMetrics]:
        return _alert_queries.window_metrics(self.conn, query)

    def trace_breaches(self, query: TraceQuery) -> list[TraceBreach]:
        return _alert_queries.trace_breaches(self.conn, query)

    def alert_state(self, rules: Sequence[str] | None, *, groups: Sequence[str] | None = None,
                    active_since_ns: int | None = None) -> dict[tuple[str, str], AlertState]:
        return _alert_history.alert_state(self.conn, rules, groups=groups, active_since_ns=active_since_ns)

    def record_alerts(self, states: Sequence[AlertState],
                      events: Sequence[tuple[str, str, str, int, str, dict[str, Any]]]) -> list[int]:
        with FORK_LOCK:
            return _alert_history.record(self.conn, states, events)

    def set_alert_delivery(self, event_id: int, delivery: str, attempts: int) -> None:
        with FORK_LOCK:
            _alert_history.set_delivery(self.conn, event_id, delivery, attempts)

    def alert_history(self, *, rule: str | None, since_ns: int | None, limit: int) -> list[AlertRecord]:
        return _alert_history.history(self.conn, rule=rule, since_ns=since_ns, limit=limit)

    # -- evaluations -------------------------------------------------------------------------
    def trace_spans(self, trace_ids: Sequence[str]) -> dict[str, list[SpanNode]]:
        return _evals_sql.trace_spans(self.conn, trace_ids)

    def save_dataset(self, name: str, items: Sequence[dict[str, Any]], metadata: dict[str, Any],
                     created_ns: int) -> DatasetInfo:
        with FORK_LOCK:
            return _evals_sql.save_dataset(self.conn, name, items, metadata, created_ns)

    def datasets(self, name: str | None) -> list[DatasetInfo]:
        return _evals_sql.datasets(self.conn, name)

    def dataset_items(self, name: str, version: int | None) -> tuple[DatasetInfo, list[dict[str, Any]]] | None:
        return _evals_sql.dataset_items(self.conn, name, version)

    def save_eval_run(self, run: EvalRunRecord, items: Sequence[dict[str, Any]],
                      results: Sequence[EvalResultRecord]) -> None:
        with FORK_LOCK:
            _evals_sql.save_run(self.conn, run, items, results)

    def eval_runs(self, *, limit: int) -> list[EvalRunRecord]:
        return _evals_sql.runs(self.conn, limit=limit)

    def eval_run(self, run_id: str) -> tuple[EvalRunRecord, list[dict[str, Any]], list[EvalResultRecord]] | None:
        return _evals_sql.run(self.conn, run_id)

    def evaluated(self, trace_ids: Sequence[str], scorers: Sequence[str]) -> set[tuple[str, str | None, str]]:
        return _evals_sql.evaluated(self.conn, trace_ids, scorers)

    def attributed_cost(self, key: str, value: str, *, since_ns: int) -> float | None:
        return _evals_sql.attributed_cost(self.conn, key, value, since_ns=since_ns)

    # -- maintenance -------------------------------------------------------------------------
    def delete_traces(self, trace_ids: Sequence[str]) -> int:
        return _retention.delete_traces(self.conn, trace_ids)

    def delete_score(self, score_id: str) -> bool:
        return _scores.delete_score(self.conn, score_id)

    def prune(self, *, older_than: float | None, max_size: int | str | None, pause: float = 0.0) -> int:
        # Each small step holds the fork gate: a background thread may prune while the app forks.
        return _retention.prune(self.conn, older_than=older_than, max_size=max_size, pause=pause, step=FORK_LOCK)

    def size_bytes(self) -> int:
        return _retention.used_bytes(self.conn)

    def backfill_search_index(self, chunk: int) -> tuple[int, int]:
        with FORK_LOCK:
            return _search.backfill(self.conn, chunk)

    def ping(self) -> None:
        # An open connection answers SELECT 1 even after its file was deleted: check the path too.
        os.stat(self.path)
        with FORK_LOCK:
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def close(self, *, stale: bool = False) -> None:
        """Close the connection and stop its checkpoints; idempotent. ``stale``: the file was
        deleted or replaced under us, so the WAL our connection leaves beside it goes too."""
        checkpointer, self._checkpointer = self._checkpointer, None
        # The checkpointer's connection first: the last one to close removes the WAL file.
        if checkpointer is not None:
            checkpointer.close()
        try:
            with FORK_LOCK:
                self.conn.close()
        except sqlite3.Error:
            pass
        if stale:
            _remove_stale_wal(self.path, self._wal)


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
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
    if os.path.exists(path) and (ours is None or file_identity(f"{os.fspath(path)}-wal") != ours):
        return
    for suffix in ("-wal", "-shm"):
        try:
            os.remove(f"{os.fspath(path)}{suffix}")
        except OSError:
            pass
