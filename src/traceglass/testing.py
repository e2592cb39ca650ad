"""A public test kit: capture the spans, metrics and scores traceglass makes.

    with traceglass.testing.capture() as captured:
        my_traced_function()
    assert captured.spans()[0]["name"] == "my_traced_function"
    assert [s.value for s in captured.scores] == [1.0]   # traceglass.score() calls, as Score objects

It never touches the global providers: a fresh tracer provider with an in-memory exporter, a
meter provider with an in-memory reader and a logger provider with an in-memory exporter back a
private runtime (settings and handler), installed for the block and replaced by the previous one
after it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass import _config, _runtime, semconv
from traceglass._sampling import head_sampler
from traceglass._scores import Score, from_event
from traceglass.processors.session import SessionSpanProcessor


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as a plain dict: name, kind, ids, parent, status, attributes, events."""
    parent = span.parent.span_id if span.parent is not None else None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_id": format(parent, "016x") if parent is not None else None,
        "status": span.status.status_code.name,
        "status_description": span.status.description,
        "attributes": dict(span.attributes or {}),
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
        "start_time": span.start_time,
        "end_time": span.end_time,
    }


@dataclass
class Captured:
    """Spans, metrics and scores captured inside :func:`capture`."""

    exporter: InMemorySpanExporter
    metric_reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider | None = None
    log_exporter: InMemoryLogRecordExporter | None = None

    @property
    def scores(self) -> list[Score]:
        """The scores ``traceglass.score()`` emitted, in order, read back from their log records."""
        if self.log_exporter is None:
            return []
        out = []
        for item in self.log_exporter.get_finished_logs():
            record = item.log_record
            if record.event_name != semconv.EVENT_GEN_AI_EVALUATION_RESULT:
                continue
            out.append(from_event(record.attributes or {}, trace_id=format(record.trace_id, "032x"),
                                  span_id=format(record.span_id, "016x") if record.span_id else None,
                                  timestamp_ns=record.timestamp))
        return out

    def spans(self) -> list[dict[str, Any]]:
        """Finished spans, in the order they ended."""
        return [span_to_dict(s) for s in self.exporter.get_finished_spans()]

    def span(self, name: str) -> dict[str, Any]:
        """The one finished span called ``name`` (AssertionError if not exactly one)."""
        found = [s for s in self.spans() if s["name"] == name]
        assert len(found) == 1, f"expected one span {name!r}, found {len(found)} in {[s['name'] for s in self.spans()]}"
        return found[0]

    def metrics(self) -> dict[str, list[dict[str, Any]]]:
        """Metric points by metric name: ``{"attributes": ..., "value"/"sum"/"count": ...}``."""
        out: dict[str, list[dict[str, Any]]] = {}
        data = self.metric_reader.get_metrics_data()
        if data is None:
            return out
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    points = out.setdefault(metric.name, [])
                    for point in metric.data.data_points:
                        entry: dict[str, Any] = {"attributes": dict(point.attributes or {}), "unit": metric.unit}
                        for attr in ("value", "sum", "count", "bucket_counts", "explicit_bounds"):
                            if hasattr(point, attr):
                                value = getattr(point, attr)
                                entry[attr] = list(value) if isinstance(value, (list, tuple)) else value
                        points.append(entry)
        return out

    def clear(self) -> None:
        self.exporter.clear()
        if self.log_exporter is not None:
            self.log_exporter.clear()


@contextmanager
def capture(**settings: Any) -> Iterator[Captured]:
    """Capture traceglass spans, metrics and scores made inside the block.

    Keyword arguments override settings for the block (e.g. ``capture_content=False``).
    """
    chosen = _config.Settings.from_env(**settings)  # a bad setting raises before anything is made
    exporter = InMemorySpanExporter()
    sampling = chosen.sampling
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    # sampling=Sampling(...) applies as configure() applies it: the head sampler, and content decided per trace.
    tracer_provider = TracerProvider(sampler=head_sampler(sampling.trace_rate)) if sampling.trace_rate < 1.0 \
        else TracerProvider()
    tracer_provider.add_span_processor(SessionSpanProcessor())
    export: Any = SimpleSpanProcessor(exporter)
    if sampling.samples_content:
        from traceglass.processors.sampling import ContentSamplingProcessor

        export = ContentSamplingProcessor(sampling, [("sampled", export)], meter_provider=meter_provider)
    tracer_provider.add_span_processor(export)
    log_exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    # configure()'s pipeline stays reachable (flush()/shutdown() inside the block act on it).
    runtime = _runtime.Runtime.build(chosen, tracer_provider, meter_provider,
                                     pipeline=getattr(_runtime.peek(), "pipeline", None),
                                     logger_provider=logger_provider)
    try:
        with _runtime.installed(runtime):
            yield Captured(exporter, reader, tracer_provider, meter_provider, logger_provider, log_exporter)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        logger_provider.shutdown()
