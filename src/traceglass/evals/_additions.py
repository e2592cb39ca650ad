"""Adding traces to a saved dataset (the dashboard's "add to dataset", ``traceglass datasets add``).

A saved version never changes, so adding makes the next version: the latest version's items plus
the new ones, skipping an item whose trace and span the dataset already holds (adding twice is a
no-op, not a duplicate). Additions in one process are serialized, so two at once never both build
on the same version and lose one of the items. :func:`items_to_add` chooses what a trace adds.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from traceglass.evals._bridge import TraceBridge
from traceglass.evals._item import EvalItem
from traceglass.store import DatasetInfo, TraceStore

_lock = threading.Lock()


def items_to_add(store: TraceStore, trace_id: str, *, span_id: str | None = None,
                 answer: str | None = None) -> list[EvalItem]:
    """The items adding trace ``trace_id`` gives: span ``span_id``'s, or the spans ``answer`` picks
    (as :meth:`TraceBridge.trace_items`); with neither, the last LLM call's, else the root's.

    Empty for a judge's trace (never an item); KeyError for an unknown trace or span."""
    bridge = TraceBridge(store)
    items = bridge.trace_items(trace_id, span_id=span_id, answer=answer or "last")
    if not items and answer is None and span_id is None:  # no model call: the trace's own input and output
        items = bridge.trace_items(trace_id, answer="root")
    return items


def add_to_dataset(store: TraceStore, name: str, items: Sequence[EvalItem]) -> tuple[DatasetInfo | None, int]:
    """Save ``items`` not yet in dataset ``name`` as its next version (the first, for a new name).

    Returns the latest version afterwards (None when there is none: nothing to add to a new name)
    and how many items were added."""
    with _lock:
        found = store.dataset(name)
        held = found[1] if found is not None else []
        present = {(item.get("trace_id"), item.get("span_id")) for item in held}
        new = [item.to_dict() for item in items if (item.trace_id, item.span_id) not in present]
        if not new:
            return (found[0] if found is not None else None), 0
        metadata = dict(found[0].metadata) if found is not None else {}
        return store.save_dataset(name, [*held, *new], metadata=metadata), len(new)
