"""The buffer: remote parents, pressure, timeouts, late spans, flush and shutdown; and the store's totals."""

from __future__ import annotations

import time

import pytest

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from traceglass import Sampling
from traceglass.processors.cost import CostSpanProcessor
from traceglass.processors.sampling import ContentSamplingProcessor

from ._pipeline import Pipeline, SeededIds


def _remote(trace_id=0xABC, span_id=0xDEF):
    context = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(context))


def _named(pipeline):
    return [(s["name"], s["attributes"].get("traceglass.content.sampled")) for s in pipeline.spans()]


def test_a_span_whose_parent_is_in_another_process_is_the_local_root():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    with pipeline.tracer.start_as_current_span("server", context=_remote()):
        with pipeline.tracer.start_as_current_span("llm"):
            pass
        assert pipeline.spans() == []
    assert _named(pipeline) == [("llm", False), ("server", False)]
    assert {s["trace_id"] for s in pipeline.spans()} == {format(0xABC, "032x")}


def test_a_second_local_root_of_a_decided_trace_follows_the_decision():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    with pipeline.tracer.start_as_current_span("first", context=_remote()) as first:
        first.set_status(Status(StatusCode.ERROR))
    with pipeline.tracer.start_as_current_span("second", context=_remote(span_id=0x123)):
        pass  # successful, but its trace kept its content: it follows
    assert _named(pipeline) == [("first", None), ("second", None)]
    assert pipeline.counters() == {("content_kept", "root_ended", "error"): 1}


def test_a_late_child_of_a_decided_trace_follows_without_waiting():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    root = pipeline.tracer.start_span("root")
    late = pipeline.tracer.start_span("late", context=trace.set_span_in_context(root))
    root.end()
    late.end()  # e.g. a stream consumed after its function returned
    assert _named(pipeline) == [("root", False), ("late", False)]
    assert pipeline.processor.pending == (0, 0, 0)


def test_a_trace_whose_root_never_ends_is_decided_at_the_timeout():
    pipeline = Pipeline(Sampling(content_rate=0.0, decision_timeout=30))
    server = pipeline.tracer.start_span("long server span")
    ctx = trace.set_span_in_context(server)
    ok = pipeline.tracer.start_span("ok", context=ctx)
    ok.end()
    failed = pipeline.tracer.start_span("failed", context=ctx)
    failed.set_status(Status(StatusCode.ERROR))
    failed.end()
    other = pipeline.tracer.start_span("other trace")
    pipeline.clock.now += 20
    other_child = pipeline.tracer.start_span("other child", context=trace.set_span_in_context(other))
    other_child.end()
    assert pipeline.processor._expire() == 0  # noqa: SLF001 - nothing is 30 s old yet
    pipeline.clock.now += 10
    assert pipeline.processor._expire() == 1  # noqa: SLF001 - the first trace only
    assert _named(pipeline) == [("ok", None), ("failed", None)]  # an error: content kept
    assert pipeline.counters() == {("content_kept", "timeout", "error"): 1}
    server.end()  # follows its trace's decision
    assert _named(pipeline)[-1] == ("long server span", None)
    assert pipeline.processor.pending[:2] == (1, 1)  # the other trace still waits


def test_the_timer_thread_decides_without_any_further_span():
    pipeline = Pipeline(Sampling(content_rate=0.0, decision_timeout=0.05), timer=True)
    pipeline.clock.now = 0.0
    pipeline.processor._clock = time.monotonic  # noqa: SLF001 - the real clock for the real thread
    server = pipeline.tracer.start_span("server")
    pipeline.tracer.start_span("child", context=trace.set_span_in_context(server)).end()
    for _ in range(200):  # bounded: at most ~10 s on a busy machine
        if pipeline.spans():
            break
        time.sleep(0.05)
    assert _named(pipeline) == [("child", False)]
    pipeline.processor.shutdown()


def test_under_pressure_the_oldest_traces_leave_without_content_and_nothing_blocks():
    pipeline = Pipeline(Sampling(content_rate=1.0 - 1e-9, max_buffered_spans=3))
    roots = [pipeline.tracer.start_span(f"root{i}") for i in range(3)]
    for i, root in enumerate(roots):
        child = pipeline.tracer.start_span(f"child{i}", context=trace.set_span_in_context(root))
        child.set_attributes({"gen_ai.input.messages": "[]", "gen_ai.usage.input_tokens": 7})
        child.end()
    assert pipeline.spans() == []
    extra = pipeline.tracer.start_span("child0b", context=trace.set_span_in_context(roots[0]))
    extra.end()  # 4 spans > 3: the oldest trace (root0's) leaves, content dropped, metadata kept
    assert [(s["name"], s["attributes"]) for s in pipeline.spans()] == [
        ("child0", {"gen_ai.usage.input_tokens": 7, "traceglass.content.sampled": False}),
        ("child0b", {"traceglass.content.sampled": False})]
    assert pipeline.processor.pending[:2] == (2, 2)
    assert pipeline.counters()[("content_dropped", "pressure", "pressure")] == 1
    roots[0].end()  # follows: content dropped
    assert _named(pipeline)[-1] == ("root0", False)


def test_the_byte_bound_holds_too():
    pipeline = Pipeline(Sampling(content_rate=0.5, max_buffered_bytes=20_000))
    root = pipeline.tracer.start_span("root")
    for i in range(20):
        child = pipeline.tracer.start_span(f"c{i}", context=trace.set_span_in_context(root))
        child.set_attribute("gen_ai.input.messages", "x" * 1000)
        child.end()
        assert pipeline.processor.pending[2] <= 20_000
    assert len(pipeline.spans()) > 0
    # Traces of several spans each, decided: the count of spans and bytes goes back to nothing.
    for n in range(3):
        other = pipeline.tracer.start_span(f"other{n}")
        for i in range(3):
            pipeline.tracer.start_span(f"o{n}.{i}", context=trace.set_span_in_context(other)).end()
        other.end()
    root.end()
    assert pipeline.processor.force_flush() is True
    assert pipeline.processor.pending == (0, 0, 0)


def test_flush_decides_and_delivers_everything_pending():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    root = pipeline.tracer.start_span("root")
    failed = pipeline.tracer.start_span("failed", context=trace.set_span_in_context(root))
    failed.set_status(Status(StatusCode.ERROR))
    failed.end()
    other = pipeline.tracer.start_span("other")
    pipeline.tracer.start_span("ok", context=trace.set_span_in_context(other)).end()
    assert pipeline.processor.force_flush() is True
    assert _named(pipeline) == [("failed", None), ("ok", False)]
    assert pipeline.counters() == {("content_kept", "flush", "error"): 1,
                                   ("content_dropped", "flush", "sampled_out"): 1, (): 1}
    assert pipeline.processor.pending == (0, 0, 0)


def test_shutdown_decides_delivers_and_is_idempotent():
    pipeline = Pipeline(Sampling(content_rate=0.0))
    root = pipeline.tracer.start_span("root")
    pipeline.tracer.start_span("ok", context=trace.set_span_in_context(root)).end()
    pipeline.processor.shutdown()
    pipeline.processor.shutdown()
    assert _named(pipeline) == [("ok", False)]


def test_head_filter_on_a_provider_whose_sampler_is_not_ours():
    pipeline = Pipeline(Sampling(), head_rate=0.25, seed=9)
    for _ in range(2000):
        pipeline.tracer.start_span("t").end()
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    kept = pipeline.spans()
    bound = TraceIdRatioBased.get_bound_for_rate(0.25)
    assert all(int(s["trace_id"], 16) & TraceIdRatioBased.TRACE_ID_LIMIT < bound for s in kept)
    assert 400 < len(kept) < 600


def test_a_traces_totals_in_the_store_are_identical_at_any_content_rate(tmp_path):
    from traceglass.exporters.sqlite import SQLiteSpanExporter
    from traceglass.store import TraceStore
    from opentelemetry.sdk.trace import TracerProvider

    prices = {"m": {"input_per_1k": 0.01, "output_per_1k": 0.02}}
    totals = {}
    for rate in (1.0, 0.0):
        path = tmp_path / f"rate{rate}.db"
        exporter = SQLiteSpanExporter(path)
        sampling = ContentSamplingProcessor(Sampling(content_rate=rate),
                                            [("sampled", SimpleSpanProcessor(exporter))])
        provider = TracerProvider(id_generator=SeededIds(3))
        provider.add_span_processor(CostSpanProcessor(sampling, prices=prices))
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("chain"):
            for tokens in (100, 200):
                with tracer.start_as_current_span("llm") as llm:
                    llm.set_attributes({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": tokens,
                                        "gen_ai.usage.output_tokens": 10, "gen_ai.input.messages": "[]"})
        provider.shutdown()
        store = TraceStore(path, read_only=True)
        (summary,) = store.list_traces().traces
        whole = store.get_trace(summary.trace_id)
        totals[rate] = (summary.input_tokens, summary.output_tokens, summary.cost_usd, summary.span_count,
                        whole.root.attributes.get("traceglass.rollup.cost_usd"),
                        sorted("gen_ai.input.messages" in s.attributes for s in whole.spans))
    assert totals[1.0][:5] == totals[0.0][:5]
    assert totals[0.0][:5] == (300, 20, pytest.approx(0.0034), 3, 0.0034)
    assert (totals[1.0][5], totals[0.0][5]) == ([False, True, True], [False, False, False])
