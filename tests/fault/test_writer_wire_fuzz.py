"""Hostile spans through the writer process's wire format: whatever a span holds (lone surrogates,
integers beyond 64 bits, NaN, nested sequences, bytes, objects ``marshal`` refuses, times beyond
64 bits), the rows decoded in the writer process are exactly the rows the in-process writer makes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from traceglass.store._rows import row_from_span
from traceglass.store._span_wire import ROWS, SPANS, Decoder, Encoder


class _Opaque:
    def __str__(self) -> str:
        return "opaque"


_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None), max_size=12)
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(allow_nan=True),
    _text, st.just("\ud800 lone"), st.binary(max_size=6),
)
_value = st.one_of(_scalar, st.tuples(_scalar, _scalar), st.lists(_scalar, max_size=3).map(tuple))
_attributes = st.dictionaries(st.one_of(_text, st.just("gen_ai.usage.input_tokens"),
                                        st.just("traceglass.cost.total_usd"), st.just("gen_ai.request.model")),
                              _value, max_size=6)
_ids = st.integers(min_value=1, max_value=2**64 - 1)
_times = st.integers(min_value=0, max_value=2**66)


@st.composite
def _spans(draw: st.DrawFn) -> list[ReadableSpan]:
    resources = [Resource.create({"service.name": draw(_text)}), Resource.create(draw(_attributes))]
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        trace_id = draw(st.integers(min_value=1, max_value=2**128 - 1))
        start = draw(_times)
        parent = SpanContext(trace_id, draw(_ids), is_remote=False) if draw(st.booleans()) else None
        events = [Event(draw(_text), draw(_attributes), timestamp=draw(_times))
                  for _ in range(draw(st.integers(min_value=0, max_value=2)))]
        links = [Link(SpanContext(draw(st.integers(min_value=1, max_value=2**128 - 1)), draw(_ids), is_remote=True),
                      draw(_attributes)) for _ in range(draw(st.integers(min_value=0, max_value=1)))]
        out.append(ReadableSpan(
            name=draw(_text), context=SpanContext(trace_id, draw(_ids), is_remote=False), parent=parent,
            resource=draw(st.sampled_from(resources)), attributes=draw(_attributes), events=events, links=links,
            kind=draw(st.sampled_from(list(SpanKind))),
            status=Status(draw(st.sampled_from(list(StatusCode))), draw(st.one_of(st.none(), _text))),
            start_time=start, end_time=draw(st.one_of(st.none(), _times)),
        ))
    if draw(st.booleans()):  # a value only a hand-made span can hold: marshal refuses it
        out[0]._attributes = {**out[0].attributes, "opaque": _Opaque()}
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans=_spans())
def test_the_writer_process_decodes_exactly_the_rows_the_in_process_writer_makes(spans):
    kind, payload = Encoder().encode(spans)
    assert kind in (SPANS, ROWS)
    assert Decoder().decode(kind, payload) == [row_from_span(span) for span in spans]


def test_a_batch_holding_an_unmarshallable_value_goes_as_rows():
    span = ReadableSpan(name="odd", context=SpanContext(1, 2, is_remote=False), attributes={"x": _Opaque()},
                        start_time=1, end_time=2)
    kind, payload = Encoder().encode([span])
    assert kind == ROWS
    assert Decoder().decode(kind, payload) == [row_from_span(span)]
