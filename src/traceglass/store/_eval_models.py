"""What the store keeps for evaluations, database-neutral: saved dataset versions, evaluation runs
and their per-item results. Items travel as JSON-ready dicts (``EvalItem.to_dict()``): the store
does not know the evaluation classes above it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from traceglass.store._time import from_ns


def _iso(ns: int | None) -> str | None:
    moment = from_ns(ns) if ns is not None else None
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class DatasetInfo:
    """One saved version of a named dataset (versions count from 1 and never change)."""

    name: str
    version: int
    item_count: int
    created_ns: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "item_count": self.item_count,
                "created_at": _iso(self.created_ns), "metadata": dict(self.metadata)}


@dataclass(frozen=True)
class EvalResultRecord:
    """One scorer's result on one item of a run: a value (and label, explanation), or an error."""

    position: int
    scorer: str
    trace_id: str | None = None
    span_id: str | None = None
    value: float | None = None
    label: str | None = None
    explanation: str | None = None
    error: str | None = None
    score_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "scorer": self.scorer, "trace_id": self.trace_id,
                "span_id": self.span_id, "value": self.value, "label": self.label,
                "explanation": self.explanation, "error": self.error, "score_id": self.score_id}


@dataclass(frozen=True)
class EvalRunRecord:
    """A stored evaluation run. ``details`` holds what the run was asked and found: ``scorers``
    (names), ``filters``, ``dataset`` (name and version, when one was evaluated), ``summary``
    (per scorer: mean, pass_rate, count, errors, no_score)."""

    id: str
    created_ns: int
    finished_ns: int | None
    status: str  # "finished" or "failed"
    item_count: int
    judge_cost_usd: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created_at": _iso(self.created_ns), "finished_at": _iso(self.finished_ns),
                "status": self.status, "item_count": self.item_count, "judge_cost_usd": self.judge_cost_usd,
                "scorers": list(self.details.get("scorers") or []), "filters": dict(self.details.get("filters") or {}),
                "dataset": self.details.get("dataset"), "summary": dict(self.details.get("summary") or {})}
