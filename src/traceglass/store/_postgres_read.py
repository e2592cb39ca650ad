"""The read queries on PostgreSQL: a span, a trace as a tree, the filtered trace list, statistics,
span rows for export.

The statements of :mod:`._queries` (SQLite) in PostgreSQL's dialect, with the same ordering and
cursors (newest first by start time, then trace id, compared byte by byte); rows read back through
the same readers (``span_node``, ``summary_fields``), so both backends return equal objects. The
content search is ``ILIKE`` over span names and the stored JSON (attributes, events), which pg_trgm
indexes serve when the schema could create them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from traceglass.store import _filter_sql
from traceglass.store import _postgres_scores as scores
from traceglass.store._dialect import POSTGRES
from traceglass.store._filter import GROUPS, TraceFilter
from traceglass.store._filter_sql import encode_cursor, hex_prefix
from traceglass.store._models import SpanNode, StatsRow, Trace, TracePage, TraceSummary
from traceglass.store._queries import (
    TRACE_COLUMNS,
    _key,
    _time,
    model_family,
    models_matching,
    root_values,
    span_node,
    span_select,
    summary_fields,
)
from traceglass.store._search import like
from traceglass.store._time import NS_MAX, TimeLike

SPAN_SELECT = span_select("d.resource")  # every span keeps its own resource text here
_SPAN_KEY = " WHERE s.trace_no = (SELECT id FROM traces WHERE trace_id = %s) AND s.span_id = %s"
_SPAN_PARTS = """SELECT s.trace_id, s.span_id, s.parent_id, s.name, s.kind, s.start_ns, s.end_ns, s.status,
    s.status_message, d.attributes, d.events, d.links, d.resource
    FROM spans s LEFT JOIN span_data d ON d.id = s.id""" + _SPAN_KEY
_EXPORT_PAGE = 1000
_EXPORT_SELECT = SPAN_SELECT.replace("s.superseded", "s.superseded, s.id", 1)


def span_parts(conn: Any, trace_id: str, span_id: str) -> dict[str, Any] | None:
    row = conn.execute(_SPAN_PARTS, (trace_id.lower(), span_id.lower())).fetchone()
    if row is None:
        return None
    parts = dict(zip(("trace_id", "span_id", "parent_id", "name", "kind", "start_ns", "end_ns", "status",
                      "status_message"), row[:9]))
    for key, text, empty in zip(("attributes", "events", "links", "resource"), row[9:], ({}, [], [], {})):
        parts[key] = json.loads(text) if text else empty
    return parts


def get_span(conn: Any, trace_id: str, span_id: str) -> SpanNode | None:
    row = conn.execute(SPAN_SELECT + _SPAN_KEY, (trace_id.lower(), span_id.lower())).fetchone()
    return None if row is None else span_node(row)


def _head(conn: Any, trace_id: str) -> Any:
    return conn.execute(f"SELECT t.id, {TRACE_COLUMNS} FROM traces t WHERE t.trace_id = %s", (trace_id,)).fetchone()


def get_trace(conn: Any, trace_id: str, *, prefix: bool = False) -> Trace | None:
    trace_id = trace_id.strip().lower()
    head = _head(conn, trace_id)
    if head is None and prefix and hex_prefix(trace_id):
        found = [r[0] for r in conn.execute("SELECT trace_id FROM traces WHERE trace_id LIKE %s LIMIT 2",
                                            (trace_id + "%",))]
        if len(found) > 1:
            count = conn.execute("SELECT count(*) FROM traces WHERE trace_id LIKE %s", (trace_id + "%",)).fetchone()[0]
            raise ValueError(f"trace id prefix {trace_id!r} matches {count} traces; give more of the id")
        if found:
            head = _head(conn, found[0])
    if head is None:
        return None
    trace_no, head = head[0], head[1:]
    spans = [span_node(r) for r in conn.execute(f"{SPAN_SELECT} WHERE s.trace_no = %s ORDER BY s.start_ns, s.id",
                                                 (trace_no,))]
    by_id = {span.span_id: span for span in spans}
    roots = []
    for span in spans:
        parent = by_id.get(span.parent_id) if span.parent_id else None
        (parent.children if parent is not None else roots).append(span)
    root = next((s for s in roots if s.parent_id is None), roots[0] if roots else None)
    trace = Trace(*summary_fields(head), root=root, roots=roots, spans=spans)
    trace.scores = scores.trace_scores(conn, trace.trace_id)
    for score in trace.scores:
        span = by_id.get(score.span_id) if score.span_id else None
        if span is not None:
            span.scores.append(score)
    return trace


_NEWEST = " ORDER BY t.start_ns DESC, t.trace_id DESC"
# The content search: a span name, attributes or events containing the text, any case (SQLite's LIKE
# ignores ASCII case; ILIKE does too, and beyond ASCII).
# ``{fence}``: "OFFSET 0" keeps each EXISTS a check of one trace's spans (otherwise PostgreSQL may
# turn it into one hashed set of every matching span, built from the trigram indexes first).
_SEARCH = ("(EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND s.name ILIKE %s{fence})"
           " OR EXISTS (SELECT 1 FROM spans s JOIN span_data d ON d.id = s.id WHERE s.trace_no = t.id"
           " AND (d.attributes ILIKE %s OR d.events ILIKE %s){fence}))")
# How many of the newest candidate traces the search first looks in (see _search).
SEARCH_WINDOW = 1000


def list_traces(conn: Any, where: TraceFilter, *, limit: int = 50, cursor: str | None = None) -> TracePage:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    models = models_matching(conn, where.model) if where.model is not None else None
    clauses, params = _filter_sql.trace_clauses(where, cursor, models, POSTGRES)
    condition = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    wanted = min(limit, NS_MAX - 1) + 1
    if where.search:
        rows = _search(conn, condition, params, where.search, wanted)
    else:
        rows = conn.execute(f"SELECT {TRACE_COLUMNS} FROM traces t {condition}{_NEWEST} LIMIT %s",
                            [*params, wanted]).fetchall()
    traces = [TraceSummary(*summary_fields(row)) for row in rows[:limit]]
    summaries = scores.trace_summaries(conn, [t.trace_id for t in traces])
    for summary in traces:
        summary.scores = summaries.get(summary.trace_id, {})
    next_cursor = encode_cursor(traces[-1]) if len(rows) > limit else None
    return TracePage(traces, next_cursor)


def _search(conn: Any, condition: str, params: list[Any], text: str, wanted: int) -> list[Any]:
    """The first ``wanted`` traces, in list order, that pass ``condition`` and contain ``text``.

    Text most spans contain matches nearly every row of the pg_trgm indexes, and PostgreSQL then
    re-checked each match on its detoasted JSON before sorting and keeping a page: 50 s over
    385,536 spans. So the search first looks in the newest SEARCH_WINDOW traces that pass the other
    filters (a walk down traces_start that stops at ``wanted`` matches, as SQLite's does). When that
    window yields ``wanted`` matches they are the answer: every match outside it is older. When the
    window held every candidate, its matches are all there are. Otherwise (rare text) the indexed
    query runs over everything, where the trigram indexes narrow the rows to few."""
    pattern = like(text).replace("\x00", "\ufffd")
    search = [pattern, pattern, pattern]
    window = (f"SELECT {TRACE_COLUMNS} FROM (SELECT * FROM traces t {condition}{_NEWEST} LIMIT %s) t "
              f"WHERE {_SEARCH.format(fence=' OFFSET 0')}{_NEWEST} LIMIT %s")
    rows = conn.execute(window, [*params, SEARCH_WINDOW, *search, wanted]).fetchall()
    if len(rows) == wanted:
        return rows
    candidates = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM traces t {condition} LIMIT %s) t",
                              [*params, SEARCH_WINDOW]).fetchone()[0]
    if candidates < SEARCH_WINDOW:
        return rows
    return _search_everything(conn, condition, params, search, wanted)


def _search_everything(conn: Any, condition: str, params: list[Any], search: list[str], wanted: int) -> list[Any]:
    search_clause = _SEARCH.format(fence="")
    where = f"{condition} AND {search_clause}" if condition else f"WHERE {search_clause}"
    return conn.execute(f"SELECT {TRACE_COLUMNS} FROM traces t {where}{_NEWEST} LIMIT %s",
                        [*params, *search, wanted]).fetchall()


def types_and_models(conn: Any, trace_ids: Sequence[str]) -> dict[str, tuple[str | None, list[str]]]:
    if not trace_ids:
        return {}
    sql = """SELECT t.trace_id,
        (SELECT s.span_type FROM spans s WHERE s.trace_no = t.id AND s.span_id = t.root_span_id),
        ARRAY(SELECT DISTINCT s.model FROM spans s WHERE s.trace_no = t.id AND s.model IS NOT NULL)
        FROM traces t WHERE t.trace_id = ANY(%s)"""
    # Sorted here, by code point, as SQLite's binary ORDER BY sorts them.
    return {trace_id: (span_type, sorted(models)) for trace_id, span_type, models in
            conn.execute(sql, (list(trace_ids),))}


def root_io(conn: Any, trace_ids: Sequence[str]) -> dict[str, tuple[Any, Any]]:
    """Per stored trace id: its root span's input and output values, read as on SQLite (``root_values``)."""
    if not trace_ids:
        return {}
    return root_values(conn.execute(
        "SELECT t.trace_id, d.attributes FROM traces t JOIN spans s ON s.trace_no = t.id AND "
        "s.span_id = t.root_span_id JOIN span_data d ON d.id = s.id WHERE t.trace_id = ANY(%s)", (list(trace_ids),)))


# Per group: the table, the key, which rows count as calls, which rows' tokens and cost count.
_GROUPS = {
    "model": ("spans", "model", "model IS NOT NULL AND superseded = 0", "true"),
    "type": ("spans", "span_type", "true", "superseded = 0"),
    "project": ("traces", "project", "true", "true"),
    "user": ("traces", "user_id", "true", "true"),
    "session": ("traces", "session_id", "true", "true"),
    "day": ("traces", scores.DAY.format(col="start_ns"), "true", "true"),
}


def _scope(prefix: str, *, since: TimeLike | None, until: TimeLike | None,
           project: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append(f"{prefix}start_ns >= %s")
        params.append(_time("since", since))
    if until is not None:
        where.append(f"{prefix}start_ns < %s")
        params.append(_time("until", until))
    if project is not None:
        where.append(f"{prefix}project = %s")
        params.append(project)
    return where, params


# Nearest-rank p50 and p95: percentile_disc takes the ceil(fraction * n)-th smallest value, the rank
# _queries._rank gives (0.5 and 0.95 as doubles agree with its integer arithmetic for any n).
_PERCENTILES = "percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY duration_ns)"


def stats(conn: Any, group_by: str = "model", *, since: TimeLike | None = None, until: TimeLike | None = None,
          project: str | None = None) -> list[StatsRow]:
    """As ``_queries.stats``, in one statement: the sums and both percentiles per stored key, read in
    key order from the covering index for model and type (schema 11). Fetching every duration and
    sorting in Python, as SQLite's does, cost 1.3 s server time for 400,000 model calls (a table scan)
    plus the transfer; stats by type fetched 1,000,000 rows."""
    if group_by not in _GROUPS:
        raise ValueError(f"group_by must be one of {list(GROUPS)}, got {group_by!r}")
    table, key, calls_filter, usage_filter = _GROUPS[group_by]
    where, params = _scope("", since=since, until=until, project=project)
    condition = " AND ".join([calls_filter, *where])
    usage = "" if usage_filter == "true" else f" FILTER (WHERE {usage_filter})"
    # sum() of bigint is numeric in PostgreSQL: it cannot overflow, unlike SQLite's.
    sums = conn.execute(
        f"SELECT {key} AS k, count(*), count(*) FILTER (WHERE status = 'ERROR'), sum(input_tokens){usage}, "
        f"sum(output_tokens){usage}, sum(cost_usd){usage}, {_PERCENTILES} FROM {table} WHERE {condition} "
        "GROUP BY 1", params).fetchall()
    # Models group by family (a dated snapshot counts under the model asked for): SQL groups by the
    # stored name, over the index; the few groups are folded here.
    fold = model_family if group_by == "model" else (lambda k: k)
    totals: dict[Any, list[Any]] = {}
    stored: dict[Any, list[Any]] = {}
    for k, calls, errors, tokens_in, tokens_out, cost, percentiles in sums:
        folded = _key(fold(k))
        stored.setdefault(folded, []).append((k, percentiles))
        row = totals.setdefault(folded, [0, 0, 0, 0, None])
        row[0] += calls
        row[1] += errors or 0
        row[2] += int(tokens_in or 0)
        row[3] += int(tokens_out or 0)
        if cost is not None:
            row[4] = cost if row[4] is None else row[4] + cost
    scope, scope_params = _scope("g.", since=since, until=until, project=project)
    score_groups = scores.group_summaries(conn, group_by, scope, scope_params, lambda k: _key(fold(k)))
    rows = []
    for k, (calls, errors, tokens_in, tokens_out, cost) in totals.items():
        keys = stored[k]
        if len(keys) == 1:
            percentiles = keys[0][1]
        else:  # a family stored under several names: its percentiles over all of them
            percentiles = conn.execute(f"SELECT {_PERCENTILES} FROM {table} WHERE {condition} AND {key} = ANY(%s)",
                                       [*params, [name for name, _ in keys]]).fetchone()[0]
        p50, p95 = (percentiles[0] / 1e6, percentiles[1] / 1e6) if percentiles else (None, None)
        rows.append(StatsRow(k, calls, errors, tokens_in, tokens_out, tokens_in + tokens_out, cost, p50, p95,
                             scores=score_groups.get(k, {})))
    rows.sort(key=lambda r: (-(r.cost_usd or 0.0), -r.calls, str(r.key)))
    return rows


def count(conn: Any) -> dict[str, int]:
    traces, spans = conn.execute("SELECT (SELECT count(*) FROM traces), (SELECT count(*) FROM spans)").fetchone()
    return {"traces": traces, "spans": spans}


def export_spans(pool_conn: Any, *, trace_id: str | None, project: str | None, since: TimeLike | None,
                 until: TimeLike | None) -> tuple[int, Iterator[SpanNode]]:
    """The number of matching spans and an iterator over them, in row order, read a page at a time
    (``pool_conn()``: a context manager lending a connection) so no connection is held between pages."""
    where, params = _scope("s.", since=since, until=until, project=project)
    if trace_id:
        where.append("s.trace_no = (SELECT id FROM traces WHERE trace_id = %s)")
        params.append(trace_id.strip().lower())
    with pool_conn() as conn:
        total = conn.execute(f"SELECT count(*) FROM spans s{' WHERE ' + ' AND '.join(where) if where else ''}",
                             params).fetchone()[0]

    def pages() -> Iterator[SpanNode]:
        last = -1
        while True:
            condition = " WHERE " + " AND ".join([*where, "s.id > %s"])
            with pool_conn() as conn:
                rows = conn.execute(f"{_EXPORT_SELECT}{condition} ORDER BY s.id LIMIT {_EXPORT_PAGE}",
                                    [*params, last]).fetchall()
            yield from (span_node(row) for row in rows)  # span_node reads the columns before the id
            if len(rows) < _EXPORT_PAGE:
                return
            last = rows[-1][-1]

    return total, pages()
