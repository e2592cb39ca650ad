"""One thing to evaluate: what was asked, what came back, and where it came from.

An :class:`EvalItem` is a dataset's row and a scorer's input. Items made from traces keep the
``trace_id``/``span_id`` they came from, so a scorer's result becomes a score on that span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: ``metadata`` keys the code scorers read: the span's duration in ms and its cost in USD.
LATENCY_MS = "latency_ms"
COST_USD = "cost_usd"

_FIELDS = ("input", "output", "expected_output", "context", "metadata", "trace_id", "span_id")


@dataclass
class EvalItem:
    """The ``input`` (prompt or function input), its ``output``, an optional ``expected_output``,
    the retrieved ``context`` documents, ``metadata`` (model, tokens, cost, latency, ...) and the
    ids of the span it came from (None for hand-written items)."""

    input: Any
    output: Any = None
    expected_output: Any = None
    context: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    span_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: one line of a dataset's JSONL file."""
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalItem:
        """The item ``to_dict()`` gave (unknown keys are ignored; ``input`` is required)."""
        if not isinstance(data, dict) or "input" not in data:
            raise ValueError("an eval item needs an 'input'")
        values = {name: data[name] for name in _FIELDS if name in data}
        values["context"] = list(values.get("context") or [])
        values["metadata"] = dict(values.get("metadata") or {})
        return cls(**values)


__all__ = ["COST_USD", "LATENCY_MS", "EvalItem"]
