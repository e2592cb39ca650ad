"""The scorer protocol: an item in, a :class:`ScoreResult` (or None: no score) out.

A scorer has a ``name`` (the score name its results are stored under) and ``score(item)``; it may
also offer ``async ascore(item)``, which the evaluation runner prefers when present. ``None`` means
"no score" (a judge that answered garbage, an item without what the scorer needs), never a guess.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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


def has_ascore(scorer: object) -> bool:
    """Whether ``scorer`` offers a native ``async ascore(item)``."""
    return inspect.iscoroutinefunction(getattr(scorer, "ascore", None))


__all__ = ["ScoreResult", "Scorer", "has_ascore"]
