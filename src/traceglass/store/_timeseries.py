"""The time-series reads (SQLite): model calls and scores grouped per bucket, assembled into dense
series by :mod:`traceglass.store._timeseries_models`.

The calls are the spans ``stats(group_by="model")`` counts (a model, not superseded by a span below
it), so the charts and the tables agree. Both reads stay on the partial ``spans_model`` index, which
covers every column they use; the unary ``+`` on ``start_ns`` keeps SQLite from walking the
``spans_start`` index instead and fetching every row of the range from the table. The SQL is plain
enough for PostgreSQL too (integer division, CASE), apart from SQLite's ``typeof`` checks.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from traceglass.store._timeseries_models import SeriesQuery, TimeSeries, call_series, score_series

# Stored values another tool may have written by hand (text in a number column, counts beyond any
# real one) are left out of the sums instead of failing them with "integer overflow".
_MAX_TOKENS = 10**12
_MAX_COST = 1e12
_KEYS = {None: "NULL", "model": "model", "project": "project"}


def _checked_int(column: str) -> str:
    return f"sum(CASE WHEN typeof({column}) = 'integer' AND {column} BETWEEN 0 AND {_MAX_TOKENS} THEN {column} END)"


_SUMS = """SELECT start_ns / {width} AS b, {key} AS k, count(*),
    sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END), {tokens_in}, {tokens_out},
    sum(CASE WHEN typeof(cost_usd) IN ('real', 'integer') AND abs(cost_usd) <= {max_cost} THEN cost_usd END)
    FROM spans WHERE {where} GROUP BY b, k"""
_DURATIONS = """SELECT start_ns / {width}, {key}, duration_ns FROM spans
    WHERE {where} AND typeof(duration_ns) = 'integer'"""
_SCORES = """SELECT created_ns / {width} AS b, name, sum(value), count(*) FROM scores
    WHERE {where} GROUP BY b, name"""


def _range(column: str, query: SeriesQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if query.since_ns is not None:
        where.append(f"+{column} >= ?")
        params.append(query.since_ns)
    if query.until_ns is not None:
        where.append(f"+{column} < ?")
        params.append(query.until_ns)
    return where, params


def call_timeseries(conn: sqlite3.Connection, query: SeriesQuery) -> TimeSeries:
    where, params = _range("start_ns", query)
    where = ["model IS NOT NULL", "superseded = 0", *where]
    if query.project is not None:
        where.append("project = ?")
        params.append(query.project)
    fill = {"width": query.width_ns, "key": _KEYS[query.group_by], "where": " AND ".join(where)}
    sums = conn.execute(_SUMS.format(**fill, tokens_in=_checked_int("input_tokens"),
                                     tokens_out=_checked_int("output_tokens"), max_cost=_MAX_COST), params)
    durations = conn.execute(_DURATIONS.format(**fill), params)
    return call_series(query, sums.fetchall(), durations)


def score_timeseries(conn: sqlite3.Connection, query: SeriesQuery) -> TimeSeries:
    where, params = _range("created_ns", query)
    # Numeric and boolean scores (stored 1.0/0.0) have a value; labels do not.
    where.append("typeof(value) IN ('real', 'integer')")
    for column, value in (("name", query.name), ("source", query.source)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if query.project is not None:
        where.append("trace_id IN (SELECT trace_id FROM traces WHERE project = ?)")
        params.append(query.project)
    rows = conn.execute(_SCORES.format(width=query.width_ns, where=" AND ".join(where)), params)
    return score_series(query, rows.fetchall())
