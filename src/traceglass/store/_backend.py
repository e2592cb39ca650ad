"""The storage seam: what :class:`TraceStore` and :class:`TraceWriter` need from a database.

Everything above this line (the public store and writer, the filter, the models, row conversion,
the roll-up rule) is database-neutral; everything below is one implementation of ``Backend``.
SQLite's is :class:`traceglass.store._sqlite.SQLiteBackend`. A second backend (PostgreSQL, say) is
a new module implementing this protocol plus its ``open``, chosen where the store and the writer
open theirs; none of the callers change.

A backend is one connection: not thread-safe by itself (the store and the writer serialize their
calls), opened by its module's ``open(...)`` and closed by ``close()``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from traceglass._scores import Score, ScoreError
from traceglass.store._alert_models import AlertRecord, AlertState, TraceBreach, TraceQuery, WindowMetrics, WindowQuery
from traceglass.store._eval_models import DatasetInfo, EvalResultRecord, EvalRunRecord
from traceglass.store._filter import TraceFilter
from traceglass.store._models import ScorePage, SpanNode, StatsRow, Trace, TracePage
from traceglass.store._rows import SpanRow
from traceglass.store._session_models import Session, SessionPage, UserPage
from traceglass.store._time import TimeLike
from traceglass.store._timeseries_models import SeriesQuery, TimeSeries


class Backend(Protocol):
    # -- writing (TraceWriter) ---------------------------------------------------------------
    def write(self, rows: Sequence[SpanRow]) -> None:
        """Insert or replace ``rows`` and refresh their traces' summaries, in one transaction."""

    def span_parts(self, trace_id: str, span_id: str) -> dict[str, Any] | None:
        """The stored span as ``row_from_parts`` keywords (to merge an update into), or None."""

    def write_scores(self, scores: Sequence[Score]) -> tuple[list[Score], list[tuple[Score, ScoreError]]]:
        """Upsert checked ``scores`` by id in one transaction, refusing each whose data type differs
        from the one its name already holds; the scores stored and the refusals."""

    def is_busy(self, exc: BaseException) -> bool:
        """Whether ``exc`` means another writer holds the database for now (worth another try)."""

    def replaced(self) -> bool:
        """Whether the database this connection writes to is no longer the one at its path."""

    # -- reading (TraceStore) ----------------------------------------------------------------
    def get_span(self, trace_id: str, span_id: str) -> SpanNode | None: ...

    def get_trace(self, trace_id: str, *, prefix: bool = False) -> Trace | None: ...

    def list_traces(self, where: TraceFilter, *, limit: int, cursor: str | None) -> TracePage: ...

    def types_and_models(self, trace_ids: Sequence[str]) -> dict[str, tuple[str | None, list[str]]]:
        """Per stored trace id: its root span's type and the models it called."""

    def root_io(self, trace_ids: Sequence[str]) -> dict[str, tuple[Any, Any]]:
        """Per stored trace id: its root span's input and output attribute values as stored
        (``traceglass.input`` else ``gen_ai.input.messages``; ``traceglass.output`` else
        ``gen_ai.output.messages``), None where absent. For the trace list's previews."""

    def stats(self, group_by: str, *, since: TimeLike | None, until: TimeLike | None,
              project: str | None) -> list[StatsRow]: ...

    def count(self) -> dict[str, int]: ...

    def call_timeseries(self, query: SeriesQuery) -> TimeSeries:
        """The model calls (spans with a model, not superseded: what ``stats("model")`` counts) whose
        start is in the query's range and project, per bucket and group (None, model or project):
        sums and durations assembled by ``_timeseries_models.call_series``."""

    def score_timeseries(self, query: SeriesQuery) -> TimeSeries:
        """The numeric scores created in the query's range (of its name, source and project), per
        bucket and name: assembled by ``_timeseries_models.score_series``."""

    def get_score(self, score_id: str) -> Score | None: ...

    def scores(self, *, trace_id: str | None, name: str | None, source: str | None, since: TimeLike | None,
               until: TimeLike | None, limit: int, cursor: str | None) -> ScorePage:
        """Scores newest first (by creation time)."""

    def export_spans(self, *, trace_id: str | None, project: str | None, since: TimeLike | None,
                     until: TimeLike | None) -> tuple[int, Iterator[SpanNode]]:
        """The number of matching spans and an iterator over them (oldest trace first)."""

    # -- sessions and users ------------------------------------------------------------------
    def sessions(self, *, since_ns: int | None, until_ns: int | None, project: str | None, user: str | None,
                 limit: int, cursor: str | None) -> SessionPage:
        """Per session id (traces with one, started in [since_ns, until_ns), of the project and user
        given): turns, users, first/last seen, totals and scores; the latest active first."""

    def session(self, session_id: str, *, limit: int) -> Session | None:
        """One session's totals and its first ``limit`` turns in order, each with the text its user
        sent and the answer (``_turn_text.turn_texts``); None when no trace has the id."""

    def users(self, *, since_ns: int | None, until_ns: int | None, project: str | None, limit: int,
              cursor: str | None) -> UserPage:
        """Per user id (traces with one, in range and project): calls (traces), sessions,
        first/last seen, totals and scores; the latest active first."""

    # -- alerts ------------------------------------------------------------------------------
    def window_metrics(self, query: WindowQuery) -> list[WindowMetrics]:
        """Per group: the numbers of the spans (or scores) in the query's window and scope."""

    def trace_breaches(self, query: TraceQuery) -> list[TraceBreach]:
        """The traces whose value is beyond the query's threshold, newest first."""

    def alert_state(self, rules: Sequence[str] | None, *, groups: Sequence[str] | None = None,
                    active_since_ns: int | None = None) -> dict[tuple[str, str], AlertState]:
        """The state per (rule, group key), of ``rules`` and of ``groups`` (keys) only when given;
        only "firing" and "fired" since ``active_since_ns`` when that is given."""

    def record_alerts(self, states: Sequence[AlertState],
                      events: Sequence[tuple[str, str, str, int, str, dict[str, Any]]]) -> list[int]:
        """Upsert the states and append the events in one transaction; the events' new ids."""

    def set_alert_delivery(self, event_id: int, delivery: str, attempts: int) -> None: ...

    def alert_history(self, *, rule: str | None, since_ns: int | None, limit: int) -> list[AlertRecord]: ...

    # -- evaluations (traceglass.evals) -----------------------------------------------------------
    def trace_spans(self, trace_ids: Sequence[str]) -> dict[str, list[SpanNode]]:
        """Every span of each stored trace of ``trace_ids`` (by start time), read in bulk."""

    def save_dataset(self, name: str, items: Sequence[dict[str, Any]], metadata: dict[str, Any],
                     created_ns: int) -> DatasetInfo:
        """Store ``items`` as the next version of dataset ``name`` in one transaction."""

    def datasets(self, name: str | None) -> list[DatasetInfo]:
        """The latest version of every dataset (by name), or every version of ``name``, newest first."""

    def dataset_items(self, name: str, version: int | None) -> tuple[DatasetInfo, list[dict[str, Any]]] | None:
        """A saved version (the latest for None) and its items in order; None when there is none."""

    def save_eval_run(self, run: EvalRunRecord, items: Sequence[dict[str, Any]],
                      results: Sequence[EvalResultRecord]) -> None:
        """Store (or replace) a run with its items and results in one transaction."""

    def eval_runs(self, *, limit: int) -> list[EvalRunRecord]:
        """Runs newest first."""

    def eval_run(self, run_id: str) -> tuple[EvalRunRecord, list[dict[str, Any]], list[EvalResultRecord]] | None:
        """A run with its items and results in order, or None."""

    def evaluated(self, trace_ids: Sequence[str], scorers: Sequence[str]) -> set[tuple[str, str | None, str]]:
        """(trace id, span id, scorer) already evaluated among ``trace_ids`` by these scorers."""

    def attributed_cost(self, key: str, value: str, *, since_ns: int) -> float | None:
        """The summed roll-up cost of spans since ``since_ns`` whose attribute ``key`` is ``value``."""

    # -- maintenance -------------------------------------------------------------------------
    def delete_traces(self, trace_ids: Sequence[str]) -> int:
        """Delete the traces, their spans and their scores; returns how many traces existed."""

    def delete_score(self, score_id: str) -> bool: ...

    def prune(self, *, older_than: float | None, max_size: int | str | None, pause: float = 0.0) -> int:
        """Delete traces (with their scores) by age, then the oldest ones by size, in short steps;
        by age also the scores older than the cutoff whose trace is not stored; free space released."""

    def size_bytes(self) -> int: ...

    def backfill_search_index(self, chunk: int) -> tuple[int, int]:
        """Index up to ``chunk`` more of the spans the content search's index does not hold yet, newest
        first, in a write transaction of its own: (spans indexed, spans still unindexed)."""

    def ping(self) -> None:
        """Ask the database a cheap question that reaches it (not only this process's memory);
        raises the backend's error when it does not answer (the server's ``/readyz``)."""

    def close(self) -> None: ...
