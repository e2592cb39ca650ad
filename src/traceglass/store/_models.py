"""What the store returns: traces with their span trees, trace list pages, statistics rows and
score pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from traceglass._scores import Score
from traceglass.store._pages import Page
from traceglass.store._time import from_ns

#: Per score name: ``{"mean": float | None, "count": int, "labels": {label: count}}``.
ScoreSummary = dict[str, dict[str, Any]]


def _ms(ns: int | None) -> float | None:
    return None if ns is None else ns / 1e6


class _Timed:
    """Start and end as datetimes, and the time between them, from ``start_ns``/``end_ns``."""

    start_ns: int
    end_ns: int | None

    @property
    def start(self) -> datetime:
        return from_ns(self.start_ns)  # type: ignore[return-value]

    @property
    def end(self) -> datetime | None:
        return from_ns(self.end_ns)

    def _elapsed_ms(self) -> float | None:
        if self.end_ns is None or self.start_ns is None:
            return None
        return (self.end_ns - self.start_ns) / 1e6


@dataclass
class SpanNode(_Timed):
    """One stored span, with its children (ordered by start time)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    type: str | None
    kind: str | None
    project: str | None
    start_ns: int
    end_ns: int | None
    status: str
    status_message: str | None
    error_type: str | None
    model: str | None
    provider: str | None
    operation: str | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None
    session: str | None
    user: str | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    links: list[dict[str, Any]]
    resource: dict[str, Any]
    # True when a span below this one reports usage, so this span's own tokens and cost are
    # not counted in totals (traceglass.rollup's rule).
    usage_superseded: bool = False
    children: list[SpanNode] = field(default_factory=list, repr=False)
    #: This span's scores (filled by ``get_trace``), oldest first.
    scores: list[Score] = field(default_factory=list, repr=False)

    @property
    def duration_ms(self) -> float | None:
        return self._elapsed_ms()

    def walk(self) -> list[SpanNode]:
        """This span and all below it, depth first."""
        out, stack = [], [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def to_dict(self, *, children: bool = True) -> dict[str, Any]:
        data = {
            "trace_id": self.trace_id, "span_id": self.span_id, "parent_id": self.parent_id,
            "name": self.name, "type": self.type, "kind": self.kind, "project": self.project,
            "start_ns": self.start_ns, "end_ns": self.end_ns, "duration_ms": self.duration_ms,
            "status": self.status, "status_message": self.status_message, "error_type": self.error_type,
            "model": self.model, "provider": self.provider, "operation": self.operation,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens, "cost_usd": self.cost_usd,
            "usage_superseded": self.usage_superseded, "session": self.session, "user": self.user,
            "attributes": self.attributes, "events": self.events, "links": self.links, "resource": self.resource,
            "scores": [score.to_dict() for score in self.scores],
        }
        if children:
            data["children"] = [child.to_dict() for child in self.children]
        return data


@dataclass
class TraceSummary(_Timed):
    """One row of the trace list: a trace's totals without its spans."""

    trace_id: str
    name: str | None
    project: str | None
    start_ns: int
    end_ns: int | None
    status: str
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float | None
    session: str | None
    user: str | None
    #: Per score name of the trace: mean value, count and label counts (filled by ``list_traces``).
    scores: ScoreSummary = field(default_factory=dict)

    @property
    def latency_ms(self) -> float | None:
        return self._elapsed_ms()

    @property
    def latency(self) -> float | None:
        """The same as ``latency_ms`` (milliseconds): the name other trace stores use."""
        return self._elapsed_ms()

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id, "name": self.name, "project": self.project,
            "start_ns": self.start_ns, "end_ns": self.end_ns, "latency_ms": self.latency_ms,
            "status": self.status, "span_count": self.span_count, "error_count": self.error_count,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens, "cost_usd": self.cost_usd,
            "session": self.session, "user": self.user, "scores": self.scores,
        }


@dataclass
class Trace(TraceSummary):
    """A whole trace: its summary plus the span tree (``root``; ``roots`` when parts are orphaned)
    and every score of the trace, trace- and span-level (``scores``, oldest first)."""

    scores: list[Score] = field(default_factory=list, repr=False)  # type: ignore[assignment]
    root: SpanNode | None = None
    roots: list[SpanNode] = field(default_factory=list, repr=False)
    spans: list[SpanNode] = field(default_factory=list, repr=False)  # all spans by start time

    def span(self, name: str) -> SpanNode:
        """The one span called ``name`` (KeyError when there is none or several)."""
        found = [s for s in self.spans if s.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} spans named {name!r} in trace {self.trace_id}")
        return found[0]

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["scores"] = [score.to_dict() for score in self.scores]
        data["spans"] = [root.to_dict() for root in self.roots]
        return data


@dataclass
class TracePage(Page[TraceSummary]):
    """A page of :meth:`TraceStore.list_traces`: pass ``next_cursor`` back for the next page."""

    _rows: ClassVar[str] = "traces"
    traces: list[TraceSummary]
    next_cursor: str | None


@dataclass
class StatsRow:
    """Statistics of one group (a model, a project, a day, ...)."""

    key: str | None
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float | None
    p50_ms: float | None
    p95_ms: float | None
    #: Per score name of the group's traces: mean value, count and label counts.
    scores: ScoreSummary = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "calls": self.calls, "errors": self.errors, "error_rate": self.error_rate,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens, "cost_usd": self.cost_usd,
            "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "scores": self.scores,
        }


@dataclass
class ScorePage(Page[Score]):
    """A page of :meth:`TraceStore.scores`, newest first: pass ``next_cursor`` back for the next page."""

    _rows: ClassVar[str] = "scores"
    scores: list[Score]
    next_cursor: str | None
