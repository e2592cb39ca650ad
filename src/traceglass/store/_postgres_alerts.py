"""The alert rules' reads and the alert state and history, on PostgreSQL.

The statements of :mod:`._alert_queries` and :mod:`._alert_history` (SQLite) in PostgreSQL's
dialect; the grouping, folding and percentiles are the same Python. Recording a pass's states
is one upsert per state inside one transaction, as SQLite's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from traceglass.store._alert_history import _STATE_COLUMNS, _int
from traceglass.store._alert_models import (
    AlertRecord,
    AlertState,
    TraceBreach,
    TraceQuery,
    WindowMetrics,
    WindowQuery,
    event_json,
)
from traceglass.store._alert_queries import _SPAN_COLUMN, _TRACE_COLUMN, _number, _text
from traceglass.store._postgres_read import DISTINCT_MODELS, models_matching
from traceglass.store._queries import _rank, model_family


def _models(conn: Any, model: str | None) -> list[str]:
    if model is not None:
        return models_matching(conn, model)
    return [name for (name,) in conn.execute(DISTINCT_MODELS)]


def _span_scope(conn: Any, query: WindowQuery) -> tuple[str, list[Any]] | None:
    filters = query.filters
    clauses: list[str] = []
    params: list[Any] = []
    span_type = filters.get("span_type")
    if span_type is None:
        names = _models(conn, filters.get("model"))
        if not names:
            return None
        clauses.append("model = ANY(%s) AND superseded = 0")
        params.append(names)
    else:
        clauses.append("span_type = %s")
        params.append(span_type)
        if filters.get("model") is not None:
            names = models_matching(conn, filters["model"])
            if not names:
                return None
            clauses.append("model = ANY(%s)")
            params.append(names)
    clauses.append("start_ns >= %s AND start_ns < %s")
    params.extend((query.since_ns, query.until_ns))
    for key in ("project", "user", "session", "name"):
        if filters.get(key) is not None:
            clauses.append(f"{_SPAN_COLUMN[key]} = %s")
            params.append(filters[key])
    return " AND ".join(clauses), params


def window_metrics(conn: Any, query: WindowQuery) -> list[WindowMetrics]:
    if query.score is not None:
        return _score_metrics(conn, query)
    scope = _span_scope(conn, query)
    if scope is None:
        return []
    where, params = scope
    keys = query.group_keys
    key = ", ".join(_SPAN_COLUMN[k] for k in keys) if keys else "NULL"
    width = max(len(keys), 1)
    sql = (f"SELECT {key}, count(*), count(*) FILTER (WHERE status = 'ERROR'), "
           "coalesce(sum(input_tokens) FILTER (WHERE superseded = 0), 0), "
           "coalesce(sum(output_tokens) FILTER (WHERE superseded = 0), 0), "
           "coalesce(sum(cost_usd) FILTER (WHERE superseded = 0), 0.0), max(duration_ns) "
           f"FROM spans WHERE {where} GROUP BY {', '.join(str(n + 1) for n in range(width))}")
    fold = model_family if query.group_by == "model" else (lambda k: k)
    folds = [model_family if k == "model" else (lambda v: v) for k in keys]
    groups: dict[Any, WindowMetrics] = {}
    for found in conn.execute(sql, params):
        k, (calls, errors, tokens_in, tokens_out, cost, longest) = found[:width], found[-6:]
        name: Any = (tuple(_text(f(v)) for f, v in zip(folds, k)) if len(keys) > 1 else _text(fold(k[0])))
        row = groups.setdefault(name, WindowMetrics(name))
        row.calls += calls
        row.errors += int(errors)
        row.input_tokens += int(tokens_in)
        row.output_tokens += int(tokens_out)
        row.cost_usd += _number(cost)
        if isinstance(longest, int):
            row.latency_max_ms = max(row.latency_max_ms or 0.0, longest / 1e6)
    if query.durations and groups:
        values: dict[str | None, list[int]] = {}
        for k, duration in conn.execute(f"SELECT {key}, duration_ns FROM spans WHERE {where} "
                                        "AND duration_ns IS NOT NULL", params):
            values.setdefault(_text(fold(k)), []).append(duration)
        for name, durations in values.items():
            durations.sort()
            row = groups[name]
            row.latency_p50_ms = durations[_rank(50, len(durations)) - 1] / 1e6
            row.latency_p95_ms = durations[_rank(95, len(durations)) - 1] / 1e6
    return list(groups.values())


def _trace_scope(conn: Any, filters: dict[str, str]) -> tuple[list[str], list[Any]] | None:
    clauses: list[str] = []
    params: list[Any] = []
    for key in ("project", "user", "session", "name"):
        if filters.get(key) is not None:
            clauses.append(f"{_TRACE_COLUMN[key]} = %s")
            params.append(filters[key])
    if filters.get("span_type") is not None:
        clauses.append("EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND s.span_type = %s)")
        params.append(filters["span_type"])
    if filters.get("model") is not None:
        names = models_matching(conn, filters["model"])
        if not names:
            return None
        clauses.append("EXISTS (SELECT 1 FROM spans s WHERE s.trace_no = t.id AND s.model = ANY(%s))")
        params.append(names)
    return clauses, params


def _score_metrics(conn: Any, query: WindowQuery) -> list[WindowMetrics]:
    scope = _trace_scope(conn, query.filters)
    if scope is None:
        return []
    clauses, params = scope
    key = _TRACE_COLUMN[query.group_by] if query.group_by else "NULL"
    where = " AND ".join(["sc.name = %s", "sc.created_ns >= %s", "sc.created_ns < %s", *clauses])
    params = [query.score, query.since_ns, query.until_ns, *params]
    join = "" if not clauses and query.group_by is None else "JOIN traces t ON t.trace_id = sc.trace_id"
    sql = (f"SELECT {key}, sc.label, count(*), count(sc.value), coalesce(sum(sc.value), 0.0) FROM scores sc "
           f"{join} WHERE {where} GROUP BY 1, 2")
    groups: dict[str | None, WindowMetrics] = {}
    sums: dict[str | None, float] = {}
    numbers: dict[str | None, int] = {}
    for k, label, count, with_value, total in conn.execute(sql, params):
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
    "score": "(SELECT avg(sc.value) FROM scores sc WHERE sc.trace_id = t.trace_id AND sc.name = %s)",
}


def trace_breaches(conn: Any, query: TraceQuery) -> list[TraceBreach]:
    scope = _trace_scope(conn, query.filters)
    if scope is None:
        return []
    clauses, params = scope
    value = _TRACE_VALUE[query.value]
    value_params: list[Any] = [query.score] if query.value == "score" else []
    head: list[str] = []
    head_params: list[Any] = []
    if query.trace_ids is not None:
        if not query.trace_ids:
            return []
        head.append("t.trace_id = ANY(%s)")
        head_params.append(list(query.trace_ids))
    if query.since_ns is not None:
        head.append("t.start_ns >= %s")
        head_params.append(query.since_ns)
    if query.until_ns is not None:
        head.append("t.start_ns < %s")
        head_params.append(query.until_ns)
    condition = f"v {'>' if query.above else '<'} %s"
    sql = (f"SELECT * FROM (SELECT t.trace_id, t.name, t.project, t.user_id, t.session_id, t.start_ns, "
           f"({value})::double precision AS v FROM traces t "
           f"{'WHERE ' + ' AND '.join(head + clauses) if head or clauses else ''}) w "
           f"WHERE v IS NOT NULL AND {condition} ORDER BY start_ns DESC LIMIT %s")
    rows = conn.execute(sql, [*value_params, *head_params, *params, query.threshold, query.limit])
    return [TraceBreach(_text(trace_id) or "", _text(name), _text(project), _text(user), _text(session),
                        start if isinstance(start, int) else 0, _number(v))
            for trace_id, name, project, user, session, start, v in rows
            if isinstance(v, (int, float)) and math.isfinite(v)]


# -- state and history ----------------------------------------------------------------------------

def alert_state(conn: Any, rules: Sequence[str] | None = None) -> dict[tuple[str, str], AlertState]:
    sql = f"SELECT {_STATE_COLUMNS} FROM alert_state"
    params: list[Any] = []
    if rules is not None:
        sql += " WHERE rule = ANY(%s)"
        params.append(list(rules))
    found: dict[tuple[str, str], AlertState] = {}
    for rule, group, status, value, since, notified, updated in conn.execute(sql, params):
        if not isinstance(rule, str) or not isinstance(group, str) or status not in ("firing", "resolved", "fired"):
            continue
        found[(rule, group)] = AlertState(rule, group, status, value if isinstance(value, (int, float)) else None,
                                          _int(since) or 0, _int(notified), _int(updated) or 0)
    return found


def record(conn: Any, states: Sequence[AlertState],
           events: Sequence[tuple[str, str, str, int, str, dict[str, Any]]]) -> list[int]:
    ids: list[int] = []
    with conn.transaction():
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO alert_state ({_STATE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (rule, group_key) DO UPDATE SET status = excluded.status, value = excluded.value, "
                "since_ns = excluded.since_ns, notified_ns = excluded.notified_ns, updated_ns = excluded.updated_ns",
                [(s.rule, s.group_key, s.status, s.value, s.since_ns, s.notified_ns, s.updated_ns) for s in states])
        for rule, group, state, created_ns, delivery, event in events:
            row = conn.execute(
                "INSERT INTO alert_events (rule, group_key, state, created_ns, delivery, event) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (rule, group, state, created_ns, delivery, event_json(event))).fetchone()
            ids.append(int(row[0]))
    return ids


def set_delivery(conn: Any, event_id: int, delivery: str, attempts: int) -> None:
    conn.execute("UPDATE alert_events SET delivery = %s, attempts = %s WHERE id = %s", (delivery, attempts, event_id))


def history(conn: Any, *, rule: str | None, since_ns: int | None, limit: int) -> list[AlertRecord]:
    clauses: list[str] = []
    params: list[Any] = []
    if rule is not None:
        clauses.append("rule = %s")
        params.append(rule)
    if since_ns is not None:
        clauses.append("created_ns >= %s")
        params.append(since_ns)
    sql = ("SELECT id, rule, group_key, state, created_ns, delivery, attempts, event FROM alert_events "
           f"{'WHERE ' + ' AND '.join(clauses) if clauses else ''} ORDER BY created_ns DESC, id DESC LIMIT %s")
    records = []
    for row_id, rule_name, group, state, created, delivery, attempts, text in conn.execute(sql, [*params, limit]):
        try:
            event = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            event = {}
        records.append(AlertRecord(int(row_id), str(rule_name), str(group), str(state), _int(created) or 0,
                                   str(delivery), _int(attempts) or 0, event if isinstance(event, dict) else {}))
    return records
