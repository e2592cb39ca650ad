"""Evaluations on traces: datasets from traces, scorers and LLM judges, evaluation runs and
schedules, online metrics. Every result is a score (``source="eval"``)."""

from traceglass.evals._bridge import TraceBridge
from traceglass.evals._dataset import EvalDataset
from traceglass.evals._deepeval import DeepEvalScorer
from traceglass.evals._item import EvalItem
from traceglass.evals._judge_config import configure_judge
from traceglass.evals._online import configure_online_metrics, flush_online_metrics, online_metrics_stats
from traceglass.evals._registry import get_scorer, register, scorer_names
from traceglass.evals._run import EvalRun, ItemResult, evaluate_traces
from traceglass.evals._schedule import EvalSchedule
from traceglass.evals._schedules_file import load_schedules
from traceglass.evals._scorer import ScoreResult, Scorer

__all__ = [
    "DeepEvalScorer",
    "EvalDataset",
    "EvalItem",
    "EvalRun",
    "EvalSchedule",
    "ItemResult",
    "ScoreResult",
    "Scorer",
    "TraceBridge",
    "configure_judge",
    "configure_online_metrics",
    "evaluate_traces",
    "flush_online_metrics",
    "get_scorer",
    "load_schedules",
    "online_metrics_stats",
    "register",
    "scorer_names",
]
