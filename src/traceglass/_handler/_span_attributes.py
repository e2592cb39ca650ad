"""Adding a call's attributes to its open span, without the SDK cleaning values already clean.

``Span.set_attributes`` passes every value through the SDK's cleaning (type checks, ABC
``isinstance`` tests, a tuple rebuilt for each sequence): about 7,000 instructions a value on
SDK 1.45, some 80,000 for the eleven end attributes of a chat call, more than the rest of the
span's end. The handler's own values are plain already: text, numbers, booleans and lists of text.
For those, on the SDK's own span type with no value-length limit and room under the attribute
count limit, :func:`set_span_attributes` writes them into the span's attribute dict under the
span's and the mapping's locks, as the SDK would store them (a list as a tuple). Anything else —
another value type, a value-length limit, a full span, an ended one, another span class, an SDK
whose internals look different — goes through ``set_attributes`` unchanged. The handler writes its
end attributes here, and its start attributes too when nothing reads them at the start (``_span_start``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace

# The SDK's own recording span classes (``_Span`` is what its tracer creates); a subclass may
# override set_attributes, so it is matched by exact type.
_SDK_SPANS = frozenset(filter(None, (getattr(sdk_trace, "Span", None), getattr(sdk_trace, "_Span", None))))
_PLAIN = frozenset((str, int, float, bool))
_SCALARS = (str, int, float)


def set_span_attributes(span: Any, attributes: dict[str, Any]) -> None:
    """Add ``attributes`` to ``span``: what ``span.set_attributes(attributes)`` stores, cheaper
    for plain values on an SDK span. Lists of text in ``attributes`` are replaced by tuples."""
    if span.__class__ in _SDK_SPANS and _plain(attributes):
        try:
            bounded = span._attributes  # noqa: SLF001 - see the module docstring
            lock = span._lock  # noqa: SLF001
        except AttributeError:
            bounded = lock = None
        if bounded.__class__ is BoundedAttributes and bounded.max_value_len is None:
            if _write(span, bounded, lock, attributes):
                return
    span.set_attributes(attributes)


def _plain(attributes: dict[str, Any]) -> bool:
    """True when every key is non-empty text and every value is stored by the SDK as it is: text,
    a number or a boolean (subclasses too: enums); or a list or tuple of ``str`` (a list is made a
    tuple here, as the SDK would)."""
    lists = None
    for key, value in attributes.items():
        if key.__class__ is not str or not key:
            return False
        kind = value.__class__
        if kind in _PLAIN:
            continue
        if kind is not tuple and kind is not list:
            if isinstance(value, _SCALARS):  # a str or int enum: the SDK keeps the value itself
                continue
            return False
        for item in value:
            if item.__class__ is not str:
                return False
        if kind is list:
            if lists is None:
                lists = []
            lists.append(key)
    if lists is not None:
        for key in lists:
            attributes[key] = tuple(attributes[key])
    return True


def _write(span: Any, bounded: Any, lock: Any, attributes: Mapping[str, Any]) -> bool:
    """Store ``attributes`` in the open span's mapping; False (nothing written) when the span ended,
    the mapping lacks room, or does not look as expected."""
    try:
        with lock:
            if span._end_time is not None:  # noqa: SLF001 - ended: the SDK warns and stores nothing
                return False
            with bounded._lock:  # noqa: SLF001
                store = bounded._dict  # noqa: SLF001
                maxlen = bounded.maxlen
                if maxlen is not None and len(store) + len(attributes) > maxlen:
                    return False
                store.update(attributes)
                return True
    except AttributeError:
        return False


__all__ = ["set_span_attributes"]
