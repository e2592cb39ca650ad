"""What alert rules ask the store, and what it answers: database-neutral plain data.

The alert engine (:mod:`traceglass.alerts`) says *which* numbers it needs (a window of time, a
scope, a grouping); a backend computes them in its own SQL (SQLite's is
:mod:`traceglass.store._alert_queries`) and keeps the alert state and history
(:mod:`traceglass.store._alert_history`). Nothing here knows a database.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

# What a window or per-trace query may be scoped by (the keys of a rule's ``where``), and grouped by.
WHERE_KEYS = ("project", "model", "user", "session", "span_type", "name")
GROUP_KEYS = ("model", "project", "user", "session")
# The per-trace values a per-trace query can compare with a threshold.
TRACE_VALUES = ("cost_usd", "tokens", "latency_ms", "errors", "score")


@dataclass(frozen=True)
class WindowQuery:
    """Spans (or scores) started (created) in ``[since_ns, until_ns)``, scoped by ``where`` and grouped.

    Span metrics count model calls (spans with a model whose usage no span below them reports,
    the stats' rule), or with ``where["span_type"]`` every span of that type. With ``score``
    (a score name) the query counts that name's scores instead, scoped by their traces. ``group_by``
    is one of :data:`GROUP_KEYS` or None (one row for everything). ``durations``: also compute the
    latency percentiles (a second read of the window's durations).
    """

    since_ns: int
    until_ns: int
    where: tuple[tuple[str, str], ...] = ()
    group_by: str | tuple[str, ...] | None = None
    durations: bool = False
    score: str | None = None

    def __post_init__(self) -> None:
        unknown = [key for key, _ in self.where if key not in WHERE_KEYS]
        if unknown:
            raise ValueError(f"where: unknown key {unknown[0]!r}; use one of {', '.join(WHERE_KEYS)}")
        for key in self.group_keys:
            if key not in GROUP_KEYS:
                raise ValueError(f"group_by must be one of {', '.join(GROUP_KEYS)}, got {key!r}")
        if isinstance(self.group_by, tuple) and (self.durations or self.score is not None):
            raise ValueError("only span sums group by several keys at once (not durations, not scores)")
        if self.score is not None and self.group_by == "model":
            raise ValueError("scores cannot be grouped by model (a trace may call several)")

    @property
    def filters(self) -> dict[str, str]:
        return dict(self.where)

    @property
    def group_keys(self) -> tuple[str, ...]:
        if self.group_by is None:
            return ()
        return self.group_by if isinstance(self.group_by, tuple) else (self.group_by,)


@dataclass
class WindowMetrics:
    """One group's numbers over a window (``key`` None: the whole scope, or spans without the key; a
    tuple of keys when the query grouped by several, so that several rules share one read)."""

    key: str | None | tuple[str | None, ...]
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_max_ms: float | None = None
    score_count: int = 0
    score_mean: float | None = None
    score_labels: dict[str, int] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None


@dataclass(frozen=True)
class TraceQuery:
    """Traces whose ``value`` (one of :data:`TRACE_VALUES`) is above or below ``threshold``.

    Either the traces in ``trace_ids`` (checked as they arrive) or those started in
    ``[since_ns, until_ns)``; scoped by ``where`` as a window query is; at most ``limit`` of them.
    ``score`` names the score whose per-trace mean ``value="score"`` compares.
    """

    value: str
    threshold: float
    above: bool = True
    since_ns: int | None = None
    until_ns: int | None = None
    trace_ids: tuple[str, ...] | None = None
    where: tuple[tuple[str, str], ...] = ()
    score: str | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if self.value not in TRACE_VALUES:
            raise ValueError(f"value must be one of {', '.join(TRACE_VALUES)}, got {self.value!r}")
        if self.value == "score" and not self.score:
            raise ValueError("a score value needs the score's name")
        unknown = [key for key, _ in self.where if key not in WHERE_KEYS]
        if unknown:
            raise ValueError(f"where: unknown key {unknown[0]!r}; use one of {', '.join(WHERE_KEYS)}")

    @property
    def filters(self) -> dict[str, str]:
        return dict(self.where)


@dataclass(frozen=True)
class TraceBreach:
    """One trace a :class:`TraceQuery` found, with the value it was compared by."""

    trace_id: str
    name: str | None
    project: str | None
    user: str | None
    session: str | None
    start_ns: int
    value: float


@dataclass(frozen=True)
class AlertState:
    """What the last evaluation found for one rule and group: ``status`` "firing" or "resolved" (a
    window rule's group), or "fired" (a per-trace rule's trace, notified once)."""

    rule: str
    group_key: str
    status: str
    value: float | None
    since_ns: int  # when it entered this status
    notified_ns: int | None  # when a firing notification last went out
    updated_ns: int


@dataclass(frozen=True)
class AlertRecord:
    """One stored event of the alert history: the event as JSON, and how its notification went."""

    id: int
    rule: str
    group_key: str
    state: str
    created_ns: int
    delivery: str  # "pending", "delivered", "undelivered" or "none" (no notifier)
    attempts: int
    event: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.event, "id": self.id, "delivery": self.delivery, "attempts": self.attempts}


def event_json(event: dict[str, Any]) -> str:
    """An event dict as stored: strict JSON (a non-finite number is stored as null)."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(event), ensure_ascii=False, allow_nan=False, default=str)
