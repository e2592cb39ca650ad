"""A per-test pipeline: tracer provider -> CostSpanProcessor -> in-memory exporter, plus metrics."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass import _config
from traceglass._handler import TelemetryHandler, get_handler, set_handler
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
    previous = get_handler()
    previous_settings = _config.current()
    made: list[Pipeline] = []

    def make(**options) -> Pipeline:
        _config.set_current(_config.Settings.from_env(capture_content=False))
        exporter = InMemorySpanExporter()
        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader])
        processor = CostSpanProcessor(SimpleSpanProcessor(exporter), meter_provider=meter_provider, **options)
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SessionSpanProcessor())
        tracer_provider.add_span_processor(processor)
        set_handler(TelemetryHandler(tracer_provider=tracer_provider, meter_provider=meter_provider))
        pipeline = Pipeline(exporter, reader, tracer_provider, meter_provider)
        pipeline.processor = processor
        made.append(pipeline)
        return pipeline

    yield make
    set_handler(previous)
    _config.set_current(previous_settings)
    for pipeline in made:
        pipeline.tracer_provider.shutdown()
        pipeline.meter_provider.shutdown()


@pytest.fixture
def pipeline(make_pipeline):
    return make_pipeline()
