"""The read queries: one trace as a tree, the filtered trace list, statistics, span rows for export."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from traceglass import semconv
from traceglass._pricing import model_candidates
from traceglass.store import _filter_sql, _resources, _scores, _search
from traceglass.store._dialect import SQLITE
from traceglass.store._filter import GROUPS, TraceFilter
from traceglass.store._filter_sql import encode_cursor, hex_prefix
from traceglass.store._models import SpanNode, StatsRow, Trace, TracePage, TraceSummary
from traceglass.store._one_step import document, fetch_all, parsed, too_big
from traceglass.store._packed import unpacked, unpacked_all
from traceglass.store._time import NS_MAX, NS_MIN, TimeLike, to_ns


def span_select(resource: str) -> str:
    """The columns :func:`span_node` reads, of ``spans s`` and ``span_data d``; ``resource`` the SQL of
    the span's resource text."""
    return f"""SELECT s.trace_id, s.span_id, s.parent_id, s.name, s.span_type, s.kind, s.project,
    s.start_ns, s.end_ns, s.status, s.status_message, s.error_type, s.model, s.provider, s.operation,
    s.input_tokens, s.output_tokens, s.total_tokens, s.cost_usd, s.session_id, s.user_id,
    d.attributes, d.events, d.links, {resource}, s.superseded
    FROM spans s LEFT JOIN span_data d ON d.id = s.id"""


SPAN_SELECT = span_select(_resources.STORED)
TRACE_COLUMNS = """t.trace_id, t.name, t.project, t.start_ns, t.end_ns, t.status, t.span_count, t.error_count,
    t.input_tokens, t.output_tokens, t.total_tokens, t.cost_usd, t.session_id, t.user_id"""
# Every value read back is checked, because a row may have been written by hand or by another
# tool: text in a number column, an infinite cost, an integer beyond 64 bits, JSON that is not
# JSON. Such a value reads as unknown (None, or an empty container) instead of failing the read
# or producing output that strict JSON cannot carry.
def _constant(name: str) -> None:
    return None  # NaN, Infinity, -Infinity in stored JSON (the standard json module writes them)


def _loads(text: Any, empty: Any) -> Any:
    if not text:
        return empty
    if type(text) is bytes:  # a large value, stored compressed (SQLite)
        text = unpacked(text)
    try:
        value = json.loads(text, parse_constant=_constant)
    except (TypeError, ValueError, RecursionError):
        return empty
    return value if isinstance(value, type(empty)) else empty


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and NS_MIN <= value <= NS_MAX:
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and NS_MIN <= value <= NS_MAX:
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value) if isinstance(value, float) else value
    return None


# Per column of SPAN_SELECT's first 21 and of TRACE_COLUMNS: how a stored value is read.
_SPAN_READERS = (_text,) * 7 + (_int, _int) + (_text,) * 6 + (_int, _int, _int, _float, _text, _text)
_TRACE_READERS = (_text, _text, _text, _int, _int, _text, _int, _int, _int, _int, _int, _float, _text, _text)
TRACE_WIDTH = len(_TRACE_READERS)  # TRACE_COLUMNS' columns
_SPAN_WIDTH = len(_SPAN_READERS) + 5  # SPAN_SELECT's: then attributes, events, links, resource, superseded
_TRACE_NOT_NULL = {0: "", 5: "OK", 6: 0, 7: 0, 8: 0, 9: 0, 10: 0}  # summary fields typed without None


def span_node(row: tuple) -> SpanNode:
    fields = [read(value) for read, value in zip(_SPAN_READERS, row[:21])]
    fields[9] = fields[9] or "UNSET"
    return SpanNode(*fields, attributes=_loads(row[21], {}), events=_loads(row[22], []),
                    links=_loads(row[23], []), resource=_loads(row[24], {}), usage_superseded=bool(row[25]))


def summary_fields(row: tuple) -> list[Any]:
    """TRACE_COLUMNS values as TraceSummary takes them, whatever the row holds."""
    fields = [read(value) for read, value in zip(_TRACE_READERS, row)]
    for index, default in _TRACE_NOT_NULL.items():
        if fields[index] is None:
            fields[index] = default
    return fields


def _resolve_prefix(conn: sqlite3.Connection, prefix: str) -> str | None:
    """The one trace id that starts with ``prefix``; None for none; ValueError for several."""
    found = [r[0] for r in conn.execute("SELECT trace_id FROM traces WHERE trace_id GLOB ? LIMIT 2",
                                        (prefix + "*",))]
    if len(found) < 2:
        return found[0] if found else None
    count = conn.execute("SELECT count(*) FROM traces WHERE trace_id GLOB ?", (prefix + "*",)).fetchone()[0]
    raise ValueError(f"trace id prefix {prefix!r} matches {count} traces; give more of the id")


# A trace's summary, spans and scores read in one step (see _one_step).
_HEAD = f"SELECT {TRACE_COLUMNS} FROM traces t WHERE t.trace_id = ?"
_SPANS_OF = f"{SPAN_SELECT} WHERE s.trace_no = (SELECT id FROM traces WHERE trace_id = ?) ORDER BY s.start_ns, s.id"
_TRACE_PARTS = ((_HEAD, TRACE_WIDTH), (_SPANS_OF, _SPAN_WIDTH), (_scores.TRACE_SCORES, len(_scores.COLUMNS)))
_TRACE = "SELECT " + ", ".join(document(sql, width) for sql, width in _TRACE_PARTS)


def _read_trace(conn: sqlite3.Connection, trace_id: str) -> tuple[list[Any], list[list[Any]], list[list[Any]]] | None:
    try:
        heads, rows, scores = (parsed(doc) for doc in conn.execute(_TRACE, (trace_id,) * 3).fetchone())
    except sqlite3.DataError as exc:  # a trace too big for one document: its parts apart
        if not too_big(exc):
            raise
        heads, rows, scores = (fetch_all(conn, sql, (trace_id,), width) for sql, width in _TRACE_PARTS)
    return (heads[0], rows, scores) if heads else None


def get_trace(conn: sqlite3.Connection, trace_id: str, *, prefix: bool = False) -> Trace | None:
    trace_id = trace_id.strip().lower()
    found = _read_trace(conn, trace_id)
    if found is None and prefix and hex_prefix(trace_id):
        full = _resolve_prefix(conn, trace_id)
        if full is not None:
            found = _read_trace(conn, full)
    if found is None:
        return None
    head, rows, score_rows = found
    # The compressed attributes and events of every span decompressed in one call (see _packed).
    texts = iter(unpacked_all([value for row in rows for value in row[21:23]]))
    spans = [span_node((*row[:21], next(texts), next(texts), *row[23:])) for row in rows]
    by_id = {span.span_id: span for span in spans}
    roots = []
    for span in spans:
        parent = by_id.get(span.parent_id) if span.parent_id else None
        (parent.children if parent is not None else roots).append(span)
    root = next((s for s in roots if s.parent_id is None), roots[0] if roots else None)
    trace = Trace(*summary_fields(head), root=root, roots=roots, spans=spans)
    # Scores join by the trace id: those that arrived before the spans show up now.
    trace.scores = [_scores.score_from_row(row) for row in score_rows]
    for score in trace.scores:
        span = by_id.get(score.span_id) if score.span_id else None
        if span is not None:
            span.scores.append(score)
    return trace


def _scope(prefix: str, *, since: TimeLike | None = None, until: TimeLike | None = None,
           project: str | None = None) -> tuple[list[str], list[Any]]:
    """Clauses, and their parameters, that keep the rows of a time range and a project
    (``prefix``: the table's alias and a dot, or nothing)."""
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append(f"{prefix}start_ns >= ?")
        params.append(_time("since", since))
    if until is not None:
        where.append(f"{prefix}start_ns < ?")
        params.append(_time("until", until))
    if project is not None:
        where.append(f"{prefix}project = ?")
        params.append(project)
    return where, params


def _time(name: str, value: TimeLike) -> int | None:
    try:
        return to_ns(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def list_traces(conn: sqlite3.Connection, where: TraceFilter, *, limit: int = 50,
                cursor: str | None = None) -> TracePage:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    models = models_matching(conn, where.model) if where.model is not None else None
    clauses, params = _filter_sql.trace_clauses(where, cursor, models, SQLITE)
    # SQLite's LIMIT is a 64-bit integer; no database holds more rows than this anyway.
    wanted = min(limit, NS_MAX - 1) + 1
    if where.search:  # served by the word index where it can, checked in Python (see _search)
        rows = _search.traces_holding(conn, TRACE_COLUMNS, TRACE_WIDTH, clauses, params, where.search, wanted)
    else:
        sql = (f"SELECT {TRACE_COLUMNS} FROM traces t {'WHERE ' + ' AND '.join(clauses) if clauses else ''}"
               " ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT ?")
        rows = fetch_all(conn, sql, [*params, wanted], TRACE_WIDTH)
    traces = [TraceSummary(*summary_fields(row)) for row in rows[:limit]]
    summaries = _scores.trace_summaries(conn, [t.trace_id for t in traces])
    for summary in traces:
        summary.scores = summaries.get(summary.trace_id, {})
    next_cursor = encode_cursor(traces[-1]) if len(rows) > limit else None
    return TracePage(traces, next_cursor)


# Per group: the table, the key expression, which rows count as calls, and which rows' tokens
# and cost count (spans whose usage a span below them already reports do not).
_GROUPS = {
    "model": ("spans", "model", "model IS NOT NULL AND superseded = 0", "1"),
    "type": ("spans", "span_type", "1", "superseded = 0"),
    "project": ("traces", "project", "1", "1"),
    # The unary + keeps SQLite from grouping in index order, which fetches every trace row at
    # random through the index: one pass over the table and a temporary B-tree are 3x faster.
    "user": ("traces", "+user_id", "1", "1"),
    "session": ("traces", "+session_id", "1", "1"),
    "day": ("traces", "strftime('%Y-%m-%d', start_ns / 1000000000, 'unixepoch')", "1", "1"),
}


# The distinct stored models, one index seek each (a loose scan of the spans_model index), so a
# model filter costs microseconds however many spans there are.
_DISTINCT_MODELS = """WITH RECURSIVE m(name) AS (
    SELECT min(model) FROM spans WHERE model IS NOT NULL
    UNION ALL
    SELECT (SELECT min(model) FROM spans WHERE model > m.name) FROM m WHERE m.name IS NOT NULL)
    SELECT name FROM m WHERE name IS NOT NULL"""


def model_family(model: Any) -> Any:
    """The base model a stored model belongs to: ``gpt-4o-mini`` for ``gpt-4o-mini-2024-07-18``
    (and for ``openai/gpt-4o-mini``); the pricing code's rule. Non-text values stay as they are."""
    return model_candidates(model)[-1] if isinstance(model, str) and model.strip() else model


def models_matching(conn: sqlite3.Connection, model: str) -> list[str]:
    """The stored model names a ``model`` filter matches: the model itself and every name it is the
    less specific form of (its dated snapshots, provider-prefixed names), case-insensitively."""
    wanted = model.strip().lower()
    return [name for (name,) in conn.execute(_DISTINCT_MODELS)
            if isinstance(name, str) and name.strip() and wanted in model_candidates(name)]


def _rank(fraction_percent: int, n: int) -> int:
    """Nearest-rank position (1-based) of a percentile among ``n`` sorted values."""
    return max(1, (fraction_percent * n + 99) // 100)


# Stored values stats count. Rows written by hand or by another tool may hold anything (text in a
# number column, infinities, integers beyond any real count): such a value is left out of the sums
# rather than failing the whole statistics ("integer overflow") or turning them into Infinity,
# which JSON cannot carry. Checking every value costs up to twice the plain sums over a million
# spans, so the plain sums run first and the checked ones only when a result is not plausible.
_MAX_TOKENS = 10**12
_MAX_COST = 1e12


def _sums_sql(table: str, key: str, condition: str, usage_filter: str, *, checked: bool) -> str:
    if checked:
        tokens = [f"total(CASE WHEN {usage_filter} AND typeof({c}) = 'integer' AND {c} BETWEEN 0 AND "
                  f"{_MAX_TOKENS} THEN {c} END)" for c in ("input_tokens", "output_tokens")]
        cost = (f"sum(CASE WHEN {usage_filter} AND typeof(cost_usd) IN ('real', 'integer') "
                f"AND abs(cost_usd) <= {_MAX_COST} THEN cost_usd END)")
    else:
        tokens = [f"sum(CASE WHEN {usage_filter} THEN {c} END)" for c in ("input_tokens", "output_tokens")]
        cost = f"sum(CASE WHEN {usage_filter} THEN cost_usd END)"
    return (f"SELECT {key} AS k, count(*), sum(status = 'ERROR'), {tokens[0]}, {tokens[1]}, {cost} "
            f"FROM {table} WHERE {condition} GROUP BY k")


def _plausible(row: tuple) -> bool:
    _, _, _, tokens_in, tokens_out, cost = row
    return (all(t is None or (type(t) is int and 0 <= t <= NS_MAX // 2) for t in (tokens_in, tokens_out))
            and (cost is None or (isinstance(cost, (int, float)) and abs(cost) <= _MAX_COST)))


def _sums(conn: sqlite3.Connection, table: str, key: str, condition: str, usage_filter: str,
          params: list[Any]) -> list[tuple]:
    try:
        rows = fetch_all(conn, _sums_sql(table, key, condition, usage_filter, checked=False), params, 6)
        if all(_plausible(row) for row in rows):
            return rows
    except sqlite3.OperationalError as exc:  # "integer overflow" from a sum of huge stored counts
        if "overflow" not in str(exc):
            raise
    return fetch_all(conn, _sums_sql(table, key, condition, usage_filter, checked=True), params, 6)


def stats(conn: sqlite3.Connection, group_by: str = "model", *, since: TimeLike | None = None,
          until: TimeLike | None = None, project: str | None = None) -> list[StatsRow]:
    if group_by not in _GROUPS:
        raise ValueError(f"group_by must be one of {list(GROUPS)}, got {group_by!r}")
    table, key, calls_filter, usage_filter = _GROUPS[group_by]
    where, params = _scope("", since=since, until=until, project=project)
    condition = " AND ".join([calls_filter, *where])
    sums = _sums(conn, table, key, condition, usage_filter, params)
    # Percentiles: one unsorted pass (over a covering index for spans) and a sort per group in
    # Python, which measured faster than any ORDER BY, OFFSET or window function in SQLite here.
    # Each group's durations come as one text (group_concat) parsed by json in C: a Python row per
    # span cost 0.70 s of the 1.1 s a 1,000,000-span stats by type took; this pass takes 0.41 s.
    durations: dict[Any, list[int]] = {}
    for k, text in fetch_all(conn, f"SELECT {key} AS k, group_concat(duration_ns) FROM {table} WHERE {condition}"
                             " AND typeof(duration_ns) = 'integer' GROUP BY k", params, 2):
        durations.setdefault(k, []).extend(json.loads(f"[{text}]"))
    # Models group by family: a dated snapshot the API answered with (gpt-4o-mini-2024-07-18)
    # counts under the model the app asked for (gpt-4o-mini). SQL groups by the stored name (over
    # the index); the few groups are folded here.
    fold = model_family if group_by == "model" else (lambda k: k)
    totals: dict[Any, list[Any]] = {}
    for k, calls, errors, tokens_in, tokens_out, cost in sums:
        row = totals.setdefault(_key(fold(k)), [0, 0, 0, 0, None])
        row[0] += calls
        row[1] += errors or 0
        row[2] += int(tokens_in or 0)
        row[3] += int(tokens_out or 0)
        if cost is not None:
            row[4] = cost if row[4] is None else row[4] + cost
    scope, scope_params = _scope("g.", since=since, until=until, project=project)
    scores = _scores.group_summaries(conn, group_by, scope, scope_params, lambda k: _key(fold(k)))
    merged: dict[Any, list[int]] = {}
    for k, values in durations.items():
        merged.setdefault(_key(fold(k)), []).extend(values)
    rows = []
    for k, (calls, errors, tokens_in, tokens_out, cost) in totals.items():
        values = sorted(merged.get(k, ()))
        p50, p95 = ((values[_rank(50, len(values)) - 1] / 1e6, values[_rank(95, len(values)) - 1] / 1e6)
                    if values else (None, None))
        rows.append(StatsRow(k, calls, errors, tokens_in, tokens_out, tokens_in + tokens_out, cost, p50, p95,
                             scores=scores.get(k, {})))
    rows.sort(key=lambda r: (-(r.cost_usd or 0.0), -r.calls, str(r.key)))
    return rows


def _key(value: Any) -> str | None:
    """A group key as text (a stored key may be a number or bytes; StatsRow keys are JSON text)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def export_spans(conn: sqlite3.Connection, *, trace_id: str | None = None, project: str | None = None,
                 since: TimeLike | None = None, until: TimeLike | None = None) -> tuple[int, Iterator[SpanNode]]:
    """The number of matching spans and an iterator over them (oldest trace first)."""
    where, params = _scope("s.", since=since, until=until, project=project)
    if trace_id:
        where.append("s.trace_no = (SELECT id FROM traces WHERE trace_id = ?)")
        params.append(trace_id.strip().lower())
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT count(*) FROM spans s{condition}", params).fetchone()[0]
    rows = conn.execute(f"{SPAN_SELECT}{condition} ORDER BY s.id", params)
    return total, (span_node(row) for row in rows)


# The root span's type and the distinct models of each trace, for a page of trace ids.
_TYPES_AND_MODELS = """SELECT t.trace_id,
    (SELECT s.span_type FROM spans s WHERE s.trace_no = t.id AND s.span_id = t.root_span_id),
    (SELECT group_concat(m, char(31)) FROM (SELECT DISTINCT s.model AS m FROM spans s
        WHERE s.trace_no = t.id AND s.model IS NOT NULL ORDER BY s.model))
    FROM traces t WHERE t.trace_id IN (SELECT value FROM json_each(?))"""


def types_and_models(conn: sqlite3.Connection, trace_ids: list[str]) -> dict[str, tuple[str | None, list[str]]]:
    """Per stored trace id of ``trace_ids``: its root span's type and every model it called (sorted)."""
    if not trace_ids:
        return {}
    return {_text(trace_id): (_text(span_type), [_text(m) for m in models.split("\x1f")] if models else [])
            for trace_id, span_type, models in fetch_all(conn, _TYPES_AND_MODELS, (json.dumps(trace_ids),), 3)}


# The root span's stored attributes of each trace: the four values are taken out in Python (see
# root_values), a compressed value decompressed with the others in one call.
_ROOT_ATTRIBUTES = """SELECT t.trace_id, d.attributes
    FROM traces t JOIN spans s ON s.trace_no = t.id AND s.span_id = t.root_span_id JOIN span_data d ON d.id = s.id
    WHERE t.trace_id IN (SELECT value FROM json_each(?))"""
_ROOT_KEYS = (semconv.INPUT_VALUE, semconv.GEN_AI_INPUT_MESSAGES, semconv.OUTPUT_VALUE, semconv.GEN_AI_OUTPUT_MESSAGES)


def root_io(conn: sqlite3.Connection, trace_ids: list[str]) -> dict[str, tuple[Any, Any]]:
    """Per stored trace id of ``trace_ids``: its root span's input and output values as stored (None if absent)."""
    if not trace_ids:
        return {}
    rows = fetch_all(conn, _ROOT_ATTRIBUTES, (json.dumps(trace_ids),), 2)
    texts = unpacked_all([attributes for _, attributes in rows])
    return root_values((_text(trace_id), text) for (trace_id, _), text in zip(rows, texts))


def root_values(rows: Iterable[tuple[Any, Any]]) -> dict[Any, tuple[Any, Any]]:
    """Per ``(trace id, root span's attributes JSON)``: its input and output values as SQLite's json_extract
    reads them (text as text, a list or object as compact JSON text, a boolean as 1 or 0). Attributes
    that are not a JSON object (written by another tool) give no entry (both backends read this way)."""
    found: dict[Any, tuple[Any, Any]] = {}
    for trace_id, text in rows:
        try:
            attributes = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            continue
        if not isinstance(attributes, dict):
            continue
        tg_in, gen_in, tg_out, gen_out = (_extracted(attributes.get(key)) for key in _ROOT_KEYS)
        found[trace_id] = (tg_in if tg_in is not None else gen_in, tg_out if tg_out is not None else gen_out)
    return found


def _extracted(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value
