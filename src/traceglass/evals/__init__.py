"""Evaluations on traces: datasets from traces, scorers and LLM judges, evaluation runs and
schedules, online metrics. Every result is a score (``source="eval"``)."""

from traceglass.evals._item import EvalItem
from traceglass.evals._judge_config import configure_judge
from traceglass.evals._registry import get_scorer, register, scorer_names
from traceglass.evals._scorer import ScoreResult, Scorer

__all__ = [
    "EvalItem",
    "ScoreResult",
    "Scorer",
    "configure_judge",
    "get_scorer",
    "register",
    "scorer_names",
]
