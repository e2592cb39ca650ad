"""start_span: start attributes given after the start only when no sampler or on_start reads them."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

from traceglass import semconv
from traceglass._handler._span_start import (
    processor_ignores_attributes,
    sampler_ignores_attributes,
    start_span,
)
from traceglass.processors import CostSpanProcessor
from traceglass.processors._batch import BatchSpanProcessor as OurBatch
from traceglass.processors.session import SessionSpanProcessor

START = {"gen_ai.operation.name": semconv.GenAIOperation.CHAT, "gen_ai.request.model": "gpt-4o-mini",
         "server.port": 443, "gen_ai.request.stop_sequences": ["a", "b"]}


class _SeesStart(SpanProcessor):
    def __init__(self) -> None:
        self.seen: list[dict] = []

    def on_start(self, span, parent_context=None) -> None:
        self.seen.append(dict(span.attributes))


class _ByModel(Sampler):
    """Drops the spans of one model: a sampler that reads the attributes."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        keep = (attributes or {}).get("gen_ai.request.model") != "gpt-4o-mini"
        return SamplingResult(Decision.RECORD_AND_SAMPLE if keep else Decision.DROP, attributes)

    def get_description(self) -> str:
        return "by model"


def _start(provider: TracerProvider, attributes: dict | None = None):
    tracer = provider.get_tracer("t")
    return start_span(tracer, "chat gpt-4o-mini", context=None, kind=SpanKind.CLIENT,
                      attributes=dict(attributes or START), start_time=None)


def _calls(monkeypatch) -> list:
    """The ``attributes`` each SDK start_span call was given."""
    from opentelemetry.sdk import trace as sdk_trace

    given: list = []
    real = sdk_trace.Tracer.start_span

    def spy(self, *args, **kwargs):
        given.append(kwargs.get("attributes"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(sdk_trace.Tracer, "start_span", spy)
    return given


def test_with_nothing_reading_them_the_span_ends_with_the_same_attributes(monkeypatch):
    given = _calls(monkeypatch)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _start(provider).end()
    reference = provider.get_tracer("t").start_span("chat gpt-4o-mini", attributes=dict(START))
    reference.end()
    ours, sdk = exporter.get_finished_spans()
    assert given == [None, START]  # ours started bare; the reference call went the SDK's way
    assert dict(ours.attributes) == dict(sdk.attributes)
    assert ours.attributes["gen_ai.request.stop_sequences"] == ("a", "b")


def test_a_processor_reading_attributes_at_start_sees_them():
    seer = _SeesStart()
    provider = TracerProvider()
    provider.add_span_processor(seer)
    _start(provider).end()
    assert seer.seen[0]["gen_ai.request.model"] == "gpt-4o-mini"


def test_under_our_processors_the_spans_start_bare_and_a_session_still_lands(monkeypatch):
    import traceglass

    given = _calls(monkeypatch)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SessionSpanProcessor())
    provider.add_span_processor(CostSpanProcessor(OurBatch(exporter)))
    with traceglass.session("s-1", user_id="u-1"):
        _start(provider).end()
    provider.force_flush()
    assert given == [None]
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert span.attributes[semconv.SESSION_ID] == "s-1"


@pytest.mark.parametrize("sampler", [_ByModel(), ParentBased(_ByModel())], ids=["root", "parent-based"])
def test_a_sampler_reading_attributes_is_handed_them(sampler):
    provider = TracerProvider(sampler=sampler)
    span = _start(provider)
    assert not span.is_recording()  # dropped for its model: the sampler saw it
    assert _start(provider, {**START, "gen_ai.request.model": "other"}).is_recording()


def test_price_attributes_are_there_at_start(monkeypatch):
    given = _calls(monkeypatch)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    _start(provider, {**START, semconv.PRICE_INPUT_PER_TOKEN: 1e-6}).end()
    assert given[0][semconv.PRICE_INPUT_PER_TOKEN] == 1e-6


def test_which_samplers_and_processors_read_nothing():
    assert sampler_ignores_attributes(ALWAYS_ON)
    assert sampler_ignores_attributes(ParentBased(TraceIdRatioBased(0.5)))
    assert not sampler_ignores_attributes(ParentBased(ALWAYS_ON, local_parent_sampled=_ByModel()))
    exporter = InMemorySpanExporter()
    assert processor_ignores_attributes(BatchSpanProcessor(exporter))
    assert processor_ignores_attributes(CostSpanProcessor(SimpleSpanProcessor(exporter), SessionSpanProcessor()))
    assert not processor_ignores_attributes(CostSpanProcessor(SimpleSpanProcessor(exporter), _SeesStart()))

    class Subclass(SimpleSpanProcessor):  # may read attributes in its own on_start
        pass

    assert not processor_ignores_attributes(Subclass(exporter))

    class PricedAtStart(CostSpanProcessor):  # ours, but its on_start is the user's now
        def on_start(self, span, parent_context=None):
            super().on_start(span, parent_context)

    assert not processor_ignores_attributes(PricedAtStart(SimpleSpanProcessor(exporter)))


@pytest.mark.parametrize("sampling", ["None", "traceglass.Sampling(trace_rate=0.5, content_rate=0.5)"],
                         ids=["defaults", "sampling"])
def test_configure_builds_a_pipeline_that_reads_no_attribute_at_start(sampling):
    from .test_configure import run

    result = run(f"""
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import traceglass
        from traceglass._handler._span_start import processor_ignores_attributes, sampler_ignores_attributes

        traceglass.configure(exporters=[InMemorySpanExporter(), "none"], instrument=[], sampling={sampling})
        provider = trace.get_tracer_provider()
        print(json.dumps([sampler_ignores_attributes(provider.sampler),
                          processor_ignores_attributes(provider._active_span_processor)]))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[true, true]"


def test_the_verdicts_remembered_stay_few():
    from traceglass._handler import _span_start

    for _ in range(200):
        _start(TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))).end()
    assert 0 < len(_span_start._VERDICTS) <= _span_start._MAX_VERDICTS


def test_a_pipeline_is_walked_once_until_it_changes(monkeypatch):
    from traceglass._handler import _span_start

    walks = []
    real = _span_start._walk
    monkeypatch.setattr(_span_start, "_walk", lambda top: walks.append(top) or real(top))
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(OurBatch(InMemorySpanExporter())))
    for _ in range(3):
        _start(provider).end()
    assert len(walks) == 1
    provider.add_span_processor(SessionSpanProcessor())  # the SDK's list is a new tuple
    _start(provider).end()
    assert len(walks) == 2


def _cost(seer):
    cost = CostSpanProcessor(OurBatch(InMemorySpanExporter()))
    return cost, lambda: cost.add_downstream(seer)


def _fan_out(seer):
    from traceglass.processors._fanout import FanOutSpanProcessor

    fan = FanOutSpanProcessor([OurBatch(InMemorySpanExporter())])
    return fan, lambda: fan.replace([OurBatch(InMemorySpanExporter()), seer])


def _content_sampling(seer):
    from traceglass import Sampling
    from traceglass.processors.sampling import ContentSamplingProcessor

    sampling = ContentSamplingProcessor(Sampling(), [("all", OurBatch(InMemorySpanExporter()))], _timer=False)
    return sampling, lambda: sampling.add_downstream("all", seer)


def _nested_sdk_list(seer):
    from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor

    inner = SynchronousMultiSpanProcessor()
    inner.add_span_processor(OurBatch(InMemorySpanExporter()))
    return CostSpanProcessor(inner), lambda: inner.add_span_processor(seer)


@pytest.mark.parametrize("build", [_cost, _fan_out, _content_sampling, _nested_sdk_list],
                         ids=["cost.add_downstream", "fan_out.replace", "content_sampling.add_downstream",
                              "an SDK list inside ours"])
def test_a_reader_forwarded_to_later_sees_the_attributes_at_start(build):
    seer = _SeesStart()
    processor, add_reader = build(seer)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    _start(provider).end()  # nothing reads: started bare (the verdict is kept)
    add_reader()
    _start(provider).end()
    assert seer.seen and seer.seen[-1]["gen_ai.request.model"] == "gpt-4o-mini"
