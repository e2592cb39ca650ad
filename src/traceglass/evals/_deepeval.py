"""The bridge to deepeval (the ``deepeval`` extra): items as deepeval test cases, and any deepeval
metric as a traceglass scorer.

deepeval is imported only here, and only when one of these is called. Its metrics keep their result
on the metric object (``score``, ``reason``, ``success``), so the scorer measures a shallow copy per
item: one metric instance serves an evaluation run's concurrent calls.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from traceglass.evals._item import EvalItem
from traceglass.evals._scorer import ScoreResult
from traceglass.evals._text import as_text, question_of

_MISSING = ("deepeval is not installed: pip install 'traceglass[deepeval]' (or pip install deepeval)")


def _test_case_class() -> Any:
    try:
        from deepeval.test_case import LLMTestCase
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return LLMTestCase


def test_case(item: EvalItem) -> Any:
    """The ``deepeval.test_case.LLMTestCase`` of ``item``: its question as ``input``, its output as
    ``actual_output``, ``expected_output`` when set, its documents as ``retrieval_context``, and its
    metadata plus the trace and span ids as ``metadata``."""
    case_class = _test_case_class()
    metadata = dict(item.metadata)
    if item.trace_id is not None:
        metadata["trace_id"] = item.trace_id
    if item.span_id is not None:
        metadata["span_id"] = item.span_id
    return case_class(
        input=question_of(item.input),
        actual_output=as_text(item.output) if item.output is not None else None,
        expected_output=as_text(item.expected_output) if item.expected_output is not None else None,
        retrieval_context=[as_text(document) for document in item.context] or None,
        metadata=metadata or None,
    )


def test_cases(items: Iterable[EvalItem]) -> list[Any]:
    """:func:`test_case` of each item, in order."""
    _test_case_class()  # the clear ImportError, even for no items
    return [test_case(item) for item in items]


class DeepEvalScorer:
    """A deepeval metric as a scorer: ``evaluate_traces([DeepEvalScorer(AnswerRelevancyMetric())], ...)``.

    Each item becomes an ``LLMTestCase``; the metric's ``score`` is the value, its ``reason`` the
    explanation, and ``"pass"``/``"fail"`` (the metric's own threshold) the label. ``name`` defaults
    to the metric's name in snake case (``AnswerRelevancyMetric`` -> ``answer_relevancy``). A metric
    that raises fails that item's result (the run goes on); one that sets no score gives none.
    """

    def __init__(self, metric: Any, *, name: str | None = None) -> None:
        if not callable(getattr(metric, "measure", None)):
            raise TypeError(f"a deepeval metric (with measure()) is needed, got {type(metric).__name__}")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.metric = metric
        self.name = name.strip() if name else metric_name(metric)

    def score(self, item: EvalItem) -> ScoreResult | None:
        metric = _fresh(self.metric)
        case = test_case(item)
        try:
            metric.measure(case, _show_indicator=False)
        except TypeError as exc:  # an older or hand-written metric without deepeval's keyword
            if "_show_indicator" not in str(exc):
                raise
            metric.measure(case)
        return _result(metric)

    async def ascore(self, item: EvalItem) -> ScoreResult | None:
        metric = _fresh(self.metric)
        case = test_case(item)
        measure = getattr(metric, "a_measure", None)
        if measure is None:
            metric.measure(case)
        else:
            try:
                await measure(case, _show_indicator=False)
            except TypeError as exc:
                if "_show_indicator" not in str(exc):
                    raise
                await measure(case)
        return _result(metric)

    def __repr__(self) -> str:
        return f"DeepEvalScorer({type(self.metric).__name__}, name={self.name!r})"


def metric_name(metric: Any) -> str:
    """A deepeval metric's name as a score name: ``AnswerRelevancyMetric`` -> ``answer_relevancy``."""
    raw = getattr(metric, "__name__", None)
    if not isinstance(raw, str) or not raw.strip():
        raw = type(metric).__name__
    raw = re.sub(r"\s*\[[^\]]*\]\s*$", "", raw.strip())  # GEval's "Correctness [GEval]" -> "Correctness"
    raw = re.sub(r"Metric$", "", raw) or raw
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", raw)
    return re.sub(r"[^0-9a-zA-Z]+", "_", snake).strip("_").lower() or "deepeval"


def is_deepeval_metric(value: Any) -> bool:
    """Whether ``value`` is a deepeval metric (only when deepeval is already imported: never imports it)."""
    import sys

    module = sys.modules.get("deepeval.metrics")
    base = getattr(module, "BaseMetric", None) if module is not None else None
    return base is not None and isinstance(value, base)


def _fresh(metric: Any) -> Any:
    try:
        return copy.copy(metric)
    except Exception:  # an uncopyable metric: measured in place (its result read right after)
        return metric


def _result(metric: Any) -> ScoreResult | None:
    value = getattr(metric, "score", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    reason = getattr(metric, "reason", None)
    success = None
    try:
        success = metric.is_successful()
    except Exception:  # no threshold to judge by: the value alone
        success = getattr(metric, "success", None)
    label = None if success is None else ("pass" if success else "fail")
    return ScoreResult(float(value), label=label, explanation=reason if isinstance(reason, str) else None)


__all__ = ["DeepEvalScorer", "is_deepeval_metric", "metric_name", "test_case", "test_cases"]
