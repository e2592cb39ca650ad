"""A rule's numbers, read through the store: window metrics per group, and traces over a per-trace threshold.

Rules that ask the store the same question (same window, scope and grouping) share one query, so a
pass costs one query per distinct question, not per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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


def window_values(store: TraceStore, rules: Sequence[AlertRule], until_ns: int) -> dict[str, list[GroupValue]]:
    """Per window rule's name: each group's value over the window ending at ``until_ns``."""
    questions: dict[WindowQuery, WindowQuery] = {}  # without durations -> the query to run
    for rule in rules:
        query = rule.window_query(until_ns)
        key = replace(query, durations=False)
        if query.durations or key not in questions:
            questions[key] = query
    answers = {key: store.window_metrics(query) for key, query in questions.items()}
    found: dict[str, list[GroupValue]] = {}
    for rule in rules:
        rows = answers[replace(rule.window_query(until_ns), durations=False)]
        values = []
        for row in rows:
            if rule.group_by is not None and row.key is None:
                continue  # spans without a user (say) are no single user's
            values.append(GroupValue(row.key or "", metric_value(rule, row), row.calls))
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
