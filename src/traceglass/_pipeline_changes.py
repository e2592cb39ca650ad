"""A count of changes to the span processors our processors hand spans to.

Whether anything reads a span's attributes at its start (``_handler._span_start``) depends on the
processors a provider holds and on those ours forward to. The verdict is kept per pipeline and
checked again when this count moves: every processor of ours whose ``_on_start_forwards_to()``
list can change calls :func:`forwarding_changed` when it does (the SDK's own lists are part of
the key: its provider swaps in a new tuple on ``add_span_processor``).
"""

from __future__ import annotations

_changes = 0


def forwarding_changed() -> None:
    """A processor of ours now forwards spans to other processors than before."""
    global _changes
    _changes += 1


def forwarding_changes() -> int:
    """How many times :func:`forwarding_changed` was called in this process."""
    return _changes


__all__ = ["forwarding_changed", "forwarding_changes"]
