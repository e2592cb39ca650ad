"""Reading a finished span's model usage, and handing downstream an enriched copy of it.

An SDK span is read-only once it ended, and the SDK's ``_on_ending`` hook runs after attributes
freeze (opentelemetry-python#5614, SDK 1.45). So to add cost and roll-ups to *any* span — ours or
another instrumentation's — the cost processor builds a new ``ReadableSpan`` from the finished one
with merged attributes, and passes that to the processors it wraps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan

from traceglass import semconv

# Each field is read from the first key present: the v1.41 name, then names older releases,
# the GenAI repo's main, OpenLLMetry and OpenInference write, so their spans are priced too.
_INPUT = (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_PROMPT_TOKENS, semconv.OPENINFERENCE_PROMPT_TOKENS)
_OUTPUT = (
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS, semconv.GEN_AI_USAGE_COMPLETION_TOKENS, semconv.OPENINFERENCE_COMPLETION_TOKENS,
)
_CACHE_READ = (
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, semconv.OPENLLMETRY_CACHE_READ_INPUT_TOKENS,
    semconv.OPENINFERENCE_CACHE_READ_TOKENS,
)
_CACHE_WRITE = (
    semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    semconv.OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS, semconv.OPENINFERENCE_CACHE_WRITE_TOKENS,
)
_MODEL = (semconv.GEN_AI_RESPONSE_MODEL, semconv.GEN_AI_REQUEST_MODEL, semconv.OPENINFERENCE_MODEL_NAME)
_PROVIDER = (semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_SYSTEM, semconv.OPENINFERENCE_PROVIDER)


class SpanUsage(NamedTuple):
    """The model usage one span reports about its own call."""

    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int
    cache_write_tokens: int
    model: str | None  # the response model, else the request model
    provider: str | None
    request_model: str | None = None  # a fallback when the response model has no price


def _first(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


def _count(value: Any) -> int | None:
    # bool is an int subclass; a True token count is a bug upstream, not one token.
    if value is None or value.__class__ is bool or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


def read_usage(attributes: Mapping[str, Any]) -> SpanUsage | None:
    """The span's usage, or None when it reports no token counts."""
    get = attributes.get
    # The spec's names first, inline: this runs for every ended span of the process.
    input_tokens = get(_INPUT[0])
    if input_tokens is None:
        input_tokens = _first(attributes, _INPUT[1:])
    output_tokens = get(_OUTPUT[0])
    if output_tokens is None:
        output_tokens = _first(attributes, _OUTPUT[1:])
    if input_tokens is None and output_tokens is None:
        return None
    input_tokens, output_tokens = _count(input_tokens), _count(output_tokens)
    if input_tokens is None and output_tokens is None:
        return None
    request_model = get(_MODEL[1])
    model = get(_MODEL[0]) or request_model or get(_MODEL[2])
    provider = get(_PROVIDER[0]) or get(_PROVIDER[1]) or get(_PROVIDER[2])
    return SpanUsage(
        input_tokens,
        output_tokens,
        _count(_first(attributes, _CACHE_READ)) or 0,
        _count(_first(attributes, _CACHE_WRITE)) or 0,
        model if isinstance(model, str) else None,
        provider if isinstance(provider, str) else None,
        request_model if isinstance(request_model, str) else None,
    )


def price_overrides(attributes: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The span's own USD-per-token prices (input, output), as the decorators wrote them."""
    return _rate(attributes.get(semconv.PRICE_INPUT_PER_TOKEN)), _rate(attributes.get(semconv.PRICE_OUTPUT_PER_TOKEN))


def _rate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def frozen_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """The ended span's attributes as a plain mapping, for fast repeated reads.

    SDK 1.x keeps them in ``BoundedAttributes``, a Python ``MutableMapping`` whose ``.get`` of a
    missing key raises and catches ``KeyError`` in Python; its ``_dict`` is a plain dict (frozen
    once the span ended). Reading that makes the per-span hot path several times faster. Any other
    ``ReadableSpan`` falls back to the public mapping.
    """
    raw = getattr(span, "_attributes", None)
    inner = getattr(raw, "_dict", None)
    if isinstance(inner, dict):
        return inner
    if isinstance(raw, dict):
        return raw
    return span.attributes or {}


class EnrichedSpan(ReadableSpan):
    """A finished span's copy with other attributes; everything else is the original's."""

    def __init__(self, original: ReadableSpan, attributes: Mapping[str, Any]) -> None:
        # The SDK's bounded containers of an ended span never change again, so the copy shares them
        # (and with them their dropped counts) instead of copying them; other spans use the
        # public properties.
        super().__init__(
            name=original.name,
            context=original.context,
            parent=original.parent,
            resource=original.resource,
            attributes=attributes,
            events=_own(original, "_events", "events"),
            links=_own(original, "_links", "links"),
            kind=original.kind,
            # The private field: the public property is deprecated and warns (SDK >= 1.11).
            instrumentation_info=getattr(original, "_instrumentation_info", None),
            status=original.status,
            start_time=original.start_time,
            end_time=original.end_time,
            instrumentation_scope=original.instrumentation_scope,
        )
        self._dropped_attributes = original.dropped_attributes

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes


def _own(span: ReadableSpan, private: str, public: str) -> Any:
    value = getattr(span, private, None)
    return value if value is not None else getattr(span, public)
