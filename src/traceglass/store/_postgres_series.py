"""The time-series reads on PostgreSQL: model calls and numeric scores per bucket, assembled into dense
series by :mod:`._timeseries_models` exactly as SQLite's rows are (:mod:`._timeseries`).

PostgreSQL groups by hashing, so one grouped statement reads every bucket of the range (SQLite reads
one model and bucket at a time to avoid sorting); each group's durations come back as one array.
The calls are the spans ``stats(group_by="model")`` counts: a model, not superseded.
"""

from __future__ import annotations

from typing import Any

from traceglass.store._timeseries_models import (
    SeriesQuery,
    TimeSeries,
    call_series,
    score_series,
)

_CALLS = """SELECT start_ns / %s, {key}, count(*), count(*) FILTER (WHERE status = 'ERROR'),
    sum(input_tokens)::bigint, sum(output_tokens)::bigint, sum(cost_usd), array_remove(array_agg(duration_ns), NULL)
    FROM spans WHERE model IS NOT NULL AND superseded = 0{where} GROUP BY 1, 2"""
_SCORES = """SELECT created_ns / %s, name, sum(value), count(*) FROM scores WHERE value IS NOT NULL{where}
    GROUP BY 1, 2"""


def _range(column: str, query: SeriesQuery) -> tuple[str, list[Any]]:
    where, params = "", []
    if query.since_ns is not None:
        where += f" AND {column} >= %s"
        params.append(query.since_ns)
    if query.until_ns is not None:
        where += f" AND {column} < %s"
        params.append(query.until_ns)
    return where, params


def call_timeseries(conn: Any, query: SeriesQuery) -> TimeSeries:
    where, params = _range("start_ns", query)
    if query.project is not None:
        where += " AND project = %s"
        params.append(query.project)
    # The series key of a row: the project when grouped by it, else the stored model (the
    # assembly folds models into families, or into the one ungrouped series).
    key = "project" if query.group_by == "project" else "model"
    rows = conn.execute(_CALLS.format(key=key, where=where), [query.width_ns, *params]).fetchall()
    return call_series(query, [(*row[:7], list(row[7])) for row in rows])


def score_timeseries(conn: Any, query: SeriesQuery) -> TimeSeries:
    where, params = _range("created_ns", query)
    for column, value in (("name", query.name), ("source", query.source)):
        if value is not None:
            where += f" AND {column} = %s"
            params.append(value)
    if query.project is not None:
        where += " AND trace_id IN (SELECT trace_id FROM traces WHERE project = %s)"
        params.append(query.project)
    return score_series(query, conn.execute(_SCORES.format(where=where), [query.width_ns, *params]).fetchall())
