"""Ended spans waiting for their trace's content decision, bounded by spans and bytes.

Not thread-safe: the content sampling processor holds its lock around every call. Traces are kept in
the order they were first seen, so the oldest is evicted first under pressure and expires first.
It also remembers, for a while, what was decided per trace: a span ending after its trace's decision
(a late child, a second local root) follows it instead of waiting again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator

# Decisions remembered (trace id -> kept); past it the oldest are forgotten. A span of a forgotten
# trace waits and is decided on its own; the content-rate draw is the same by the trace id.
DECISIONS_REMEMBERED = 65536


class PendingTrace:
    """One trace's buffered spans. ``deciding``: popped and being decided; late spans still join it."""

    __slots__ = ("trace_id", "spans", "size", "first_seen", "deciding")

    def __init__(self, trace_id: int, first_seen: float) -> None:
        self.trace_id = trace_id
        self.spans: list[Any] = []
        self.size = 0
        self.first_seen = first_seen
        self.deciding = False


class TraceBuffer:
    """Pending traces (at most ``max_spans`` spans and ``max_bytes`` estimated bytes in all) and the
    decisions taken lately."""

    def __init__(self, max_spans: int, max_bytes: int, timeout: float) -> None:
        self.max_spans = max_spans
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._pending: OrderedDict[int, PendingTrace] = OrderedDict()
        # trace id -> True/False (decided), or the PendingTrace being decided.
        self._decided: OrderedDict[int, Any] = OrderedDict()
        self.spans = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, trace_id: int) -> bool:
        return trace_id in self._pending

    def decision(self, trace_id: int) -> Any:
        """True/False when decided, the ``PendingTrace`` while it is being decided, else None."""
        return self._decided.get(trace_id)

    def add(self, trace_id: int, span: Any, size: int, now: float) -> PendingTrace:
        """Buffer ``span``; a new trace's clock starts ``now``."""
        entry = self._pending.get(trace_id)
        if entry is None:
            entry = self._pending[trace_id] = PendingTrace(trace_id, now)
        entry.spans.append(span)
        entry.size += size
        self.spans += 1
        self.bytes += size
        return entry

    def take(self, trace_id: int) -> PendingTrace | None:
        """Remove a trace to decide it; spans ending meanwhile join it (``join_deciding``)."""
        entry = self._pending.pop(trace_id, None)
        if entry is not None:
            self._forget(entry)
            entry.deciding = True
            self._decided[trace_id] = entry
        return entry

    def join_deciding(self, entry: PendingTrace, span: Any) -> None:
        entry.spans.append(span)

    def settle(self, entry: PendingTrace, keep: bool) -> list[Any]:
        """Record the decision of a trace taken before; return every span it collected."""
        self._remember(entry.trace_id, keep)
        return entry.spans

    def remember(self, trace_id: int, keep: bool) -> None:
        self._remember(trace_id, keep)

    def over_limit(self) -> bool:
        return self.spans > self.max_spans or self.bytes > self.max_bytes

    def oldest(self) -> int | None:
        return next(iter(self._pending), None)

    def expired(self, now: float) -> Iterator[int]:
        """Trace ids first seen ``timeout`` seconds before ``now`` or earlier, oldest first."""
        limit = now - self.timeout
        for trace_id, entry in self._pending.items():
            if entry.first_seen > limit:
                return
            yield trace_id

    def next_deadline(self) -> float | None:
        """When the oldest pending trace expires (None: nothing pending)."""
        for entry in self._pending.values():
            return entry.first_seen + self.timeout
        return None

    def pending_ids(self) -> list[int]:
        return list(self._pending)

    def clear(self) -> None:
        self._pending.clear()
        self._decided.clear()
        self.spans = self.bytes = 0

    def _forget(self, entry: PendingTrace) -> None:
        self.spans -= len(entry.spans)
        self.bytes -= entry.size

    def _remember(self, trace_id: int, keep: bool) -> None:
        decided = self._decided
        decided[trace_id] = keep
        decided.move_to_end(trace_id)
        while len(decided) > DECISIONS_REMEMBERED:
            oldest, value = next(iter(decided.items()))
            if not isinstance(value, bool):
                break  # still being decided: kept until settled
            del decided[oldest]
