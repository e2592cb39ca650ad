"""A rule's numbers, read through the store: window metrics per group, and traces over a per-trace threshold.

Rules that ask the store the same question (same window, scope and grouping) share one query, so a
pass costs one query per distinct question, not per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from traceglass.alerts._rules import AlertRule
from traceglass.store import TraceBreach, TraceQuery, TraceStore, WindowMetrics, WindowQuery

_TRACE_VALUE = {"cost_usd": "cost_usd", "tokens": "tokens", "latency_ms": "latency_ms", "errors": "errors"}


@dataclass(frozen=True)
class GroupValue:
    """One group of a window rule: its key ("" without group_by), the metric's value, and its samples."""

    key: str
    value: float | None
    calls: int


def metric_value(rule: AlertRule, row: WindowMetrics) -> float | None:
    """The value of ``rule``'s metric in one group's numbers (None: nothing to compute it from)."""
    score = rule.score
    if score is not None:
        name, label = score
        if label is None:
            return row.score_mean
        return float(row.score_labels.get(label, 0))
    metric = rule.metric
    if metric == "cost_usd":
        return row.cost_usd
    if metric == "tokens":
        return float(row.tokens)
    if metric == "calls":
        return float(row.calls)
    if metric == "error_rate":
        return row.error_rate
    return {"latency_p50_ms": row.latency_p50_ms, "latency_p95_ms": row.latency_p95_ms,
            "latency_max_ms": row.latency_max_ms}[metric]


def _fold(rows: list[WindowMetrics], keys: tuple[str, ...], group_by: str | None) -> list[WindowMetrics]:
    """Rows grouped by every key of ``keys`` summed up into groups by ``group_by`` alone (or none)."""
    out: dict[str | None, WindowMetrics] = {}
    for row in rows:
        key = row.key if isinstance(row.key, tuple) else (row.key,)
        name = key[keys.index(group_by)] if group_by else None
        total = out.setdefault(name, WindowMetrics(name))
        total.calls += row.calls
        total.errors += row.errors
        total.input_tokens += row.input_tokens
        total.output_tokens += row.output_tokens
        total.cost_usd += row.cost_usd
        if row.latency_max_ms is not None:
            total.latency_max_ms = max(total.latency_max_ms or 0.0, row.latency_max_ms)
    return list(out.values())


def _answers(store: TraceStore, rules: Sequence[AlertRule], until_ns: int) -> dict[str, list[WindowMetrics]]:
    """Per rule: its groups' numbers. Rules with the same window and scope share one read: sums by
    several groupings are read once grouped by all of their keys and summed up here; percentiles
    and scores are read per distinct question."""
    queries = {rule.name: rule.window_query(until_ns) for rule in rules}
    sums: dict[tuple[int, int, tuple[tuple[str, str], ...]], set[str | None]] = {}
    for query in queries.values():
        if query.score is None and not query.durations:
            sums.setdefault((query.since_ns, query.until_ns, query.where), set()).add(query.group_by)  # type: ignore[arg-type]
    shared: dict[tuple[int, int, tuple[tuple[str, str], ...]], tuple[tuple[str, ...], list[WindowMetrics]]] = {}
    for (since, until, where), groupings in sums.items():
        keys = tuple(sorted(g for g in groupings if g is not None))
        if len(groupings) > 1:
            group: str | tuple[str, ...] | None = keys if len(keys) > 1 else (keys[0] if keys else None)
            shared[(since, until, where)] = (keys, store.window_metrics(WindowQuery(since, until, where, group)))
    asked: dict[WindowQuery, list[WindowMetrics]] = {}
    answers: dict[str, list[WindowMetrics]] = {}
    for rule in rules:
        query = queries[rule.name]
        scope = (query.since_ns, query.until_ns, query.where)
        if query.score is None and not query.durations and scope in shared:
            keys, rows = shared[scope]
            answers[rule.name] = _fold(rows, keys, rule.group_by)
            continue
        if query not in asked:
            asked[query] = store.window_metrics(query)
        answers[rule.name] = asked[query]
    return answers


def window_values(store: TraceStore, rules: Sequence[AlertRule], until_ns: int) -> dict[str, list[GroupValue]]:
    """Per window rule's name: each group's value over the window ending at ``until_ns``."""
    answers = _answers(store, rules, until_ns)
    found: dict[str, list[GroupValue]] = {}
    for rule in rules:
        values = []
        for row in answers[rule.name]:
            if rule.group_by is not None and row.key is None:
                continue  # spans without a user (say) are no single user's
            values.append(GroupValue(str(row.key or ""), metric_value(rule, row), row.calls))
        found[rule.name] = values
    return found


def trace_query(rule: AlertRule, *, until_ns: int | None = None, trace_ids: Sequence[str] | None = None,
                limit: int = 100) -> TraceQuery:
    """The store query of a per-trace rule: the given traces, or those started in its window."""
    score = rule.score
    value = "score" if score is not None else _TRACE_VALUE[rule.metric]
    since = until_ns - int(rule.window_seconds * 1e9) if until_ns is not None and trace_ids is None else None
    return TraceQuery(value, rule.threshold, rule.above is not None, since_ns=since,
                      until_ns=until_ns if trace_ids is None else None,
                      trace_ids=tuple(trace_ids) if trace_ids is not None else None,
                      where=tuple(sorted(rule.where.items())), score=score[0] if score else None, limit=limit)


def trace_breaches(store: TraceStore, rule: AlertRule, **query: object) -> list[TraceBreach]:
    return store.trace_breaches(trace_query(rule, **query))  # type: ignore[arg-type]
