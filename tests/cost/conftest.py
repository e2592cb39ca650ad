"""A per-test pipeline: tracer provider -> CostSpanProcessor -> in-memory exporter, plus metrics."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass import _config, _runtime
from traceglass.processors.cost import CostSpanProcessor
from traceglass.processors.session import SessionSpanProcessor
from traceglass.testing import Captured


class Pipeline(Captured):
    """Spans exported behind a cost processor; ``processor`` is that processor."""

    processor: CostSpanProcessor

    def tracer(self):
        return self.tracer_provider.get_tracer("peer-instrumentation")


@pytest.fixture
def make_pipeline():
    """``make_pipeline(prices=..., **processor options)``; traceglass's decorators use it too.

    Content capture is off, so attribute dicts stay about usage and cost.
    """
    previous = _runtime.current()
    made: list[Pipeline] = []

    def make(**options) -> Pipeline:
        exporter = InMemorySpanExporter()
        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader])
        processor = CostSpanProcessor(SimpleSpanProcessor(exporter), meter_provider=meter_provider, **options)
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SessionSpanProcessor())
        tracer_provider.add_span_processor(processor)
        settings = _config.Settings.from_env(capture_content=False)
        _runtime.install(_runtime.Runtime.build(settings, tracer_provider, meter_provider))
        pipeline = Pipeline(exporter, reader, tracer_provider, meter_provider)
        pipeline.processor = processor
        made.append(pipeline)
        return pipeline

    yield make
    _runtime.install(previous)
    for pipeline in made:
        pipeline.tracer_provider.shutdown()
        pipeline.meter_provider.shutdown()


@pytest.fixture
def pipeline(make_pipeline):
    return make_pipeline()
