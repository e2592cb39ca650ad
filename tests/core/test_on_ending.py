"""The SDK's ``_on_ending`` hook (a span ending, on its thread) reaches the processors behind ours."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass import Sampling
from traceglass.processors import CostSpanProcessor
from traceglass.processors._batch import BatchSpanProcessor as OurBatch
from traceglass.processors._fanout import FanOutSpanProcessor, ending_hooks
from traceglass.processors.sampling import ContentSamplingProcessor


class _Ending(SpanProcessor):
    def __init__(self) -> None:
        self.ending: list[str] = []

    def _on_ending(self, span) -> None:
        self.ending.append(span.name)


def test_a_processor_behind_ours_is_handed_the_ending_span_through_every_layer():
    first, second, third, fourth = _Ending(), _Ending(), _Ending(), _Ending()
    sampling = ContentSamplingProcessor(Sampling(), [("all", OurBatch(InMemorySpanExporter()))], _timer=False)
    fan_out = FanOutSpanProcessor([CostSpanProcessor(first), sampling])
    provider = TracerProvider()
    provider.add_span_processor(fan_out)
    sampling.add_downstream("all", second)  # added after the start: still reached
    provider.get_tracer("t").start_span("one").end()
    cost = CostSpanProcessor(OurBatch(InMemorySpanExporter()), third)
    fan_out.replace([cost])
    cost.add_downstream(fourth)
    provider.get_tracer("t").start_span("two").end()
    assert (first.ending, second.ending, third.ending, fourth.ending) == (["one"], ["one"], ["two"], ["two"])


def test_only_hooks_that_do_something_are_kept():
    ending, plain = _Ending(), OurBatch(InMemorySpanExporter())  # ours inherits the SDK's no-op hook
    assert ending_hooks([plain, ending, SpanProcessor()]) == (ending._on_ending,)
