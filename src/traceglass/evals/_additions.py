"""Adding traces to a saved dataset (the dashboard's "add to dataset", ``traceglass datasets add``).

A saved version never changes, so adding makes the next version: the latest version's items plus
the new ones, skipping an item whose trace and span the dataset already holds (adding twice is a
no-op, not a duplicate). Additions in one process are serialized, so two at once never both build
on the same version and lose one of the items.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from traceglass.evals._item import EvalItem
from traceglass.store import DatasetInfo, TraceStore

_lock = threading.Lock()


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
