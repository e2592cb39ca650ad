"""The alert rules' reads: window metrics over spans or scores, and traces over a threshold.

One builder for both backends: ``_dialect.SQLITE`` and ``_dialect.POSTGRES`` give the
placeholder and the few spellings that differ (SQLite's ``total()``, ``typeof`` and unary ``+``
planner hint; PostgreSQL's casts).

Built to stay on the indexes that exist, so a pass over many rules reads only each window's rows:
model calls are read through the ``spans_model`` covering index, one range seek on start time per
stored model (the models come from the same loose index scan the model filter uses); a span type
through ``spans_type`` the same way; scores through ``scores_created``; traces through
``traces_start``. Grouping or scoping by user, session or span name reads the window's span rows too.
"""

from __future__ import annotations

import math
from typing import Any

from traceglass.store._alert_models import TraceBreach, TraceQuery, WindowMetrics, WindowQuery
from traceglass.store._dialect import SQLITE, Dialect
from traceglass.store._queries import _DISTINCT_MODELS, _rank, model_family, models_matching

# Span columns by the names rules use.
_SPAN_COLUMN = {"model": "model", "project": "project", "user": "user_id", "session": "session_id",
                "span_type": "span_type", "name": "name"}
_TRACE_COLUMN = {"project": "t.project", "user": "t.user_id", "session": "t.session_id", "name": "t.name"}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _models(conn: Any, model: str | None) -> list[str]:
    if model is not None:
        return models_matching(conn, model)
    return [name for (name,) in conn.execute(_DISTINCT_MODELS)]


def _span_scope(conn: Any, query: WindowQuery, sql: Dialect) -> tuple[str, list[Any]] | None:
    """The WHERE clause of a span window query and its parameters; None when nothing can match."""
    filters = query.filters
    clauses: list[str] = []
    params: list[Any] = []
    span_type = filters.get("span_type")
    if span_type is None:
        # Model calls: one start-time range per model on the covering index.
        names = _models(conn, filters.get("model"))
        if not names:
            return None
        clauses.append(f"model IS NOT NULL AND model IN ({sql.marks(len(names))}) AND superseded = 0")
        params.extend(names)
    else:
        clauses.append(f"span_type = {sql.mark}")
        params.append(span_type)
        if filters.get("model") is not None:
            names = models_matching(conn, filters["model"])
            if not names:
                return None
            clauses.append(f"model IN ({sql.marks(len(names))})")
            params.extend(names)
    clauses.append(f"start_ns >= {sql.mark} AND start_ns < {sql.mark}")
    params.extend((query.since_ns, query.until_ns))
    for key in ("project", "user", "session", "name"):
        if filters.get(key) is not None:
            clauses.append(f"{_SPAN_COLUMN[key]} = {sql.mark}")
            params.append(filters[key])
    return " AND ".join(clauses), params


def window_metrics(conn: Any, query: WindowQuery, *, sql: Dialect = SQLITE) -> list[WindowMetrics]:
    """Per group of ``query``: calls, errors, tokens, cost and latency, or the score's numbers."""
    if query.score is not None:
        return _score_metrics(conn, query, sql)
    scope = _span_scope(conn, query, sql)
    if scope is None:
        return []
    where, params = scope
    keys = query.group_keys
    key = ", ".join(_SPAN_COLUMN[k] for k in keys) if keys else "NULL"
    # Tokens and cost count a span only when no span below it reports the same usage (the
    # superseded flag; model calls are already restricted to those). Their sums never overflow.
    sums = ", ".join(sql.total.format(value) for value in (
        "CASE WHEN status = 'ERROR' THEN 1 ELSE 0 END", "CASE WHEN superseded = 0 THEN input_tokens END",
        "CASE WHEN superseded = 0 THEN output_tokens END", "CASE WHEN superseded = 0 THEN cost_usd END"))
    statement = (f"SELECT {key}, count(*), {sums}, "
                 f"max(CASE WHEN {sql.integer.format('duration_ns')} THEN duration_ns END) "
                 f"FROM spans WHERE {where} GROUP BY {', '.join(str(n + 1) for n in range(max(len(keys), 1)))}")
    # A model group folds its dated snapshots into the model the app asked for (as stats do).
    fold = model_family if query.group_by == "model" else (lambda k: k)
    folds = [model_family if k == "model" else (lambda v: v) for k in keys]
    groups: dict[Any, WindowMetrics] = {}
    for found in conn.execute(statement, params):
        k, (calls, errors, tokens_in, tokens_out, cost, longest) = found[:max(len(keys), 1)], found[-6:]
        name: Any = (tuple(_text(f(v)) for f, v in zip(folds, k)) if len(keys) > 1 else _text(fold(k[0])))
        row = groups.setdefault(name, WindowMetrics(name))
        row.calls += calls
        row.errors += int(_number(errors))
        row.input_tokens += int(_number(tokens_in))
        row.output_tokens += int(_number(tokens_out))
        row.cost_usd += _number(cost)
        if isinstance(longest, int):
            row.latency_max_ms = max(row.latency_max_ms or 0.0, longest / 1e6)
    if query.durations and groups:
        values: dict[str | None, list[int]] = {}
        for k, duration in conn.execute(f"SELECT {key}, duration_ns FROM spans WHERE {where} "
                                        f"AND {sql.integer.format('duration_ns')}", params):
            values.setdefault(_text(fold(k)), []).append(duration)
        for name, durations in values.items():
            durations.sort()
            row = groups[name]
            row.latency_p50_ms = durations[_rank(50, len(durations)) - 1] / 1e6
            row.latency_p95_ms = durations[_rank(95, len(durations)) - 1] / 1e6
    return list(groups.values())


def _trace_scope(conn: Any, filters: dict[str, str], sql: Dialect) -> tuple[list[str], list[Any]] | None:
    """Clauses over a trace ``t`` for a rule's ``where``; None when nothing can match."""
    clauses: list[str] = []
    params: list[Any] = []
    for key in ("project", "user", "session", "name"):
        if filters.get(key) is not None:
            clauses.append(f"{_TRACE_COLUMN[key]} = {sql.mark}")
            params.append(filters[key])
    if filters.get("span_type") is not None:
        clauses.append(f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND {sql.plus}s.span_type = {sql.mark})")
        params.append(filters["span_type"])
    if filters.get("model") is not None:
        names = models_matching(conn, filters["model"])
        if not names:
            return None
        clauses.append(f"EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND {sql.plus}s.model IN "
                       f"({sql.marks(len(names))}))")
        params.extend(names)
    return clauses, params


def _score_metrics(conn: Any, query: WindowQuery, sql: Dialect) -> list[WindowMetrics]:
    scope = _trace_scope(conn, query.filters, sql)
    if scope is None:
        return []
    clauses, params = scope
    key = _TRACE_COLUMN[query.group_by] if query.group_by else "NULL"
    # A score whose trace is not stored (yet) counts when nothing scopes by its trace. The unary +
    # keeps SQLite on the creation-time index: a name's scores of all time may be many.
    where = " AND ".join([f"{sql.plus}sc.name = {sql.mark}", f"sc.created_ns >= {sql.mark}",
                          f"sc.created_ns < {sql.mark}", *clauses])
    params = [query.score, query.since_ns, query.until_ns, *params]
    join = "" if not clauses and query.group_by is None else "JOIN traces t ON t.trace_id = sc.trace_id"
    statement = (f"SELECT {key}, sc.label, count(*), count(sc.value), {sql.total.format('sc.value')} FROM scores sc "
                 f"{join} WHERE {where} GROUP BY 1, 2")
    groups: dict[str | None, WindowMetrics] = {}
    sums: dict[str | None, float] = {}
    numbers: dict[str | None, int] = {}
    for k, label, count, with_value, total in conn.execute(statement, params):
        name = _text(k)
        row = groups.setdefault(name, WindowMetrics(name))
        row.score_count += count
        row.calls += count
        if label is not None:
            row.score_labels[_text(label) or ""] = row.score_labels.get(_text(label) or "", 0) + count
        numbers[name] = numbers.get(name, 0) + with_value
        sums[name] = sums.get(name, 0.0) + _number(total)
    for name, row in groups.items():
        row.score_mean = sums[name] / numbers[name] if numbers[name] else None
    return list(groups.values())


_TRACE_VALUE = {
    "cost_usd": "t.cost_usd",
    "tokens": "(t.input_tokens + t.output_tokens)",
    "latency_ms": "(t.duration_ns / 1e6)",
    "errors": "t.error_count",
    "score": "(SELECT avg(sc.value) FROM scores sc WHERE sc.trace_id = t.trace_id AND sc.name = {mark})",
}


def trace_breaches(conn: Any, query: TraceQuery, *, sql: Dialect = SQLITE) -> list[TraceBreach]:
    """The traces of ``query`` whose value is beyond its threshold, newest first."""
    scope = _trace_scope(conn, query.filters, sql)
    if scope is None:
        return []
    clauses, params = scope
    value = sql.real.format(_TRACE_VALUE[query.value].format(mark=sql.mark))
    value_params: list[Any] = [query.score] if query.value == "score" else []
    head: list[str] = []
    head_params: list[Any] = []
    if query.trace_ids is not None:
        if not query.trace_ids:
            return []
        head.append(f"t.trace_id IN ({sql.marks(len(query.trace_ids))})")
        head_params.extend(query.trace_ids)
    if query.since_ns is not None:
        head.append(f"t.start_ns >= {sql.mark}")
        head_params.append(query.since_ns)
    if query.until_ns is not None:
        head.append(f"t.start_ns < {sql.mark}")
        head_params.append(query.until_ns)
    condition = f"v {'>' if query.above else '<'} {sql.mark}"
    statement = (f"SELECT * FROM (SELECT t.trace_id, t.name, t.project, t.user_id, t.session_id, t.start_ns, "
                 f"{value} AS v FROM traces t {'WHERE ' + ' AND '.join(head + clauses) if head or clauses else ''}) w "
                 f"WHERE v IS NOT NULL AND {condition} ORDER BY start_ns DESC LIMIT {sql.mark}")
    rows = conn.execute(statement, [*value_params, *head_params, *params, query.threshold, query.limit])
    return [TraceBreach(_text(trace_id) or "", _text(name), _text(project), _text(user), _text(session),
                        start if isinstance(start, int) else 0, _number(v))
            for trace_id, name, project, user, session, start, v in rows
            if isinstance(v, (int, float)) and math.isfinite(v)]
