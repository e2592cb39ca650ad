"""The time-series reads (SQLite): model calls and scores per bucket, assembled into dense series by
:mod:`traceglass.store._timeseries_models`.

The calls are the spans ``stats(group_by="model")`` counts (a model, not superseded by a span below
it), so the charts and the tables agree. SQLite groups by sorting, and sorting every call of a month
(and moving each call's duration into Python one row at a time) costs more than the rest of the read:
so the calls are read one model and one bucket at a time, each an index range on ``spans_model``
(model, start_ns, ...: it covers every column used) aggregated without a sort, the durations coming
back as one ``group_concat`` text per bucket. 31 days of 8 models is 248 such reads; an hour of them
costs little more than the scan itself.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from traceglass.store._queries import _DISTINCT_MODELS
from traceglass.store._timeseries_models import SeriesQuery, TimeSeries, call_series, score_series

# Stored values another tool may have written by hand (text in a number column, counts beyond any
# real one) are left out of the sums. The checks cost half as much again as the sums, so they run
# only for a bucket whose plain sums are not plausible (or overflow).
_MAX_TOKENS = 10**12
_MAX_COST = 1e12
_CHECKED = {
    "input_tokens": f"CASE WHEN typeof(input_tokens) = 'integer' AND input_tokens BETWEEN 0 AND {_MAX_TOKENS} "
                    "THEN input_tokens END",
    "output_tokens": f"CASE WHEN typeof(output_tokens) = 'integer' AND output_tokens BETWEEN 0 AND {_MAX_TOKENS} "
                     "THEN output_tokens END",
    "cost_usd": f"CASE WHEN typeof(cost_usd) IN ('real', 'integer') AND abs(cost_usd) <= {_MAX_COST} THEN cost_usd END",
}
_CALLS = """SELECT {key}, count(*), sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END), sum({input_tokens}),
    sum({output_tokens}), sum({cost_usd}), group_concat(CASE WHEN typeof(duration_ns) = 'integer' THEN duration_ns END)
    FROM spans WHERE model = ? AND start_ns >= ? AND start_ns < ? AND superseded = 0{project}{group}"""
_FIRST = "SELECT min(start_ns) FROM spans WHERE model = ?"  # each one index seek
_LAST = "SELECT max(start_ns) FROM spans WHERE model = ?"
_SCORES = """SELECT created_ns / {width} AS b, name, sum(value), count(*) FROM scores
    WHERE {where} GROUP BY b, name"""


def _plausible(row: tuple) -> bool:
    _, _, _, tokens_in, tokens_out, cost, _ = row
    return (all(t is None or (type(t) is int and 0 <= t <= 2**62) for t in (tokens_in, tokens_out))
            and (cost is None or (isinstance(cost, (int, float)) and math.isfinite(cost) and abs(cost) <= _MAX_COST)))


def _ns(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def call_timeseries(conn: sqlite3.Connection, query: SeriesQuery) -> TimeSeries:
    group = query.group_by == "project"
    fill = {"key": "project" if group else "NULL", "project": " AND project = ?" if query.project is not None else "",
            "group": " GROUP BY project" if group else ""}
    plain = _CALLS.format(**fill, **{column: column for column in _CHECKED})
    checked = _CALLS.format(**fill, **_CHECKED)
    extra = [query.project] if query.project is not None else []
    width = query.width_ns
    rows = []
    for (model,) in conn.execute(_DISTINCT_MODELS).fetchall():
        first = _ns(conn.execute(_FIRST, (model,)).fetchone()[0])
        last = _ns(conn.execute(_LAST, (model,)).fetchone()[0])
        for bucket in query.span(first, last):
            low = bucket * width if query.since_ns is None else max(bucket * width, query.since_ns)
            high = (bucket + 1) * width if query.until_ns is None else min((bucket + 1) * width, query.until_ns)
            params = [model, low, high, *extra]
            try:
                found = conn.execute(plain, params).fetchall()
                if not all(_plausible(row) for row in found):
                    found = conn.execute(checked, params).fetchall()
            except sqlite3.OperationalError as exc:  # "integer overflow" from a sum of huge stored counts
                if "overflow" not in str(exc):
                    raise
                found = conn.execute(checked, params).fetchall()
            for key, calls, errors, tokens_in, tokens_out, cost, durations in found:
                if calls:
                    key = key if group else model  # call_series folds models into families or one series
                    rows.append((bucket, key, calls, errors, tokens_in, tokens_out, cost,
                                 [int(d) for d in durations.split(",")] if durations else []))
    return call_series(query, rows)


def score_timeseries(conn: sqlite3.Connection, query: SeriesQuery) -> TimeSeries:
    where: list[str] = []
    params: list[Any] = []
    if query.since_ns is not None:
        where.append("created_ns >= ?")
        params.append(query.since_ns)
    if query.until_ns is not None:
        where.append("created_ns < ?")
        params.append(query.until_ns)
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
