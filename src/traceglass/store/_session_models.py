"""What the store returns for sessions and users: a session's totals, one session with its turns
(each turn a trace, read as a chat exchange), a user's totals, and their pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from traceglass.store._models import ScoreSummary
from traceglass.store._pages import Page
from traceglass.store._time import from_ns


@dataclass
class _Usage:
    """Totals over a group of traces (a session's turns, a user's calls)."""

    first_seen_ns: int  # the start of the earliest trace
    last_seen_ns: int  # the start of the latest trace (what pages are ordered by)
    errors: int  # traces whose status is ERROR
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float | None

    @property
    def first_seen(self) -> datetime | None:
        return from_ns(self.first_seen_ns)

    @property
    def last_seen(self) -> datetime | None:
        return from_ns(self.last_seen_ns)

    def _usage_dict(self) -> dict[str, Any]:
        return {"first_seen_ns": self.first_seen_ns, "last_seen_ns": self.last_seen_ns, "errors": self.errors,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "total_tokens": self.total_tokens, "cost_usd": self.cost_usd}


@dataclass
class SessionSummary(_Usage):
    """One session (the traces sharing a ``session.id``): its turns, users, time span and totals."""

    session_id: str = ""
    turn_count: int = 0  # traces of the session (in the range asked for)
    users: list[str] = field(default_factory=list)  # the distinct user.id values, sorted
    #: Per score name over the session's traces: mean value, count and label counts.
    scores: ScoreSummary = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "turn_count": self.turn_count, "users": self.users,
                **self._usage_dict(), "scores": self.scores}


@dataclass
class SessionTurn:
    """One turn of a session: a trace, with what the user said and what the app answered.

    ``input``/``output`` are text: the root span's input and output (the user's message out of a
    chat-shaped value), else the first model call's last user message and the last model call's
    answer; None when the trace captured neither. Longer text is cut to ``TEXT_LIMIT`` characters.
    """

    trace_id: str
    name: str | None
    start_ns: int
    end_ns: int | None
    status: str
    user: str | None
    input: str | None
    output: str | None
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float | None
    scores: ScoreSummary = field(default_factory=dict)

    @property
    def latency_ms(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "name": self.name, "start_ns": self.start_ns, "end_ns": self.end_ns,
                "latency_ms": self.latency_ms, "status": self.status, "user": self.user, "input": self.input,
                "output": self.output, "span_count": self.span_count, "error_count": self.error_count,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "total_tokens": self.total_tokens, "cost_usd": self.cost_usd, "scores": self.scores}


@dataclass
class Session(SessionSummary):
    """A session with its turns in order (oldest first; the first ``limit`` when there are more:
    ``turn_count`` always counts them all)."""

    turns: list[SessionTurn] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "turns": [turn.to_dict() for turn in self.turns]}


@dataclass
class SessionPage(Page[SessionSummary]):
    """A page of :meth:`TraceStore.sessions`, the latest active first: pass ``next_cursor`` back."""

    _rows: ClassVar[str] = "sessions"
    sessions: list[SessionSummary]
    next_cursor: str | None


@dataclass
class UserSummary(_Usage):
    """One user (the traces sharing a ``user.id``): calls (traces), sessions and totals."""

    user_id: str = ""
    calls: int = 0  # traces of the user (in the range asked for)
    sessions: int = 0  # distinct session ids among them
    #: Per score name over the user's traces: mean value, count and label counts.
    scores: ScoreSummary = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "calls": self.calls, "sessions": self.sessions, **self._usage_dict(),
                "scores": self.scores}


@dataclass
class UserPage(Page[UserSummary]):
    """A page of :meth:`TraceStore.users`, the latest active first: pass ``next_cursor`` back."""

    _rows: ClassVar[str] = "users"
    users: list[UserSummary]
    next_cursor: str | None
