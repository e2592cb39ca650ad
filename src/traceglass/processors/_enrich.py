"""A finished span's price overrides, and an enriched copy of it for downstream.

Its usage (model, provider, tokens) is read by :mod:`traceglass._span_usage`, which the store shares.

An SDK span is read-only once it ended, and the SDK's ``_on_ending`` hook runs after attributes
freeze (opentelemetry-python#5614, SDK 1.45). So to add cost and roll-ups to *any* span — ours or
another instrumentation's — the cost processor builds a new ``ReadableSpan`` from the finished one
with merged attributes, and passes that to the processors it wraps.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan

from traceglass import semconv


def price_overrides(attributes: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The span's own USD-per-token prices (input, output), as the decorators wrote them."""
    given_in, given_out = attributes.get(semconv.PRICE_INPUT_PER_TOKEN), attributes.get(semconv.PRICE_OUTPUT_PER_TOKEN)
    if given_in is None and given_out is None:
        return _NO_PRICES  # most spans, priced for every span on the application's thread
    return _rate(given_in), _rate(given_out)


_NO_PRICES: tuple[None, None] = (None, None)


def _rate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


class EnrichedSpan(ReadableSpan):
    """A finished span's copy with other attributes (and events, when given); the rest is the original's."""

    def __init__(self, original: ReadableSpan, attributes: Mapping[str, Any], events: Any = None) -> None:
        # The SDK's bounded containers of an ended span never change again, so the copy shares them
        # (and with them their dropped counts) instead of copying them.
        dropped = original.dropped_attributes
        # The SDK's spans keep every field ReadableSpan reads in their __dict__: copied in C (this runs
        # on the application's thread for every span with a cost or a roll-up). A finished span as
        # processors receive it holds those fields only; a live Span object also its lock, sampler
        # and processors, which are left behind.
        kind = original.__class__
        fields: Any = None
        if kind in _FINISHED_SPANS:
            fields = original.__dict__
        elif kind in _LIVE_SPANS:
            fields = zip(_FIELDS, _read_fields(original.__dict__))
        if fields is not None:
            state = self.__dict__
            state.update(fields)
            state["_attributes"] = attributes
            if events is not None:
                state["_events"] = events
            self._dropped_attributes = dropped
            return
        # Any other ReadableSpan: through its public properties.
        super().__init__(
            name=original.name,
            context=original.context,
            parent=original.parent,
            resource=original.resource,
            attributes=attributes,
            events=_own(original, "_events", "events") if events is None else events,
            links=_own(original, "_links", "links"),
            kind=original.kind,
            # The private field: the public property is deprecated and warns (SDK >= 1.11).
            instrumentation_info=getattr(original, "_instrumentation_info", None),
            status=original.status,
            start_time=original.start_time,
            end_time=original.end_time,
            instrumentation_scope=original.instrumentation_scope,
        )
        self._dropped_attributes = dropped

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes


# What ReadableSpan.__init__ stores, read off one (so it follows the installed SDK).
_FIELDS = tuple(vars(ReadableSpan(name="", resource=Resource.get_empty())))
_read_fields = operator.itemgetter(*_FIELDS)
_FINISHED_SPANS = frozenset({ReadableSpan, EnrichedSpan})
# The SDK's span classes (the tracer makes a private subclass of its Span).
_LIVE_SPANS = frozenset(kind for kind in vars(sdk_trace).values()
                        if isinstance(kind, type) and issubclass(kind, ReadableSpan)) - _FINISHED_SPANS


def _own(span: ReadableSpan, private: str, public: str) -> Any:
    value = getattr(span, private, None)
    return value if value is not None else getattr(span, public)
