"""A finished span's attributes, events and links read from the SDK's own containers.

An SDK span keeps its attributes (and each event's and link's) in a ``BoundedAttributes`` and its
events and links in a ``BoundedList``: Python containers that take a lock on every read, which the
public ``attributes``/``events``/``links`` go through (and copy). Once the span has ended they never
change again, so the plain dict and deque inside are read directly, several times faster, on the
paths that see every span: the cost and sampling processors, the export queue's size estimate, the
store's row conversion and its writer process's wire format. Anything else (a ``ReadableSpan`` built
by hand, another SDK's span) is read through the public properties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def frozen_attributes(owner: Any) -> Mapping[str, Any]:
    """The attributes of an ended span, or of its event or link, as a plain mapping (not a copy)."""
    raw = getattr(owner, "_attributes", None)
    inner = getattr(raw, "_dict", None)
    if isinstance(inner, dict):
        return inner
    if isinstance(raw, dict):
        return raw
    return owner.attributes or {}


def span_events(span: Any) -> Iterable[Any]:
    """An ended span's events, from the SDK's deque where it has one."""
    return _items(span, "_events", "events")


def span_links(span: Any) -> Iterable[Any]:
    """An ended span's links, from the SDK's deque where it has one."""
    return _items(span, "_links", "links")


def _items(span: Any, private: str, public: str) -> Any:
    raw = getattr(span, private, None)
    if raw is None:
        return getattr(span, public, None) or ()
    return getattr(raw, "_dq", raw)
