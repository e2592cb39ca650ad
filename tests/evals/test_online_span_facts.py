"""The facts online metrics take from a finished span on the app's thread (ids, latency, cost,
model) come from the SDK's private attribute dict, a measured 0.5-2 µs a call cheaper than the
public read-only view. These tests fail loudly when an SDK upgrade moves that dict, instead of
letting every call silently take the slow path (or read something else)."""

from __future__ import annotations

from importlib.metadata import version
from types import MappingProxyType

import pytest
from opentelemetry.sdk.trace import TracerProvider

import traceglass
from traceglass import decorators
from traceglass.evals import _online

SDK = f"opentelemetry-sdk {version('opentelemetry-sdk')}"
LLM = {"traceglass.span.type": "llm", "gen_ai.request.model": "gpt-4o-mini", "traceglass.cost.total_usd": 0.0012,
       "app.other": "x"}
ROLLUP = {"traceglass.span.type": "chain", "traceglass.rollup.cost_usd": 3, "gen_ai.request.model": 7}
PLAIN = {"traceglass.span.type": "chain", "app.other": "x"}


def _finished(attributes):
    span = TracerProvider().get_tracer("tests").start_span("call", attributes=attributes, start_time=1_000_000)
    span.end(end_time=3_500_000)
    return span


def _ids(span):
    context = span.get_span_context()
    return context.trace_id, context.span_id


@pytest.mark.parametrize(("attributes", "cost", "model"), [
    (LLM, 0.0012, "gpt-4o-mini"), (ROLLUP, 3.0, None), (PLAIN, None, None)])
def test_the_fast_path_reads_the_sdk_spans_own_attribute_dict(attributes, cost, model):
    span = _finished(attributes)
    inner = getattr(getattr(span, "_attributes", None), "_dict", None)
    assert type(inner) is dict, f"{SDK}: Span._attributes._dict is gone; update evals/_online._readable"
    assert inner == dict(span.attributes) == attributes, f"{SDK}: Span._attributes._dict is not the attributes"
    assert _online._readable(span) is inner
    assert _online._span_facts(span) == (*_ids(span), 2.5, cost, model)


def test_a_span_without_the_private_dict_gives_the_same_facts_through_the_public_view():
    span = _finished(LLM)

    class Public:  # what a span exposes publicly, and nothing else
        start_time, end_time, attributes = span.start_time, span.end_time, MappingProxyType(dict(LLM))

        def get_span_context(self):
            return span.get_span_context()

    assert _online._readable(Public()) is Public.attributes
    assert _online._span_facts(Public()) == _online._span_facts(span) == (*_ids(span), 2.5, 0.0012, "gpt-4o-mini")


def test_the_span_the_decorators_hand_over_takes_the_fast_path(captured):
    handed: list = []
    previous = decorators.set_online_metrics_listener(lambda metrics, span, arguments, output: handed.append(span))
    try:
        @traceglass.observe(type="llm", metrics=["json_valid"])
        def answer(question):
            return "Paris"

        assert answer("capital?") == "Paris"
    finally:
        decorators.set_online_metrics_listener(previous)
    [span] = handed
    assert type(getattr(getattr(span, "_attributes", None), "_dict", None)) is dict, (
        f"{SDK}: the decorators' span has no _attributes._dict; update evals/_online._readable")
    assert _online._readable(span) is span._attributes._dict
    assert _online._span_facts(span)[:2] == _ids(span)
