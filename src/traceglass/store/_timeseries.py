"""The time-series reads (SQLite): model calls and scores per bucket, assembled into dense series by
:mod:`traceglass.store._timeseries_models`.

The calls are the spans ``stats(group_by="model")`` counts (a model, not superseded by a span below
it), so the charts and the tables agree. SQLite groups by sorting, and sorting every call of a month
(or moving each call's duration into Python one row at a time) costs more than the rest of the read.
So one statement walks the stored models and the buckets and, per model and bucket, aggregates an
index range of ``spans_model`` (model, start_ns, ...: it covers every column used) without a sort,
the whole answer coming back as one JSON value: one step of one statement, because each step gives
Python's GIL away and waits to take it back, which is slow while another request (the page's
tables) holds it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from traceglass.store._timeseries_models import SeriesQuery, TimeSeries, call_series, score_series

# Stored values another tool may have written by hand (text in a number column, counts beyond any
# real one) are left out of the sums. The checks cost a third more, so they run only when the plain
# sums are not plausible (or overflow).
_MAX_TOKENS = 10**12
_MAX_COST = 1e12
_CHECKED = {
    "input_tokens": f"CASE WHEN typeof(input_tokens) = 'integer' AND input_tokens BETWEEN 0 AND {_MAX_TOKENS} "
                    "THEN input_tokens END",
    "output_tokens": f"CASE WHEN typeof(output_tokens) = 'integer' AND output_tokens BETWEEN 0 AND {_MAX_TOKENS} "
                     "THEN output_tokens END",
    "cost_usd": f"CASE WHEN typeof(cost_usd) IN ('real', 'integer') AND abs(cost_usd) <= {_MAX_COST} THEN cost_usd END",
}
# m: the stored models, one index seek each; b: the bucket indexes of the range. One JSON value: per
# (model, bucket), [model, bucket, groups], each group [key, calls, errors, input tokens, output
# tokens, cost, "durations,..."]: the whole read in one step of one statement.
_CALLS = """WITH RECURSIVE m(name) AS (
        SELECT min(model) FROM spans WHERE model IS NOT NULL
        UNION ALL
        SELECT (SELECT min(model) FROM spans WHERE model > m.name) FROM m WHERE m.name IS NOT NULL),
    b(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM b WHERE i < ?)
    SELECT json_group_array(json_array({model_label}, b.i, (SELECT json_group_array(json_array(k, c, e, ti, tout, cost, d)) FROM (
        SELECT {key} AS k, count(*) AS c, sum(CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END) AS e,
            sum({input_tokens}) AS ti, sum({output_tokens}) AS tout, sum({cost_usd}) AS cost,
            group_concat(CASE WHEN typeof(duration_ns) = 'integer' THEN duration_ns END) AS d
        FROM spans WHERE model = m.name AND start_ns >= max(b.i * {width}, ?) AND start_ns < min((b.i + 1) * {width}, ?)
            AND superseded = 0{project}{group}))))
    FROM m, b WHERE m.name IS NOT NULL"""
_SCORES = """SELECT created_ns / {width} AS b, name, sum(value), count(*) FROM scores
    WHERE {where} GROUP BY b, name"""
# Each walks the spans_start index from one end to the first model call: one seek in practice.
_FIRST = "SELECT min(start_ns) FROM spans WHERE model IS NOT NULL"
_LAST = "SELECT max(start_ns) FROM spans WHERE model IS NOT NULL"
_NS_MAX = 2**63 - 1


def _label(column: str) -> str:
    # JSON holds no BLOB: a key stored as bytes (by another tool) reads as its hex digits.
    return f"CASE WHEN typeof({column}) = 'blob' THEN 'x' || hex({column}) ELSE {column} END"


def _ns(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _plausible(group: list[Any]) -> bool:
    _, _, _, tokens_in, tokens_out, cost, _ = group
    return (all(t is None or (type(t) is int and 0 <= t <= 2**62) for t in (tokens_in, tokens_out))
            and (cost is None or (isinstance(cost, (int, float)) and math.isfinite(cost) and abs(cost) <= _MAX_COST)))


def _read(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[tuple[Any, Any, list[Any]]] | None:
    """(model, bucket, groups) per model and bucket; None when a sum is not plausible."""
    packed = conn.execute(sql, params).fetchone()[0]
    found = json.loads(packed) if packed else []
    for _, _, groups in found:
        if not all(_plausible(group) for group in groups if group[1]):
            return None
    return found


def call_timeseries(conn: sqlite3.Connection, query: SeriesQuery) -> TimeSeries:
    width = query.width_ns
    if query.since_ns is None or query.until_ns is None:
        # An open end: from the first stored call, or to the last one.
        first, last = (_ns(conn.execute(sql).fetchone()[0]) for sql in (_FIRST, _LAST))
    else:
        first = last = None
    buckets = query.span(first, last)
    if not buckets:
        return call_series(query, [])
    group = query.group_by == "project"
    fill = {"width": width, "key": _label("project") if group else "NULL", "model_label": _label("m.name"),
            "project": " AND project = ?" if query.project is not None else "",
            "group": " GROUP BY project" if group else ""}
    params = [buckets[0], buckets[-1], query.since_ns if query.since_ns is not None else -_NS_MAX,
              query.until_ns if query.until_ns is not None else _NS_MAX,
              *([query.project] if query.project is not None else [])]
    try:
        found = _read(conn, _CALLS.format(**fill, **{column: column for column in _CHECKED}), params)
    except sqlite3.OperationalError as exc:  # "integer overflow" from a sum of huge stored counts
        if "overflow" not in str(exc):
            raise
        found = None
    if found is None:
        found = _read(conn, _CALLS.format(**fill, **_CHECKED), params) or []
    rows = []
    for model, bucket, groups in found:
        for key, calls, errors, tokens_in, tokens_out, cost, durations in groups:
            if calls:
                # call_series folds the models into families, or into the one ungrouped series.
                rows.append((bucket, key if group else model, calls, errors, tokens_in, tokens_out, cost,
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
