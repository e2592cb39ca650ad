"""Evaluations on traces: datasets from traces, scorers and LLM judges, evaluation runs and
schedules, online metrics. Every result is a score (``source="eval"``)."""

from traceglass.evals._item import EvalItem
from traceglass.evals._scorer import ScoreResult, Scorer

__all__ = [
    "EvalItem",
    "ScoreResult",
    "Scorer",
]
