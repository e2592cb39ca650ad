"""Our batch span processor: batches, a bounded queue (count and bytes), a truthful bounded flush.

Exporters here are fakes with events, so every wait is bounded and nothing depends on timing: a
"stuck" exporter blocks until the test releases it.
"""

from __future__ import annotations

import logging
import os
import threading

import pytest
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link

from traceglass.processors._batch import BatchSpanProcessor, estimate_size

BIG = "x" * 16384


class Recording(SpanExporter):
    """Records batches by span name; answers ``result`` (or raises ``raises`` once)."""

    def __init__(self, result: SpanExportResult = SpanExportResult.SUCCESS) -> None:
        self.result = result
        self.raises: Exception | None = None
        self.batches: list[list[str]] = []
        self.suppressed: list[bool] = []
        self.shutdowns = 0

    def export(self, spans):
        self.suppressed.append(not is_instrumentation_enabled())
        if self.raises is not None:
            exc, self.raises = self.raises, None
            raise exc
        self.batches.append([s.name for s in spans])
        return self.result

    def shutdown(self):
        self.shutdowns += 1


class Stuck(Recording):
    """Blocks in export until ``release`` is set (at most 30 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, spans):
        self.entered.set()
        self.release.wait(30)
        return super().export(spans)


class Pipeline:
    def __init__(self, exporter: SpanExporter, **options) -> None:
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        options.setdefault("schedule_delay_millis", 600_000)  # only batch size, flush and shutdown export
        self.processor = BatchSpanProcessor(exporter, meter_provider=self.meter_provider, **options)
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("test")

    def end(self, name: str, **attributes) -> None:
        self.tracer.start_span(name, attributes=attributes).end()

    def dropped(self) -> dict[str, int]:
        data = self.reader.get_metrics_data()
        if data is None:
            return {}
        return {p.attributes["error.type"]: p.value for rm in data.resource_metrics for sm in rm.scope_metrics
                for m in sm.metrics if m.name == "traceglass.spans.dropped" for p in m.data.data_points}


@pytest.fixture
def pipelines():
    made: list[Pipeline] = []

    def make(exporter: SpanExporter, **options) -> Pipeline:
        made.append(Pipeline(exporter, **options))
        return made[-1]

    yield make
    for pipeline in made:
        exporter = pipeline.processor.span_exporter
        if isinstance(exporter, Stuck):
            exporter.release.set()
        pipeline.processor.shutdown(5000)
        pipeline.meter_provider.shutdown()


def test_batches_of_flush_at_in_order_and_flush_delivers_the_rest(pipelines):
    exporter = Recording()
    pipeline = pipelines(exporter, max_export_batch_size=3)
    for i in range(7):
        pipeline.end(f"s{i}")
    assert pipeline.processor.force_flush(10_000) is True
    assert exporter.batches == [["s0", "s1", "s2"], ["s3", "s4", "s5"], ["s6"]]
    assert exporter.suppressed == [True, True, True]  # our own export is never traced
    assert pipeline.processor.force_flush(10_000) is True  # nothing pending, nothing lost
    assert pipeline.dropped() == {}


def test_spans_recorded_but_not_sampled_are_not_exported(pipelines):
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class RecordOnly(Sampler):  # as traceglass's head sampling does with the traces it drops
        def should_sample(self, parent_context, trace_id, name, *args, **kwargs):
            decision = Decision.RECORD_ONLY if name.startswith("dropped") else Decision.RECORD_AND_SAMPLE
            return SamplingResult(decision)

        def get_description(self):
            return "RecordOnly"

    exporter = Recording()
    pipeline = pipelines(exporter)
    pipeline.provider = TracerProvider(sampler=RecordOnly())
    pipeline.provider.add_span_processor(pipeline.processor)
    tracer = pipeline.provider.get_tracer("test")
    for name in ("kept", "dropped", "kept too", "dropped too"):
        tracer.start_span(name).end()
    assert pipeline.processor.force_flush(5000)
    assert exporter.batches == [["kept", "kept too"]]


def test_flush_is_false_when_the_exporter_failed_then_true_again(pipelines):
    exporter = Recording(SpanExportResult.FAILURE)  # e.g. the collector is down
    pipeline = pipelines(exporter)
    pipeline.end("lost")
    assert pipeline.processor.force_flush(10_000) is False
    exporter.result = SpanExportResult.SUCCESS
    pipeline.end("delivered")
    assert pipeline.processor.force_flush(10_000) is True
    assert exporter.batches == [["lost"], ["delivered"]]
    assert pipeline.dropped() == {"export_failed": 1}


def test_an_export_that_raises_is_a_failure_and_the_thread_goes_on(pipelines, caplog):
    exporter = Recording()
    exporter.raises = RuntimeError("exporter bug")
    pipeline = pipelines(exporter)
    pipeline.end("a")
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        assert pipeline.processor.force_flush(10_000) is False
    pipeline.end("b")
    assert pipeline.processor.force_flush(10_000) is True
    assert exporter.batches == [["b"]]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING][0] == (
        "traceglass: Recording.export raised")


def test_flush_returns_by_its_timeout_while_the_exporter_is_stuck(pipelines):
    exporter = Stuck()
    pipeline = pipelines(exporter, max_export_batch_size=1)
    pipeline.end("first")
    assert exporter.entered.wait(10)
    pipeline.end("second")
    assert pipeline.processor.force_flush(50) is False  # returned while the export still hangs
    assert exporter.batches == [] and not exporter.release.is_set()
    exporter.release.set()
    assert pipeline.processor.force_flush(10_000) is True
    assert exporter.batches == [["first"], ["second"]]


def test_queue_is_bounded_by_bytes_and_drops_are_counted_with_one_warning(pipelines, caplog):
    exporter = Stuck()
    clock = [1000.0]
    pipeline = pipelines(exporter, max_export_batch_size=1, max_queue_bytes=100_000, _clock=lambda: clock[0])
    pipeline.end("in-export", payload=BIG)
    assert exporter.entered.wait(10)
    fit = 100_000 // estimate_size(pipeline.tracer.start_span("probe", attributes={"payload": BIG}))
    assert fit == 5  # 16 KB payloads: ~18.6 KB each
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        for i in range(20):
            pipeline.end(f"s{i}", payload=BIG)
        clock[0] += 61  # a minute later, one more drop: the next summary
        pipeline.end("late", payload=BIG)
    assert pipeline.dropped() == {"queue_full": 20 - fit + 1}
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: 1 spans not exported (queue_full: 1) since the last report; the queue holds at most "
        "65536 spans or 100000 bytes: is the exporter's destination reachable?",
        "traceglass: 15 spans not exported (queue_full: 15) since the last report; the queue holds at most "
        "65536 spans or 100000 bytes: is the exporter's destination reachable?",
    ]
    exporter.release.set()
    assert pipeline.processor.force_flush(10_000) is False  # spans were dropped since the last flush
    assert pipeline.processor.force_flush(10_000) is True
    assert [name for batch in exporter.batches for name in batch] == ["in-export", "s0", "s1", "s2", "s3", "s4"]


def test_queue_is_bounded_by_count(pipelines):
    exporter = Stuck()
    pipeline = pipelines(exporter, max_queue_size=3, max_export_batch_size=1)
    pipeline.end("in-export")
    assert exporter.entered.wait(10)
    for i in range(5):
        pipeline.end(f"s{i}")
    assert pipeline.dropped() == {"queue_full": 2}
    exporter.release.set()
    assert pipeline.processor.force_flush(10_000) is False
    assert exporter.batches == [["in-export"], ["s0"], ["s1"], ["s2"]]


def test_shutdown_is_bounded_idempotent_and_counts_what_it_gives_up(pipelines, caplog):
    exporter = Stuck()
    pipeline = pipelines(exporter, max_export_batch_size=1)
    pipeline.end("in-export")
    assert exporter.entered.wait(10)
    pipeline.end("queued-1")
    pipeline.end("queued-2")
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        pipeline.processor.shutdown(100)  # returns although the export hangs
    assert not exporter.release.is_set() and exporter.batches == []
    assert [r.getMessage() for r in caplog.records] == [
        "traceglass: the exporter did not finish within 0.1 s at shutdown; 2 queued spans are not exported"]
    pipeline.processor.shutdown(100)  # a second call does nothing
    pipeline.end("after-shutdown")
    assert pipeline.processor.force_flush(1000) is False
    exporter.release.set()
    pipeline.processor._worker.join(10)
    assert exporter.batches == [["in-export"]]
    assert exporter.shutdowns == 1
    assert pipeline.dropped() == {"shutdown": 3}


def test_shutdown_exports_what_is_queued(pipelines):
    exporter = Recording()
    pipeline = pipelines(exporter, max_export_batch_size=2)
    for name in ("a", "b", "c"):
        pipeline.end(name)
    pipeline.processor.shutdown(10_000)
    assert exporter.batches == [["a", "b"], ["c"]] and exporter.shutdowns == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_exports_its_own_spans(pipelines):
    exporter = Recording()
    pipeline = pipelines(exporter)
    pipeline.end("parent")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new export thread, an empty queue
        try:
            pipeline.end("child")
            ok = pipeline.processor.force_flush(5000)
            os.write(write, repr((ok, exporter.batches)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    assert child == "(True, [['child']])"
    assert pipeline.processor.force_flush(10_000) is True
    assert exporter.batches == [["parent"]]


def test_size_estimate_follows_the_payload():
    provider = TracerProvider()
    tracer = provider.get_tracer("test")

    def size(**attributes) -> int:
        span = tracer.start_span("s", attributes=attributes)
        span.add_event("e", {"n": 1})
        span.end()
        return estimate_size(span)

    small = size(kind="tool")
    assert 2048 < small < 4096  # a small span holds ~3.6 KB (CPython 3.11, SDK 1.45)
    assert size(kind="tool", payload=BIG) - small == pytest.approx(16384 + 96, abs=64)
    assert size(kind="tool", payload="€" * 16384) - small == pytest.approx(2 * 16384 + 96, abs=128)
    assert size(kind="tool", payload=("ab" * 100, "cd" * 100)) - small == pytest.approx(2 * 249 + 16 + 96, abs=32)


def test_size_estimate_follows_the_names_events_and_links():
    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    other = tracer.start_span("other").get_span_context()

    def size(name="s", event=None, link=None, **attributes) -> int:
        span = tracer.start_span(name, attributes=attributes, links=[Link(other, link)] if link is not None else ())
        if event is not None:
            span.add_event(*event)
        span.end()
        return estimate_size(span)

    bare = size()
    assert size(name="n" * 5000) - bare == 4999
    event = size(event=("e", {}))
    assert event - bare == 768 + 1  # an event's fixed cost and its name
    assert size(event=("e" * 1001, {})) - event == 1000
    assert size(event=("e", {"payload": BIG})) - event == pytest.approx(16384 + 96, abs=64)
    link = size(link={})
    assert link - bare == 256
    assert size(link={"payload": BIG}) - link == pytest.approx(16384 + 96, abs=64)
    assert size(numbers=tuple(range(100))) - bare == 96 + 100 * (8 + 32)  # a pointer and an int each
    assert size(texts=("€" * 1000,)) - bare == pytest.approx(96 + 8 + 2 * 1000, abs=128)


def test_the_size_estimate_is_within_a_factor_of_what_spans_really_hold():
    import tracemalloc

    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    other = tracer.start_span("other").get_span_context()
    shapes = [  # each span's own texts (a text shared by all is held once)
        lambda span, n: span.set_attribute("payload", f"{n}{BIG}"),
        lambda span, n: span.set_attribute("payload", f"{n}" + "€" * 8000),
        lambda span, n: span.set_attribute("list", tuple(f"{n}.{i}" + "ab" * 500 for i in range(10))),
        lambda span, n: span.add_event("log", {"payload": f"{n}{BIG}"}),
        lambda span, n: [span.add_event(f"e{i}", {"n": i}) for i in range(20)],
        lambda span, n: span.add_link(other, {"payload": f"{n}{BIG}"}),
    ]
    for shape in shapes:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        spans = []
        for n in range(200):
            span = tracer.start_span("span")
            shape(span, n)
            span.end()
            spans.append(span)
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        estimated = sum(estimate_size(span) for span in spans)
        assert 0.5 < estimated / held < 2.0, (shape, estimated, held)
