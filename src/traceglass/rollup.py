"""The one rule for counting tokens and cost over a tree of spans without double counting.

A model call may be reported by two layers at once (a LangChain chat-model span and the OpenAI
client span under it; a ``@trace_llm`` function and the SDK call inside it). The rule:

    A span's own usage counts only when no span below it reports usage.
    The totals of a subtree are the sum over its children's subtrees when any of them reports
    usage; otherwise the span's own usage (or nothing).

So the innermost layer that knows a call's usage wins, and every call is counted once. The cost
processor applies this when spans end (roll-ups on each span, and the call's cost only on the span
whose usage counts), the store applies it over stored traces, and the dashboard shows the store's
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable, Mapping


@dataclass(frozen=True)
class UsageTotals:
    """Tokens and cost of a span or a subtree. ``cost_usd`` is None when nothing was priced."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    calls: int = 0  # number of model calls counted

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "UsageTotals") -> "UsageTotals":
        if self.cost_usd is None and other.cost_usd is None:
            cost = None
        else:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return _totals(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            cost,
            self.calls + other.calls,
        )


_new = object.__new__


def _totals(input_tokens: int, output_tokens: int, cost_usd: float | None, calls: int) -> UsageTotals:
    """``UsageTotals(...)`` without the frozen dataclass's ``object.__setattr__`` per field: the
    cost processor makes one or two per priced span, on the application's thread."""
    totals = _new(UsageTotals)
    fields = totals.__dict__
    fields["input_tokens"] = input_tokens
    fields["output_tokens"] = output_tokens
    fields["cost_usd"] = cost_usd
    fields["calls"] = calls
    return totals


NOTHING = UsageTotals()


def subtree_totals(own: UsageTotals | None, children: Iterable[UsageTotals]) -> UsageTotals:
    """Totals of a subtree from the span's own usage and its children's subtree totals."""
    below = [c for c in children if c.calls]
    if below:
        total = NOTHING
        for child in below:
            total = total + child
        return total
    return own if own is not None and own.calls else NOTHING


def own_usage(input_tokens: int | None, output_tokens: int | None, cost_usd: float | None) -> UsageTotals | None:
    """A span's own usage, or None when it reports no tokens."""
    if input_tokens is None and output_tokens is None:
        return None
    return _totals(input_tokens or 0, output_tokens or 0, cost_usd, 1)


def tree_totals(
    parents: Mapping[Hashable, Hashable | None],
    own: Mapping[Hashable, UsageTotals | None],
) -> dict[Hashable, UsageTotals]:
    """Subtree totals of every span of a trace, given each span's parent and own usage.

    Spans whose parent is not in ``parents`` are roots. The trace total is the sum over roots.
    """
    children: dict[Hashable, list[Hashable]] = {span: [] for span in parents}
    for span, parent in parents.items():
        if parent is not None and parent in children:
            children[parent].append(span)
    totals: dict[Hashable, UsageTotals] = {}
    # Iterative post-order, so a deep trace cannot hit the recursion limit.
    for root in [s for s, p in parents.items() if p is None or p not in children]:
        stack: list[tuple[Hashable, bool]] = [(root, False)]
        while stack:
            span, expanded = stack.pop()
            if expanded:
                totals[span] = subtree_totals(own.get(span), (totals[c] for c in children[span]))
            else:
                stack.append((span, True))
                stack.extend((c, False) for c in children[span])
    return totals


def trace_total(
    parents: Mapping[Hashable, Hashable | None],
    own: Mapping[Hashable, UsageTotals | None],
    totals: Mapping[Hashable, UsageTotals] | None = None,
) -> UsageTotals:
    """Totals of a whole trace under the rule (``totals``: ``tree_totals`` of it, if already known)."""
    if totals is None:
        totals = tree_totals(parents, own)
    total = NOTHING
    for span, parent in parents.items():
        if parent is None or parent not in parents:
            total = total + totals[span]
    return total
