"""The scorer protocol: an item in, a :class:`ScoreResult` (or None: no score) out.

A scorer has a ``name`` (the score name its results are stored under) and ``score(item)``; it may
also offer ``async ascore(item)``, which the evaluation runner prefers when present. ``None`` means
"no score" (a judge that answered garbage, an item without what the scorer needs), never a guess.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from traceglass._scores import MAX_COMMENT_LENGTH, MAX_LABEL_LENGTH

from traceglass.evals._item import EvalItem


@dataclass(frozen=True)
class ScoreResult:
    """A scorer's verdict: ``value`` (a number, usually in [0, 1], or a bool), an optional
    ``label`` (e.g. ``"relevant"``) and ``explanation`` (e.g. the judge's reasoning)."""

    value: float | bool | None
    label: str | None = None
    explanation: str | None = None


@runtime_checkable
class Scorer(Protocol):
    """Anything with a ``name`` and ``score(item) -> ScoreResult | None``.

    An ``async def ascore(item)`` is optional (see :func:`has_ascore`).
    """

    name: str

    def score(self, item: EvalItem) -> ScoreResult | None: ...


def score_arguments(result: ScoreResult) -> dict[str, Any]:
    """The fields of the score a result becomes: ``value`` (a number or bool; a label alone is a
    categorical score), ``comment`` (the explanation) and ``metadata`` (``{"label": ...}`` beside a
    value, since a score holds a number or a label, not both)."""
    label = result.label if isinstance(result.label, str) and result.label.strip() else None
    explanation = result.explanation if isinstance(result.explanation, str) and result.explanation.strip() else None
    metadata: dict[str, Any] = {}
    if result.value is None:
        value: Any = label[:MAX_LABEL_LENGTH] if label else None
    else:
        value = result.value
        if label is not None and not isinstance(value, bool):
            metadata["label"] = label[:MAX_LABEL_LENGTH]
    comment = explanation[:MAX_COMMENT_LENGTH] if explanation else None
    return {"value": value, "comment": comment, "metadata": metadata}


def has_ascore(scorer: object) -> bool:
    """Whether ``scorer`` offers a native ``async ascore(item)``."""
    return inspect.iscoroutinefunction(getattr(scorer, "ascore", None))


__all__ = ["ScoreResult", "Scorer", "has_ascore", "score_arguments"]
