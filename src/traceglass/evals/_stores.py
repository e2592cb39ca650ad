"""Which trace store an evaluation API works on: a ``TraceStore`` given (left open), a path, or
None for the default database (opened here and closed after use)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Union

from traceglass.store import TraceStore

StoreLike = Union[TraceStore, str, "os.PathLike[str]", None]


def resolve(store: StoreLike) -> tuple[TraceStore, bool]:
    """The store and whether the caller opened it (and so must close it)."""
    if isinstance(store, TraceStore):
        return store, False
    if store is None or isinstance(store, (str, os.PathLike)):
        return TraceStore(store), True
    raise TypeError(f"store must be a TraceStore, a path or None, got {type(store).__name__}")


@contextmanager
def opened(store: StoreLike) -> Iterator[TraceStore]:
    """``store`` as a TraceStore for the block; closed after it when it was opened here."""
    resolved, owned = resolve(store)
    try:
        yield resolved
    finally:
        if owned:
            resolved.close()
