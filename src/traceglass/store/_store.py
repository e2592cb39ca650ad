"""``TraceStore``: the read (and small write) API over a traceglass SQLite database."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from traceglass._scores import Score, new_score
from traceglass._units import as_seconds, parse_duration
from traceglass.store import _open, _paths, _search
from traceglass.store._alert_models import AlertRecord, AlertState, TraceBreach, TraceQuery, WindowMetrics, WindowQuery
from traceglass.store._backend import Backend
from traceglass.store._eval_models import DatasetInfo, EvalResultRecord, EvalRunRecord
from traceglass.store._filter import GROUPS, TraceFilter
from traceglass.store._models import ScorePage, SpanNode, StatsRow, Trace, TracePage
from traceglass.store._postgres_url import DatabaseURL
from traceglass.store._session_models import Session, SessionPage, UserPage
from traceglass.store._time import TimeLike, to_ns
from traceglass.store._timeseries_models import BUCKETS, SERIES_GROUPS, SeriesQuery, TimeSeries
from traceglass.store._trace_writer import TraceWriter

# What TraceStore.upsert_span waits, at most, for a database another process keeps locked.
_UPSERT_RETRY_FOR_S = 10.0


class TraceStore:
    """Query and maintain the traces the SQLite exporter wrote.

    ``path`` defaults to the exporter's default (``$TRACEGLASS_DB`` or the per-user data
    directory); a ``postgresql://`` URL opens a PostgreSQL database instead (docs/postgres.md).
    With ``create=False`` a missing database raises ``FileNotFoundError``.
    With ``read_only=True`` the file is opened read-only and never changed (not created, not
    migrated); another application's file raises ``NotATraceDatabaseError`` and an older schema
    ``SchemaTooOldError``, and the writing methods raise ``sqlite3.OperationalError``.
    Safe to share between threads (calls are serialized on one connection).
    """

    #: The ``group_by`` values :meth:`stats` takes.
    STATS_GROUPS: tuple[str, ...] = GROUPS
    #: The ``bucket`` and ``group_by`` values :meth:`timeseries` takes.
    TIMESERIES_BUCKETS: tuple[str, ...] = tuple(BUCKETS)
    TIMESERIES_GROUPS: tuple[str | None, ...] = SERIES_GROUPS

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True,
                 read_only: bool = False) -> None:
        # A file path, or a PostgreSQL URL (a DatabaseURL: it prints with its password masked).
        self.path: Path | DatabaseURL = _paths.resolve(path)
        self.read_only = read_only
        self._db: Backend = _open.open_backend(self.path, create=create, read_only=read_only)
        self._writer: TraceWriter | None = None  # upsert_span's, opened at its first call
        self._closed = False
        self._lock = threading.RLock()

    # -- reading -----------------------------------------------------------------------------
    def get_trace(self, trace_id: str, *, prefix: bool = False) -> Trace | None:
        """The trace with its span tree, or None for an unknown id. With ``prefix=True``
        ``trace_id`` may also be the start of one trace's id (ValueError when several match)."""
        with self._lock:
            return self._db.get_trace(trace_id, prefix=prefix)

    def list_traces(
        self,
        *,
        project: str | None = None,
        span_type: str | None = None,
        trace_id: str | None = None,
        session: str | None = None,
        user: str | None = None,
        model: str | None = None,
        status: str | None = None,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        min_cost: float | None = None,
        min_latency_ms: float | None = None,
        search: str | None = None,
        score_name: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filter: TraceFilter | None = None,  # noqa: A002 - the natural name for it
    ) -> TracePage:
        """Traces newest first. ``span_type``/``model`` match any span of the trace; ``search``
        matches span names and captured content; ``trace_id`` may be a prefix; ``status`` is
        ``"ok"`` or ``"error"``; ``since``/``until`` take datetimes, epoch seconds, ISO text or ages
        like ``"1h"``; ``score_name``/``min_score``/``max_score`` keep traces with a score of that name
        and in that range. Each summary's ``scores`` sums up the trace's scores. Or pass the filters as one :class:`TraceFilter` in ``filter``. Pass
        ``page.next_cursor`` as ``cursor`` for the next page."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        given = dict(project=project, span_type=span_type, trace_id=trace_id, session=session, user=user,
                     model=model, status=status, since=since, until=until, min_cost=min_cost,
                     min_latency_ms=min_latency_ms, search=search, score_name=score_name, min_score=min_score,
                     max_score=max_score)
        if filter is None:
            filter = TraceFilter(**given)  # noqa: A001
        elif any(value is not None for value in given.values()):
            raise TypeError("pass the filters either as keywords or as filter=TraceFilter(...), not both")
        with self._lock:
            return self._db.list_traces(filter, limit=limit, cursor=cursor)

    def types_and_models(self, trace_ids: Sequence[str]) -> dict[str, tuple[str | None, list[str]]]:
        """Per stored trace of ``trace_ids``: its root span's type and every model it called (sorted)."""
        with self._lock:
            return self._db.types_and_models([trace_id.strip().lower() for trace_id in trace_ids])

    def root_io(self, trace_ids: Sequence[str]) -> dict[str, tuple[Any, Any]]:
        """Per stored trace of ``trace_ids``: its root span's input and output as stored (the
        ``traceglass.input``/``output`` values, else the ``gen_ai`` input/output messages; None if absent)."""
        with self._lock:
            return self._db.root_io([trace_id.strip().lower() for trace_id in trace_ids])

    def stats(self, group_by: str = "model", *, since: TimeLike | None = None, until: TimeLike | None = None,
              project: str | None = None) -> list[StatsRow]:
        """Calls, errors, tokens, cost and p50/p95 latency per ``model``, ``type`` (per span) or
        ``project``, ``user``, ``session``, ``day`` (per trace), most expensive first. Tokens and cost
        count each model call once (the :mod:`traceglass.rollup` rule)."""
        with self._lock:
            return self._db.stats(group_by, since=since, until=until, project=project)

    def timeseries(self, bucket: str = "day", *, group_by: str | None = None, since: TimeLike | None = None,
                   until: TimeLike | None = None, project: str | None = None) -> TimeSeries:
        """Calls, errors, tokens, cost and p50/p95 latency of the model calls per ``bucket`` (``"hour"``
        or ``"day"``, UTC) that started in [since, until): one series, or one per ``group_by``
        ``"model"`` (family, as :meth:`stats`) or ``"project"``. Every series has a point for every
        bucket of the range (from ``since``, else the first call; to ``until``, else now when
        ``since`` is given, else the last call). Calls count as in ``stats("model")``."""
        query = SeriesQuery.make(bucket, group_by=group_by, since=since, until=until, project=project)
        with self._lock:
            return self._db.call_timeseries(query)

    def score_timeseries(self, bucket: str = "day", *, name: str | None = None, source: str | None = None,
                         since: TimeLike | None = None, until: TimeLike | None = None,
                         project: str | None = None) -> TimeSeries:
        """The mean and count of the numeric (and boolean, as 1/0) scores per name and ``bucket``, by
        the time each score was created; only ``name``'s, ``source``'s, or those of ``project``'s
        traces when given. Buckets as in :meth:`timeseries`."""
        query = SeriesQuery.make(bucket, since=since, until=until, project=project, name=name, source=source)
        with self._lock:
            return self._db.score_timeseries(query)

    def count(self) -> dict[str, int]:
        """Numbers of traces and spans stored."""
        with self._lock:
            return self._db.count()

    # -- sessions and users --------------------------------------------------------------------
    def sessions(self, *, since: TimeLike | None = None, until: TimeLike | None = None, project: str | None = None,
                 user: str | None = None, limit: int = 50, cursor: str | None = None) -> SessionPage:
        """Sessions (traces sharing a ``session.id``), the latest active first: each with its turns
        (traces), users, first/last seen, errors, tokens, cost and scores, counted over its traces
        started in ``[since, until)`` of ``project`` and ``user``. Pass ``page.next_cursor`` as
        ``cursor`` for the next page."""
        scope = TraceFilter(since=since, until=until)
        with self._lock:
            return self._db.sessions(since_ns=scope.since_ns, until_ns=scope.until_ns, project=project, user=user,
                                     limit=limit, cursor=cursor)

    def session(self, session_id: str, *, limit: int = 1000) -> Session | None:
        """One session with its turns oldest first (the first ``limit``; ``turn_count`` counts all):
        each turn's user input and final answer as text, its tokens, cost, latency, status and
        scores. None when no stored trace has this session id."""
        if not isinstance(session_id, str):
            raise TypeError(f"session_id must be a text, got {type(session_id).__name__}")
        with self._lock:
            return self._db.session(session_id, limit=limit)

    def users(self, *, since: TimeLike | None = None, until: TimeLike | None = None, project: str | None = None,
              limit: int = 50, cursor: str | None = None) -> UserPage:
        """Users (traces sharing a ``user.id``), the latest active first: each with its calls
        (traces), sessions, first/last seen, errors, tokens, cost and scores over its traces started
        in ``[since, until)`` of ``project``. Pass ``page.next_cursor`` as ``cursor`` for the next page."""
        scope = TraceFilter(since=since, until=until)
        with self._lock:
            return self._db.users(since_ns=scope.since_ns, until_ns=scope.until_ns, project=project, limit=limit,
                                  cursor=cursor)

    # -- alerts (traceglass.alerts) --------------------------------------------------------------
    def window_metrics(self, query: WindowQuery) -> list[WindowMetrics]:
        """Per group: calls, errors, tokens, cost and latency of the model calls (or spans of a type,
        or a score's numbers) in the query's window and scope (see :class:`WindowQuery`)."""
        with self._lock:
            return self._db.window_metrics(query)

    def trace_breaches(self, query: TraceQuery) -> list[TraceBreach]:
        """The traces whose cost, tokens, latency, errors or score is beyond the query's threshold."""
        with self._lock:
            return self._db.trace_breaches(query)

    def alert_state(self, rules: Sequence[str] | None = None, *, groups: Sequence[str] | None = None,
                    active_since: TimeLike | None = None) -> dict[tuple[str, str], AlertState]:
        """The alert state stored per (rule, group key), of ``rules`` only when given, and of the
        group keys ``groups`` only when given (a per-trace rule's group keys are trace ids).
        ``active_since``: only what fires now: a "firing" group, or a trace "fired" since then."""
        if groups is not None:
            groups = [groups] if isinstance(groups, str) else list(groups)
        active_since_ns = None if active_since is None else to_ns(active_since)
        with self._lock:
            return self._db.alert_state(rules, groups=groups, active_since_ns=active_since_ns)

    def record_alerts(self, states: Sequence[AlertState],
                      events: Sequence[tuple[str, str, str, int, str, dict[str, Any]]]) -> list[int]:
        """Store an evaluation's states and append its events ((rule, group key, state, created ns,
        delivery, event dict)) in one transaction; returns the events' ids."""
        with self._lock:
            return self._db.record_alerts(states, events)

    def set_alert_delivery(self, event_id: int, delivery: str, attempts: int) -> None:
        """Record how an event's notification went: ``delivered``, ``undelivered`` (after ``attempts``)."""
        with self._lock:
            self._db.set_alert_delivery(event_id, delivery, attempts)

    def alert_history(self, *, rule: str | None = None, since: TimeLike | None = None,
                      limit: int = 100) -> list[AlertRecord]:
        """Alert events newest first (of one ``rule``, since a time or an age like ``"1d"``)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        since_ns = TraceFilter(since=since).since_ns if since is not None else None
        with self._lock:
            return self._db.alert_history(rule=rule, since_ns=since_ns, limit=limit)

    # -- evaluations (traceglass.evals) ----------------------------------------------------------
    def trace_spans(self, trace_ids: Sequence[str]) -> dict[str, list[SpanNode]]:
        """Every span of each stored trace of ``trace_ids`` (flat, by start time), in one read:
        what building a dataset from thousands of traces needs instead of one ``get_trace`` each.
        The spans carry their fields and attributes; events, links and resource are left empty
        (``get_trace`` reads them) and no scores are attached."""
        with self._lock:
            return self._db.trace_spans([trace_id.strip().lower() for trace_id in trace_ids])

    def save_dataset(self, name: str, items: Sequence[Mapping[str, Any]], *,
                     metadata: Mapping[str, Any] | None = None) -> DatasetInfo:
        """Save ``items`` (JSON-ready dicts) as the next version of dataset ``name``; a saved
        version never changes."""
        name = _dataset_name(name)
        with self._lock:
            self._check_writable()
            return self._db.save_dataset(name, [dict(item) for item in items], dict(metadata or {}), time.time_ns())

    def datasets(self, name: str | None = None) -> list[DatasetInfo]:
        """The latest version of every saved dataset, or every version of ``name`` (newest first)."""
        with self._lock:
            return self._db.datasets(name)

    def dataset(self, name: str, version: int | None = None) -> tuple[DatasetInfo, list[dict[str, Any]]] | None:
        """A saved dataset version (the latest when ``version`` is None) and its items, or None."""
        with self._lock:
            return self._db.dataset_items(name, version)

    def save_eval_run(self, run: EvalRunRecord, items: Sequence[Mapping[str, Any]],
                      results: Sequence[EvalResultRecord]) -> None:
        """Store an evaluation run with its items and per-scorer results (the same id replaces it)."""
        with self._lock:
            self._check_writable()
            self._db.save_eval_run(run, [dict(item) for item in items], list(results))

    def eval_runs(self, *, limit: int = 50) -> list[EvalRunRecord]:
        """Stored evaluation runs, newest first."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        with self._lock:
            return self._db.eval_runs(limit=limit)

    def eval_run(self, run_id: str) -> tuple[EvalRunRecord, list[dict[str, Any]], list[EvalResultRecord]] | None:
        """A stored run with its items and results, or None."""
        with self._lock:
            return self._db.eval_run(run_id.strip())

    def evaluated(self, trace_ids: Sequence[str], scorers: Sequence[str]) -> set[tuple[str, str | None, str]]:
        """The (trace id, span id, scorer name) among ``trace_ids`` these scorers already evaluated:
        a stored run's result that was not an error, or an evaluation score of that name."""
        with self._lock:
            return self._db.evaluated(list(trace_ids), list(scorers))

    def attributed_cost(self, key: str, value: str, *, since_ns: int = 0) -> float | None:
        """The summed roll-up cost (USD) of the spans started since ``since_ns`` whose attribute
        ``key`` equals ``value`` (an evaluation run's judge calls); None when none is stored."""
        with self._lock:
            return self._db.attributed_cost(key, value, since_ns=since_ns)

    def _check_writable(self) -> None:
        if self.read_only:
            raise sqlite3.OperationalError(f"attempt to write a readonly database ({self.path} was opened read_only)")

    # -- writing -----------------------------------------------------------------------------
    def upsert_span(self, span: Mapping[str, Any]) -> SpanNode:
        """Create a span from a plain dict, or update the stored one with the same ids
        (attributes and resource merged, events appended). Missing ids are generated.
        Raises ValueError listing every problem in the dict."""
        return self._writer_for_writes().upsert_span(span)

    def _writer_for_writes(self) -> TraceWriter:
        if self.read_only:
            raise sqlite3.OperationalError(f"attempt to write a readonly database ({self.path} was opened read_only)")
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if self._writer is None:
                # The one write side every ingest path shares; a locked database is retried for about
                # as long as a busy timeout waited before.
                self._writer = TraceWriter(self.path, retry_for=_UPSERT_RETRY_FOR_S)
            return self._writer

    def add_score(
        self,
        name: str,
        value: float | bool | str,
        *,
        trace_id: str | None = None,
        span_id: str | None = None,
        comment: str | None = None,
        source: str = "api",
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | None = None,  # noqa: A002 - the public parameter's name
    ) -> Score:
        """Store a score on a trace (or one of its spans) and return it; the same ``id`` again
        updates that score. The trace's spans need not be stored yet: the score joins the trace
        when they arrive. Raises ScoreError (a ValueError) listing every problem, including a
        value of another data type than the scores already stored under ``name``; nothing is then
        stored."""
        score = new_score(name, value, trace_id=trace_id, span_id=span_id, comment=comment, source=source,
                          user_id=user_id, metadata=metadata, id=id)
        stored, refused = self._writer_for_writes()._store_scores([score])
        if refused:
            raise refused[0][1]
        return stored[0]

    def get_score(self, id: str) -> Score | None:  # noqa: A002 - as in add_score
        """The score with this id, or None."""
        with self._lock:
            return self._db.get_score(id)

    def scores(self, trace_id: str | None = None, name: str | None = None, source: str | None = None,
               since: TimeLike | None = None, until: TimeLike | None = None, limit: int = 100,
               cursor: str | None = None) -> ScorePage:
        """Scores newest first, of one trace, name and/or source, created in ``[since, until)``
        (datetimes, epoch seconds, ISO text or ages like ``"1h"``). Pass ``page.next_cursor`` as
        ``cursor`` for the next page."""
        with self._lock:
            return self._db.scores(trace_id=trace_id, name=name, source=source, since=since, until=until,
                                   limit=limit, cursor=cursor)

    def delete_score(self, id: str) -> bool:  # noqa: A002 - as in add_score
        """Delete one score; False when there was no such score."""
        if not isinstance(id, str):
            return False
        with self._lock:
            return self._db.delete_score(id.strip())

    def delete_trace(self, trace_id: str) -> bool:
        """Delete one trace and its scores; False when there was no such trace."""
        with self._lock:
            return self._db.delete_traces([trace_id.strip().lower()]) > 0

    def prune(self, *, older_than: float | timedelta | str | None = None,
              max_size: int | str | None = None) -> int:
        """Delete traces older than ``older_than`` (seconds, timedelta or ``"30d"``) and then the
        oldest ones until the database fits in ``max_size`` (bytes or ``"500MB"``), with their
        scores and their per-trace alert state; returns how many traces were deleted. By age, scores
        older than the cutoff whose trace is not stored go too, and so does the alert history older
        than the cutoff (but an event still waiting to be delivered). Evaluation runs and datasets
        stay. Freed space goes back to the file system."""
        if older_than is None and max_size is None:
            raise ValueError("prune needs older_than and/or max_size")
        if isinstance(older_than, str):
            older_than = parse_duration(older_than)
        if older_than is not None:
            older_than = as_seconds(older_than)
        with self._lock:
            return self._db.prune(older_than=older_than, max_size=max_size)

    def backfill_search_index(self, *, max_spans: int | None = None,
                              progress: Callable[[int, int], None] | None = None) -> int:
        """Add the spans stored before the content search had its word index (a store upgraded from
        schema 9 or older) to that index, newest first, in short write transactions that let writers
        in between; returns how many spans were indexed. Until then the search scans those spans.

        ``max_spans``: stop after about that many. ``progress(indexed, left)`` after each step. Nothing
        to do on PostgreSQL (its trigram indexes hold every span) or without SQLite's FTS5: 0."""
        if max_spans is not None and (not isinstance(max_spans, int) or isinstance(max_spans, bool) or max_spans < 0):
            raise ValueError(f"max_spans must be a non-negative integer, got {max_spans!r}")
        self._check_writable()
        done = 0
        while max_spans is None or done < max_spans:
            chunk = _search.BACKFILL_CHUNK if max_spans is None else min(_search.BACKFILL_CHUNK, max_spans - done)
            with self._lock:
                indexed, left = self._db.backfill_search_index(chunk)
            done += indexed
            if progress is not None and indexed:
                progress(done, left)
            if not indexed or not left:
                break
        return done

    def size_bytes(self) -> int:
        """Bytes of data in the database (free pages not counted)."""
        with self._lock:
            return self._db.size_bytes()

    def ping(self) -> None:
        """Ask the database a cheap question; raises its error when it does not answer (for health checks)."""
        with self._lock:
            self._db.ping()

    # -- export ------------------------------------------------------------------------------
    def export(
        self,
        destination: str | os.PathLike[str] | IO[str],
        *,
        trace_id: str | None = None,
        project: str | None = None,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        progress: Callable[[int, int], Any] | None = None,
    ) -> int:
        """Write matching spans as JSON Lines (one span object per line) to a path or text file;
        returns the number written. ``progress(done, total)`` is called every 1,000 spans."""
        if isinstance(destination, (str, os.PathLike)):
            with open(destination, "w", encoding="utf-8") as file:
                return self.export(file, trace_id=trace_id, project=project, since=since, until=until,
                                   progress=progress)
        # A second connection: a long export must not hold the lock other callers need.
        db = _open.open_backend(self.path, read_only=True)  # opened (and migrated) by self._db already
        try:
            total, spans = db.export_spans(trace_id=trace_id, project=project, since=since, until=until)
            done = 0
            buffer = io.StringIO()
            for span in spans:
                buffer.write(json.dumps(span.to_dict(children=False), ensure_ascii=False, default=str))
                buffer.write("\n")
                done += 1
                if done % 1000 == 0:
                    destination.write(buffer.getvalue())
                    buffer = io.StringIO()
                    if progress is not None:
                        progress(done, total)
            destination.write(buffer.getvalue())
            if progress is not None:
                progress(done, total)
            return done
        finally:
            db.close()

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            self._closed = True
            writer, self._writer = self._writer, None
            self._db.close()
        if writer is not None:
            writer.close()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TraceStore({str(self.path)!r})"


def dataset_name_problem(name: Any) -> str | None:
    """What is wrong with ``name`` as a dataset's name (None when nothing is): the one rule the store
    raises and the server reports in its 422."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200 or "\x00" in name:
        return "must be a non-empty text of at most 200 characters"
    return None


def _dataset_name(name: Any) -> str:
    problem = dataset_name_problem(name)
    if problem is not None:
        raise ValueError(f"a dataset name {problem}, got {name!r}")
    return name.strip()
