"""Faults in the export pipeline: a locked store, a collector that is down, exporters that raise or hang.

The application must never block past the timeouts it gives, never break, and every span must be
either delivered or counted on ``traceglass.spans.dropped``.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import textwrap
import threading
import time

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from traceglass.processors._batch import BatchSpanProcessor

from ..core.test_configure import run

# The app's own meter provider (configure() attaches to it), so the drop counter can be read after
# traceglass.shutdown().
DROPS = """
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

def dropped():
    data = reader.get_metrics_data()
    if data is None:
        return {}
    return {p.attributes["error.type"]: p.value for rm in data.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics if m.name == "traceglass.spans.dropped" for p in m.data.data_points}
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_locked_database_does_not_block_flush_past_its_timeout(tmp_path):
    db = tmp_path / "t.db"
    result = run(
        DROPS + f"""
import json, sqlite3, traceglass
traceglass.configure(db_path={str(db)!r}, instrument=[])
with traceglass.span("before"):
    pass
assert traceglass.flush(30_000) is True
holder = sqlite3.connect({str(db)!r}, isolation_level=None)
holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
with traceglass.span("while-locked"):
    pass
locked = traceglass.flush(300)
holder.execute("COMMIT")
holder.close()
with traceglass.span("after"):
    pass
print(json.dumps([locked, traceglass.flush(30_000), dropped()]))
""")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, True, {}]
    with sqlite3.connect(db) as conn:
        assert sorted(name for (name,) in conn.execute("SELECT name FROM spans")) == ["after", "before", "while-locked"]


def test_collector_down_bounds_the_queue_by_bytes_and_counts_every_span():
    result = run(
        DROPS + """
import json, traceglass
traceglass.configure(exporters=["otlp"], instrument=[], max_queue_bytes="1MB", flush_interval=0.05)
for i in range(2000):
    with traceglass.span("s") as span:
        span.set_attribute("payload", "x" * 16384)
flushed = traceglass.flush(200)
traceglass.shutdown(20_000)
print(json.dumps([flushed, dropped()]))
""",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
    )
    assert result.returncode == 0, result.stderr
    flushed, dropped = json.loads(result.stdout.splitlines()[-1])
    assert flushed is False
    assert sum(dropped.values()) == 2000  # none delivered, every one counted
    # ~18.6 KB a span: 1 MB holds 53, so shutdown finds at most 53 queued; each export waits out its timeout, so
    # most spans were refused at the door (how many batches the exporter took in the meantime depends on load).
    assert dropped.get("shutdown", 0) <= 53, dropped
    assert dropped["queue_full"] >= 1000, dropped
    assert result.stderr.count("traceglass: ") == 1  # one summary WARNING, not one per span
    assert "spans not exported (queue_full: 1) since the last report" in result.stderr


def test_an_exporter_whose_shutdown_hangs_does_not_hang_the_app():
    result = run(
        """
        import threading
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        import traceglass

        class HangsOnShutdown(SpanExporter):
            def export(self, spans):
                return SpanExportResult.SUCCESS

            def shutdown(self):
                threading.Event().wait()  # forever

        traceglass.configure(exporters=[HangsOnShutdown()], instrument=[], metrics_enabled=False)
        with traceglass.span("s"):
            pass
        traceglass.shutdown(300)
        print("returned")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["returned"]


class _Raises(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans):
        self.calls += 1
        raise OSError("disk on fire")

    def shutdown(self):
        pass


def _dropped(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    if data is None:
        return {}
    return {p.attributes["error.type"]: p.value for rm in data.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics if m.name == "traceglass.spans.dropped" for p in m.data.data_points}


def test_an_exporter_that_always_raises_never_reaches_the_app(caplog):
    exporter = _Raises()
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    processor = BatchSpanProcessor(exporter, max_export_batch_size=2, schedule_delay_millis=600_000,
                                   meter_provider=meter_provider)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with caplog.at_level(logging.WARNING, logger="traceglass"):
        for i in range(6):
            provider.get_tracer("t").start_span(f"s{i}").end()
        assert processor.force_flush(10_000) is False
        processor.shutdown(10_000)
    assert exporter.calls == 3
    assert _dropped(reader) == {"export_failed": 6}
    assert [r.getMessage() for r in caplog.records] == [  # logged once, summed up once a minute
        "traceglass: _Raises.export raised",
        "traceglass: 2 spans not exported (export_failed: 2) since the last report; the queue holds at most 65536 "
        "spans or 67108864 bytes: is the exporter's destination reachable?",
    ]
    meter_provider.shutdown()


def test_at_shutdown_a_failing_destination_is_tried_once_not_once_per_batch():
    class FailsWhenReleased(_Raises):
        def __init__(self) -> None:
            super().__init__()
            self.entered, self.release = threading.Event(), threading.Event()

        def export(self, spans):
            self.entered.set()
            self.release.wait(30)
            self.calls += 1
            return SpanExportResult.FAILURE

    exporter = FailsWhenReleased()
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    processor = BatchSpanProcessor(exporter, max_export_batch_size=1, schedule_delay_millis=600_000,
                                   meter_provider=meter_provider)
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(processor)
    tracer_provider.get_tracer("t").start_span("in-export").end()
    assert exporter.entered.wait(10)
    for name in ("queued-1", "queued-2", "queued-3"):
        tracer_provider.get_tracer("t").start_span(name).end()
    closing = threading.Thread(target=processor.shutdown, args=(30_000,))
    closing.start()
    for _ in range(2000):  # until shutdown has begun (bounded)
        if processor._shutdown:  # noqa: SLF001
            break
        time.sleep(0.005)
    exporter.release.set()
    closing.join(30)
    assert exporter.calls == 1
    assert _dropped(reader) == {"export_failed": 1, "shutdown": 3}
    meter_provider.shutdown()


def test_a_span_larger_than_the_whole_queue_is_dropped_alone():
    class Keep(SpanExporter):
        names: list[str] = []

        def export(self, spans):
            self.names.extend(s.name for s in spans)
            return SpanExportResult.SUCCESS

    exporter = Keep()
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    processor = BatchSpanProcessor(exporter, max_queue_bytes=50_000, schedule_delay_millis=600_000,
                                   meter_provider=meter_provider)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    tracer.start_span("small-1").end()
    tracer.start_span("huge", attributes={"payload": "x" * 100_000}).end()
    tracer.start_span("small-2").end()
    assert processor.force_flush(10_000) is False  # one was dropped
    assert exporter.names == ["small-1", "small-2"]
    assert _dropped(reader) == {"queue_full": 1}
    processor.shutdown()
    meter_provider.shutdown()


def test_busy_app_threads_outrunning_the_hand_off_lose_nothing_and_keep_every_roll_up():
    # Four threads end priced spans in tight loops (pure Python, never waiting), far faster than the hand-off
    # thread prices them at its share of the GIL: its queue reaches its bound, the app threads then hand on
    # the oldest spans themselves, and still every span is exported once, each chain carrying its children's sum.
    result = run(
        DROPS + textwrap.dedent("""
        import json, threading
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        import traceglass
        from traceglass import _runtime

        class Keep(SpanExporter):
            def __init__(self):
                self.spans = []
            def export(self, spans):
                self.spans.extend(spans)
                return SpanExportResult.SUCCESS

        keep = Keep()
        traceglass.configure(exporters=[keep], instrument=[], metrics_enabled=False,
                             prices={"my-model": {"input_per_1k": 0.01, "output_per_1k": 0.02}})
        (hand_off,) = _runtime.current().pipeline.fanout.processors
        hand_off._max_pending = 64  # the bound, reached within the first milliseconds
        longest = [0]
        tracer = trace.get_tracer("app")

        def app(t):
            for i in range(1500):
                with tracer.start_as_current_span(f"chain-{t}-{i}"):
                    for _ in range(2):
                        with tracer.start_as_current_span("llm") as llm:
                            llm.set_attributes({"gen_ai.request.model": "my-model", "gen_ai.usage.input_tokens": 1000,
                                                "gen_ai.usage.output_tokens": 100})
                longest[0] = max(longest[0], len(hand_off._pending))

        threads = [threading.Thread(target=app, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ok = traceglass.flush(30000)
        chains = [s for s in keep.spans if s.name.startswith("chain-")]
        print(json.dumps({"ok": ok, "spans": len(keep.spans), "chains": len({s.name for s in chains}),
                          "rollups": sorted({round(s.attributes["traceglass.rollup.cost_usd"], 9) for s in chains}),
                          "longest": longest[0], "dropped": dropped()}))
        """)
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["ok"] is True and outcome["dropped"] == {}
    assert outcome["spans"] == 4 * 1500 * 3 and outcome["chains"] == 4 * 1500
    assert outcome["rollups"] == [0.024]
    assert 64 <= outcome["longest"] <= 64 + 4  # bounded (each thread may append once past the look)
