"""The PostgreSQL implementation of the storage seam (:class:`~traceglass.store._backend.Backend`).

Chosen where the store and the writer open their database, when it is named by a
``postgresql://`` (or ``postgres://``) URL. psycopg 3 is imported here only, so a SQLite user never
loads it; without it, opening raises an ImportError naming the ``traceglass[postgres]`` extra.

A backend holds a small psycopg_pool pool (autocommit connections, each transaction explicit): the
store and the writer still serialize their calls, but a connection the server dropped (a restart,
a failover) is replaced by the pool instead of failing every later call. Every error of the
driver leaves here as a :class:`PostgresError` (an ``OSError``, like a SQLite file's I/O failure)
with any password masked; ``is_busy`` says which of them (a serialization failure, a deadlock)
are worth another try. The SQL lives in ``_postgres_schema`` (migrations), ``_postgres_write``
(span batches), ``_postgres_read`` and ``_postgres_scores`` (reads, scores), ``_postgres_series``
(time series), ``_postgres_sessions``, ``_postgres_alerts``, ``_postgres_evals`` and ``_postgres_retention``.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from traceglass._scores import Score, ScoreError
from traceglass.store._alert_models import (
    AlertRecord,
    AlertState,
    TraceBreach,
    TraceQuery,
    WindowMetrics,
    WindowQuery,
)
from traceglass.store._eval_models import DatasetInfo, EvalResultRecord, EvalRunRecord
from traceglass.store._filter import TraceFilter
from traceglass.store._models import ScorePage, SpanNode, StatsRow, Trace, TracePage
from traceglass.store._postgres_url import (
    BUSY_STATES,
    DatabaseURL,
    DriverMissingError,
    PostgresError,
)
from traceglass.store._rows import SpanRow
from traceglass.store._session_models import Session, SessionPage, UserPage
from traceglass.store._time import TimeLike
from traceglass.store._timeseries_models import SeriesQuery, TimeSeries

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - exercised by a test that hides the driver
    raise DriverMissingError("a PostgreSQL database needs psycopg: pip install 'traceglass[postgres]'") from exc

from traceglass.store import (
    _postgres_alerts,
    _postgres_evals,
    _postgres_read,
    _postgres_retention,
    _postgres_schema,
    _postgres_scores,
    _postgres_series,
    _postgres_sessions,
    _postgres_write,
)

logger = logging.getLogger("traceglass")

_CONNECT_TIMEOUT_S = 10
_POOL_SIZE = 4


def open_backend(url: DatabaseURL, *, create: bool = True, read_only: bool = False) -> PostgresBackend:
    """A backend over the database at ``url``, its schema migrated (once, across processes) unless
    ``read_only`` (then it must be current). ``create`` does not create a database: PostgreSQL
    databases are made by their administrator; the tables are created in it when missing."""
    with _translated(url):
        options = "-c default_transaction_read_only=on" if read_only else None
        conn = psycopg.connect(url.secret(), autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S,
                               **({"options": options} if options else {}))
        try:
            _postgres_schema.ensure(conn, str(url), read_only=read_only)
        finally:
            conn.close()
    return PostgresBackend(url, read_only=read_only)


def schema_version(url: DatabaseURL) -> int | None:
    """The stored schema version (None when the database has no traceglass schema)."""
    with _translated(url), psycopg.connect(url.secret(), autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S) as conn:
        return _postgres_schema.version(conn)


@contextmanager
def _translated(url: DatabaseURL) -> Iterator[None]:
    """The driver's errors as PostgresError (an OSError) with passwords masked; ours pass through."""
    try:
        yield
    except psycopg.Error as exc:
        state = getattr(exc, "sqlstate", None)
        message = str(exc).strip() or type(exc).__name__
        raise PostgresError(f"{url}: {message}", state) from None


class PostgresBackend:
    """A small pool of connections to one traceglass PostgreSQL database (see the module docstring)."""

    def __init__(self, url: DatabaseURL, *, read_only: bool = False) -> None:
        self.path = url  # shows itself with the password masked
        self.read_only = read_only
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT_S}
        if read_only:
            kwargs["options"] = "-c default_transaction_read_only=on"
        with _translated(url):
            self._pool = ConnectionPool(url.secret(), min_size=1, max_size=_POOL_SIZE, kwargs=kwargs, open=False,
                                        num_workers=1, check=ConnectionPool.check_connection,
                                        name="traceglass")
            self._pool.open(wait=False)
        # A store dropped without close() (as a sqlite3 connection may be) closes its pool from the
        # thread that collects it; left to the pool's own __del__, a worker thread may end up
        # collecting it and fail to join itself.
        self._finalizer = weakref.finalize(self, _close_pool, self._pool, os.getpid())

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        with _translated(self.path), self._pool.connection() as conn:
            yield conn

    # -- writing -----------------------------------------------------------------------------
    def write(self, rows: Sequence[SpanRow]) -> None:
        with self._conn() as conn:
            _postgres_write.write_rows(conn, rows)

    def span_parts(self, trace_id: str, span_id: str) -> dict[str, Any] | None:
        with self._conn() as conn:
            return _postgres_read.span_parts(conn, trace_id, span_id)

    def write_scores(self, scores: Sequence[Score]) -> tuple[list[Score], list[tuple[Score, ScoreError]]]:
        with self._conn() as conn:
            return _postgres_scores.write_scores(conn, scores)

    @staticmethod
    def is_busy(exc: BaseException) -> bool:
        """A serialization failure or a deadlock (another writer won): worth another try."""
        return getattr(exc, "sqlstate", None) in BUSY_STATES

    def replaced(self) -> bool:
        return False  # a server database cannot be deleted from under an open connection unnoticed

    # -- reading -----------------------------------------------------------------------------
    def get_span(self, trace_id: str, span_id: str) -> SpanNode | None:
        with self._conn() as conn:
            return _postgres_read.get_span(conn, trace_id, span_id)

    def get_trace(self, trace_id: str, *, prefix: bool = False) -> Trace | None:
        with self._conn() as conn:
            return _postgres_read.get_trace(conn, trace_id, prefix=prefix)

    def list_traces(self, where: TraceFilter, *, limit: int, cursor: str | None) -> TracePage:
        with self._conn() as conn:
            return _postgres_read.list_traces(conn, where, limit=limit, cursor=cursor)

    def types_and_models(self, trace_ids: Sequence[str]) -> dict[str, tuple[str | None, list[str]]]:
        with self._conn() as conn:
            return _postgres_read.types_and_models(conn, list(trace_ids))

    def root_io(self, trace_ids: Sequence[str]) -> dict[str, tuple[Any, Any]]:
        with self._conn() as conn:
            return _postgres_read.root_io(conn, list(trace_ids))

    def call_timeseries(self, query: SeriesQuery) -> TimeSeries:
        with self._conn() as conn:
            return _postgres_series.call_timeseries(conn, query)

    def score_timeseries(self, query: SeriesQuery) -> TimeSeries:
        with self._conn() as conn:
            return _postgres_series.score_timeseries(conn, query)

    def stats(self, group_by: str, *, since: TimeLike | None, until: TimeLike | None,
              project: str | None) -> list[StatsRow]:
        with self._conn() as conn:
            return _postgres_read.stats(conn, group_by, since=since, until=until, project=project)

    def count(self) -> dict[str, int]:
        with self._conn() as conn:
            return _postgres_read.count(conn)

    def get_score(self, score_id: str) -> Score | None:
        with self._conn() as conn:
            return _postgres_scores.get_score(conn, score_id)

    def scores(self, *, trace_id: str | None, name: str | None, source: str | None, since: TimeLike | None,
               until: TimeLike | None, limit: int, cursor: str | None) -> ScorePage:
        with self._conn() as conn:
            return _postgres_scores.list_scores(conn, trace_id=trace_id, name=name, source=source, since=since,
                                                until=until, limit=limit, cursor=cursor)

    def export_spans(self, *, trace_id: str | None, project: str | None, since: TimeLike | None,
                     until: TimeLike | None) -> tuple[int, Iterator[SpanNode]]:
        return _postgres_read.export_spans(self._conn, trace_id=trace_id, project=project, since=since, until=until)

    # -- sessions and users ------------------------------------------------------------------
    def sessions(self, *, since_ns: int | None, until_ns: int | None, project: str | None, user: str | None,
                 limit: int, cursor: str | None) -> SessionPage:
        with self._conn() as conn:
            return _postgres_sessions.sessions(conn, since_ns=since_ns, until_ns=until_ns, project=project, user=user,
                                               limit=limit, cursor=cursor)

    def session(self, session_id: str, *, limit: int) -> Session | None:
        with self._conn() as conn:
            return _postgres_sessions.session(conn, session_id, limit=limit)

    def users(self, *, since_ns: int | None, until_ns: int | None, project: str | None, limit: int,
              cursor: str | None) -> UserPage:
        with self._conn() as conn:
            return _postgres_sessions.users(conn, since_ns=since_ns, until_ns=until_ns, project=project, limit=limit,
                                            cursor=cursor)

    # -- alerts ------------------------------------------------------------------------------
    def window_metrics(self, query: WindowQuery) -> list[WindowMetrics]:
        with self._conn() as conn:
            return _postgres_alerts.window_metrics(conn, query)

    def trace_breaches(self, query: TraceQuery) -> list[TraceBreach]:
        with self._conn() as conn:
            return _postgres_alerts.trace_breaches(conn, query)

    def alert_state(self, rules: Sequence[str] | None, *, groups: Sequence[str] | None = None,
                    active_since_ns: int | None = None) -> dict[tuple[str, str], AlertState]:
        with self._conn() as conn:
            return _postgres_alerts.alert_state(conn, rules, groups=groups, active_since_ns=active_since_ns)

    def record_alerts(self, states: Sequence[AlertState],
                      events: Sequence[tuple[str, str, str, int, str, dict[str, Any]]]) -> list[int]:
        with self._conn() as conn:
            return _postgres_alerts.record(conn, states, events)

    def set_alert_delivery(self, event_id: int, delivery: str, attempts: int) -> None:
        with self._conn() as conn:
            _postgres_alerts.set_delivery(conn, event_id, delivery, attempts)

    def alert_history(self, *, rule: str | None, since_ns: int | None, limit: int) -> list[AlertRecord]:
        with self._conn() as conn:
            return _postgres_alerts.history(conn, rule=rule, since_ns=since_ns, limit=limit)

    # -- evaluations -------------------------------------------------------------------------
    def trace_spans(self, trace_ids: Sequence[str]) -> dict[str, list[SpanNode]]:
        with self._conn() as conn:
            return _postgres_evals.trace_spans(conn, trace_ids)

    def save_dataset(self, name: str, items: Sequence[dict[str, Any]], metadata: dict[str, Any],
                     created_ns: int) -> DatasetInfo:
        with self._conn() as conn:
            return _postgres_evals.save_dataset(conn, name, items, metadata, created_ns)

    def datasets(self, name: str | None) -> list[DatasetInfo]:
        with self._conn() as conn:
            return _postgres_evals.datasets(conn, name)

    def dataset_items(self, name: str, version: int | None) -> tuple[DatasetInfo, list[dict[str, Any]]] | None:
        with self._conn() as conn:
            return _postgres_evals.dataset_items(conn, name, version)

    def save_eval_run(self, run: EvalRunRecord, items: Sequence[dict[str, Any]],
                      results: Sequence[EvalResultRecord]) -> None:
        with self._conn() as conn:
            _postgres_evals.save_run(conn, run, items, results)

    def eval_runs(self, *, limit: int) -> list[EvalRunRecord]:
        with self._conn() as conn:
            return _postgres_evals.runs(conn, limit=limit)

    def eval_run(self, run_id: str) -> tuple[EvalRunRecord, list[dict[str, Any]], list[EvalResultRecord]] | None:
        with self._conn() as conn:
            return _postgres_evals.run(conn, run_id)

    def evaluated(self, trace_ids: Sequence[str], scorers: Sequence[str]) -> set[tuple[str, str | None, str]]:
        with self._conn() as conn:
            return _postgres_evals.evaluated(conn, trace_ids, scorers)

    def attributed_cost(self, key: str, value: str, *, since_ns: int) -> float | None:
        with self._conn() as conn:
            return _postgres_evals.attributed_cost(conn, key, value, since_ns=since_ns)

    # -- maintenance -------------------------------------------------------------------------
    def delete_traces(self, trace_ids: Sequence[str]) -> int:
        with self._conn() as conn:
            return _postgres_retention.delete_traces(conn, trace_ids)

    def delete_score(self, score_id: str) -> bool:
        with self._conn() as conn:
            return _postgres_scores.delete_score(conn, score_id)

    def prune(self, *, older_than: float | None, max_size: int | str | None, pause: float = 0.0) -> int:
        with self._conn() as conn:
            return _postgres_retention.prune(conn, older_than=older_than, max_size=max_size, pause=pause)

    def size_bytes(self) -> int:
        with self._conn() as conn:
            return _postgres_retention.used_bytes(conn)

    def backfill_search_index(self, chunk: int) -> tuple[int, int]:
        return 0, 0  # pg_trgm's indexes hold every span as it is written

    def ping(self) -> None:
        with self._conn() as conn:
            conn.execute("SELECT 1 FROM traceglass_schema").fetchall()

    def close(self, *, stale: bool = False) -> None:
        """Close the pool's connections; idempotent (``stale`` is SQLite's and means nothing here)."""
        self._finalizer()

    def __repr__(self) -> str:
        return f"PostgresBackend({str(self.path)!r})"


def _close_pool(pool: ConnectionPool, pid: int) -> None:
    # Never in a forked child: closing would end the parent's sessions on the sockets it shares.
    if pid == os.getpid() and not pool.closed:
        pool.close(timeout=5)
