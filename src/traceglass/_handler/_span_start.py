"""Starting a span with its start attributes, without the SDK cleaning them when nothing reads them then.

``Tracer.start_span(attributes=...)`` builds the span's attribute mapping through the SDK's
per-value cleaning: about 8,000 instructions a value on SDK 1.45, some 50,000 for a chat call's
start attributes. They are given at the start for whoever looks at a span as it starts: the
sampler (``should_sample`` is handed them) and the span processors' ``on_start``. When neither
looks at them — the SDK's own samplers, which pass them through unread, and processors whose
``on_start`` reads no attribute — :func:`start_span` starts the span with none and adds them right
after, through :func:`set_span_attributes`: the span ends up with the same attributes.

A processor tells it reads none by defining ``_on_start_forwards_to()``: the processors its
``on_start`` hands the span to (checked the same way), ``()`` for none; a sampler class by
``_decides_without_attributes = True`` (in its own class body). Any other sampler or
processor, a tracer not the SDK's, or price attributes (``traceglass.price.*``, which the cost
processor reads at the start) take the SDK's own way. The verdict is kept per pipeline (its sampler,
the provider's processor list, and ``_pipeline_changes``' count of changes to what ours forward to),
so the processors are walked again only when one of those changes.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import export as sdk_export
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import Span, SpanKind

from traceglass import semconv
from traceglass._handler._span_attributes import set_span_attributes
from traceglass._pipeline_changes import forwarding_changes

# The SDK's processors whose on_start does nothing, and those that hand the span to a list.
_NO_OP_STARTS = frozenset((sdk_export.SimpleSpanProcessor, sdk_export.BatchSpanProcessor))
_MULTI = frozenset(filter(None, (getattr(sdk_trace, "SynchronousMultiSpanProcessor", None),
                                 getattr(sdk_trace, "ConcurrentMultiSpanProcessor", None))))
# The SDK's samplers that decide without reading the attributes; ParentBased by its delegates.
# Matched by exact class: a subclass may override should_sample.
_BLIND_SAMPLERS = frozenset(filter(None, (getattr(sampling, name, None) for name in (
    "StaticSampler", "_AlwaysOn", "_AlwaysOff", "TraceIdRatioBased"))))
_PARENT_BASED = frozenset(filter(None, (getattr(sampling, name, None) for name in (
    "ParentBased", "ParentBasedTraceIdRatio", "_ParentBasedAlwaysOn", "_ParentBasedAlwaysOff"))))
_DELEGATES = ("_root", "_remote_parent_sampled", "_remote_parent_not_sampled",
              "_local_parent_sampled", "_local_parent_not_sampled")
_READ_AT_START = (semconv.PRICE_INPUT_PER_TOKEN, semconv.PRICE_OUTPUT_PER_TOKEN)


def start_span(tracer: Any, name: str, *, context: Context | None, kind: SpanKind,
               attributes: dict[str, Any], start_time: int | None) -> Span:
    """``tracer.start_span(...)`` with ``attributes``; see the module docstring."""
    if attributes and tracer.__class__ is sdk_trace.Tracer and _unread_at_start(tracer, attributes):
        span = tracer.start_span(name, context=context, kind=kind, start_time=start_time)
        set_span_attributes(span, attributes)
        return span
    return tracer.start_span(name, context=context, kind=kind, attributes=attributes, start_time=start_time)


def _unread_at_start(tracer: Any, attributes: dict[str, Any]) -> bool:
    for key in _READ_AT_START:
        if key in attributes:
            return False
    try:
        sampler = tracer.sampler
        processor = tracer.span_processor  # the provider's list: a new tuple on each add_span_processor
        key = (sampler, processor, getattr(processor, "_span_processors", None), forwarding_changes())
        blind = _VERDICTS.get(key)
        if blind is None:
            blind, nested = _walk(processor) if sampler_ignores_attributes(sampler) else (False, False)
            if not nested:  # an SDK list inside ours may change unseen: not kept
                if len(_VERDICTS) >= _MAX_VERDICTS:  # providers made by the hundred (tests): stay small
                    _VERDICTS.clear()
                _VERDICTS[key] = blind
        return blind
    except Exception:  # noqa: BLE001 - an SDK shaped otherwise: its own way
        return False


# (sampler, processor, its list, forwarding changes) -> whether nothing reads attributes at start.
# The sampler of a provider does not change; the count moves when one of ours forwards elsewhere.
_VERDICTS: dict[tuple[Any, ...], bool] = {}
_MAX_VERDICTS = 64


def sampler_ignores_attributes(sampler: Any) -> bool:
    """True for the SDK's samplers that decide without reading a span's attributes."""
    kind = sampler.__class__
    if kind in _BLIND_SAMPLERS or kind.__dict__.get("_decides_without_attributes"):
        return True
    if kind in _PARENT_BASED:
        return all(sampler_ignores_attributes(getattr(sampler, name)) for name in _DELEGATES)
    return False


def processor_ignores_attributes(processor: Any) -> bool:
    """True when ``processor.on_start``, and every processor it hands the span to, reads no
    attribute of the span (``traceglass.price.*`` aside): the SDK's own no-op and batching processors,
    and ours that say so with ``_on_start_forwards_to`` in their own class body."""
    return _walk(processor)[0]


def _walk(top: Any) -> tuple[bool, bool]:
    """(``processor_ignores_attributes(top)``, whether an SDK multi-processor sits below ``top``)."""
    pending = [top]
    seen = 0
    nested = False
    while pending:
        seen += 1
        if seen > _MAX_PROCESSORS:  # a loop of processors: not ours to follow
            return False, nested
        processor = pending.pop()
        kind = processor.__class__
        if kind in _NO_OP_STARTS:
            continue
        if kind in _MULTI:
            nested = nested or processor is not top
            pending.extend(processor._span_processors)  # noqa: SLF001 - the SDK's list of processors
            continue
        # Declared in the processor's own class body: a subclass that overrides on_start may read.
        forwards = kind.__dict__.get("_on_start_forwards_to")
        if forwards is None:
            return False, nested
        pending.extend(forwards(processor))
    return True, nested


_MAX_PROCESSORS = 64


__all__ = ["processor_ignores_attributes", "sampler_ignores_attributes", "start_span"]
