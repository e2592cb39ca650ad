"""A finished SDK span's attributes (and its events' and links') are read from the SDK's inner dict, in C,
and its events and links read from the SDK's inner deque, by the in-process writer and by the writer
process's wire encoder: the same values as through the mapping and the ``events``/``links`` properties,
without a Python call and a lock per key or per list (3.5 µs of the export thread's GIL a span)."""

from __future__ import annotations

import pytest
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, TraceFlags

from traceglass._ended_span import frozen_attributes, span_events, span_links
from traceglass.store._rows import row_from_span
from traceglass.store._span_wire import Decoder, Encoder

ATTRIBUTES = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 12, "tags": ("a", "b"),
              "traceglass.input": "héllo"}


def _sdk_span() -> ReadableSpan:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    linked = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    span = provider.get_tracer("t").start_span("chat", attributes=ATTRIBUTES,
                                               links=[Link(linked, {"why": "retry of"})])
    span.add_event("retry", {"attempt": 2})
    span.end()
    (finished,) = memory.get_finished_spans()
    return finished


def _refuse(*_args, **_kwargs):
    raise AssertionError("read through BoundedAttributes' mapping methods")


@pytest.fixture
def locked_mapping_refused(monkeypatch):
    """BoundedAttributes' own mapping methods (Python, taking its lock) fail the test if called."""
    for name in ("__iter__", "__getitem__", "__len__"):
        monkeypatch.setattr(BoundedAttributes, name, _refuse)


@pytest.fixture
def span():
    return _sdk_span()


def test_sdk_span_attributes_are_read_from_the_inner_dict(span, locked_mapping_refused):
    assert type(span._attributes) is BoundedAttributes  # the SDK's own, as the writer receives it
    assert frozen_attributes(span) == ATTRIBUTES
    assert frozen_attributes(span.events[0]) == {"attempt": 2}
    assert frozen_attributes(span.links[0]) == {"why": "retry of"}
    assert frozen_attributes(span) is span._attributes._dict  # read where it is, not copied through the mapping


def test_events_and_links_are_read_from_the_inner_deque(span, locked_mapping_refused, monkeypatch):
    for name in ("__iter__", "__getitem__", "__len__"):
        monkeypatch.setattr(BoundedList, name, _refuse)
    assert [e.name for e in span_events(span)] == ["retry"]
    assert [link.context.span_id for link in span_links(span)] == [0xDEF]


def test_rows_and_the_wire_read_the_same_values_without_the_mapping_methods(span, monkeypatch):
    expected_row = row_from_span(span)  # and the resource, encoded once a process, outside the patch
    encoder = Encoder()
    kind, payload = encoder.encode([span])
    with monkeypatch.context() as patch:
        for name in ("__iter__", "__getitem__", "__len__"):
            patch.setattr(BoundedAttributes, name, _refuse)
            patch.setattr(BoundedList, name, _refuse)
        row = row_from_span(span)
        again = encoder.encode([span])
    assert again == (kind, payload)
    assert row == expected_row
    assert '"gen_ai.usage.input_tokens":12' in row.data[0] and row.span[16] == 12  # input tokens column
    assert Decoder().decode(kind, payload) == [expected_row]


def test_other_mappings_are_read_through_the_mapping():
    plain = ReadableSpan(name="x", attributes={"a": 1}, events=[Event("e", {"b": 2}, timestamp=5)])
    assert frozen_attributes(plain) == {"a": 1}
    assert [(e.name, frozen_attributes(e)) for e in span_events(plain)] == [("e", {"b": 2})]
    assert list(span_links(plain)) == []
    assert frozen_attributes(ReadableSpan(name="y")) == {}
    mutable = BoundedAttributes(immutable=False, attributes={"k": "v"})
    holder = type("Holder", (), {"_attributes": mutable, "attributes": mutable})()
    assert frozen_attributes(holder) == {"k": "v"}
