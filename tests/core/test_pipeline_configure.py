"""The pipeline configure() builds: hand-over on reconfigure, a truthful bounded flush, metrics after shutdown.

Each that calls configure() runs in a subprocess: configure() sets the process-wide providers.
"""

from __future__ import annotations

import json

import pytest

from .test_configure import run


def _last_json(stdout: str):
    return json.loads(stdout.strip().splitlines()[-1])


def test_reconfigure_while_threads_emit_exports_every_span_exactly_once():
    result = run(
        """
        import json, threading, time
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import traceglass

        exporters = []

        def reconfigure():
            exporters.append(InMemorySpanExporter())
            traceglass.configure(exporters=[exporters[-1]], instrument=[], flush_at=64, flush_interval=0.05)

        reconfigure()
        stop = threading.Event()
        ended = [[] for _ in range(4)]

        def emit(out):
            while not stop.is_set() and len(out) < 50_000:
                with traceglass.span("outer"):
                    out.append(trace.get_current_span().get_span_context().span_id)
                    with traceglass.span("inner"):  # spans start under one pipeline, end under the next
                        out.append(trace.get_current_span().get_span_context().span_id)

        threads = [threading.Thread(target=emit, args=(out,)) for out in ended]
        for thread in threads:
            thread.start()
        for _ in range(60):
            time.sleep(0.005)
            reconfigure()
        stop.set()
        for thread in threads:
            thread.join(60)
        assert traceglass.flush(30_000) is True
        exported = [s.context.span_id for e in exporters for s in e.get_finished_spans()]
        emitted = [span_id for out in ended for span_id in out]
        print(json.dumps({"exporters_used": sum(1 for e in exporters if e.get_finished_spans()),
                          "missing": len(set(emitted) - set(exported)), "duplicates": len(exported) - len(set(exported)),
                          "unknown": len(set(exported) - set(emitted)), "enough": len(emitted) > 1000}))
        """
    )
    assert result.returncode == 0, result.stderr
    outcome = _last_json(result.stdout)
    assert outcome["exporters_used"] > 1  # the hand-over happened while spans were flowing
    assert {k: v for k, v in outcome.items() if k != "exporters_used"} == {
        "missing": 0, "duplicates": 0, "unknown": 0, "enough": True}


def test_metrics_are_recorded_after_shutdown_and_configure_again():
    result = run(
        """
        import json
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import traceglass
        from traceglass import LlmAttributes, trace_llm, update_current_span_attributes

        PRICES = {"my-model": {"input_per_1k": 0.01, "output_per_1k": 0.02}}

        @trace_llm(name="answer", model="my-model")
        def answer():
            update_current_span_attributes(LlmAttributes(input="q", output="a", input_token_count=1000,
                                                      output_token_count=100))

        def points(reader):
            data = reader.get_metrics_data()
            return sorted((m.name, p.attributes.get("gen_ai.token.type"), getattr(p, "sum", getattr(p, "value", None)))
                          for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                          for p in m.data.data_points if m.name != "gen_ai.client.operation.duration")

        first = InMemoryMetricReader()
        traceglass.configure(exporters=["none"], instrument=[], prices=PRICES, metric_readers=[first])
        answer()
        assert traceglass.flush() is True  # the cost counter counts as the span is handed on, off this thread
        before = points(first)
        traceglass.shutdown()
        second = InMemoryMetricReader()
        traceglass.configure(exporters=["none"], instrument=[], prices=PRICES, metric_readers=[second])
        answer()
        answer()
        assert traceglass.flush() is True
        print(json.dumps([before, points(second)]))
        """
    )
    assert result.returncode == 0, result.stderr
    before, after = _last_json(result.stdout)
    assert before == [["gen_ai.client.token.usage", "input", 1000], ["gen_ai.client.token.usage", "output", 100],
                      ["traceglass.gen_ai.client.cost", None, 0.012]]
    assert after == [["gen_ai.client.token.usage", "input", 2000], ["gen_ai.client.token.usage", "output", 200],
                     ["traceglass.gen_ai.client.cost", None, 0.024]]


def test_openai_metrics_follow_the_new_meter_provider_after_shutdown():
    from tests.openai._fake_api import LocalOpenAIServer

    with LocalOpenAIServer() as server:
        result = run(
            """
            import json, openai
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader
            import traceglass

            def call():
                openai.OpenAI(max_retries=0).chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

            def tokens(reader):
                data = reader.get_metrics_data()
                return sorted((p.attributes["gen_ai.token.type"], p.sum) for rm in data.resource_metrics
                              for sm in rm.scope_metrics for m in sm.metrics if m.name == "gen_ai.client.token.usage"
                              for p in m.data.data_points)

            first = InMemoryMetricReader()
            traceglass.configure(exporters=["none"], instrument=["openai"], metric_readers=[first])
            call()
            traceglass.shutdown()
            second = InMemoryMetricReader()
            traceglass.configure(exporters=["none"], instrument=["openai"], metric_readers=[second])
            call()
            print(json.dumps([tokens(first), tokens(second)]))
            """,
            OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test",
        )
    assert result.returncode == 0, result.stderr
    assert _last_json(result.stdout) == [[["input", 20], ["output", 5]], [["input", 20], ["output", 5]]]


def test_new_metric_readers_while_a_meter_provider_is_live_are_reported():
    result = run(
        """
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import traceglass
        traceglass.configure(exporters=["none"], instrument=[], metric_readers=[InMemoryMetricReader()])
        traceglass.configure(exporters=["none"], instrument=[], metric_readers=[InMemoryMetricReader()])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "traceglass: metric_readers ignored: configure() already set up a meter provider; call traceglass.shutdown() "
        "first to start a new one"]


FLUSH_WITH_A_STUCK_EXPORTER = """
import threading
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
import traceglass

release = threading.Event()
exported = []

class Stuck(SpanExporter):
    def export(self, spans):
        release.wait(30)  # a destination that does not answer
        exported.extend(s.name for s in spans)
        return SpanExportResult.SUCCESS

traceglass.configure(exporters=[Stuck()], instrument=[], metrics_enabled=False)
with traceglass.span("s"):
    pass
print("while stuck:", traceglass.flush(200), exported)
release.set()
print("released:", traceglass.flush(30_000), exported)
traceglass.shutdown()
"""


def test_flush_returns_false_by_its_timeout_while_the_exporter_is_stuck():
    result = run(FLUSH_WITH_A_STUCK_EXPORTER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["while stuck: False []", "released: True ['s']"]


def test_flush_is_false_when_the_collector_is_down():
    result = run(
        """
        import traceglass
        traceglass.configure(exporters=["otlp"], instrument=[], metrics_enabled=False)
        with traceglass.span("s"):
            pass
        print(traceglass.flush(500))
        traceglass.shutdown(500)  # the OTLP exporter's retries are cut short
        """,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["False"]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("argument", "env", "expected"),
    [
        ("", "", "67108864"),
        ('max_queue_bytes="1MB"', "", "1000000"),
        ("max_queue_bytes=4096", "2MiB", "4096"),  # the argument wins
        ("", "2MiB", "2097152"),
        ("", "lots", "67108864"),  # a bad environment value warns and falls back
    ],
)
def test_max_queue_bytes_reaches_the_batch_processor(argument, env, expected):
    result = run(
        f"""
        import traceglass
        from traceglass import _runtime
        traceglass.configure(exporters=["console"], instrument=[], cost=False, {argument})
        (hand_off,) = _runtime.current().pipeline.fanout.processors
        (processor,) = hand_off.downstream
        print(processor._max_bytes)
        """,
        **({"TRACEGLASS_MAX_QUEUE_BYTES": env} if env else {}),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected]
    if env == "lots":
        assert "ignoring TRACEGLASS_MAX_QUEUE_BYTES='lots'" in result.stderr


@pytest.mark.parametrize("value", ["0", "-1", '"lots"', "True", "1.5"])
def test_bad_max_queue_bytes_argument_raises(value):
    result = run(
        f"""
        import traceglass
        try:
            traceglass.configure(instrument=[], max_queue_bytes={value})
        except ValueError as exc:
            print("ValueError:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ValueError:"), result.stdout


def test_flush_also_flushes_the_applications_own_processors():
    result = run(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        app_exporter = InMemorySpanExporter()
        app_provider = TracerProvider()
        app_provider.add_span_processor(BatchSpanProcessor(app_exporter, schedule_delay_millis=600_000))
        trace.set_tracer_provider(app_provider)

        import traceglass
        traceglass.configure(exporters=["none"], instrument=[], metrics_enabled=False)
        with traceglass.span("ours"):
            pass
        print(traceglass.flush(10_000), [s.name for s in app_exporter.get_finished_spans()])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True ['ours']"]


def test_reconfigure_with_other_settings_reaches_the_instrumentors_and_decorators():
    # The handlers hold a settings snapshot: configure() again with other settings but the same
    # providers must still reach the OpenAI instrumentor it turned on (instrumented anew).
    from tests.openai._fake_api import LocalOpenAIServer

    with LocalOpenAIServer() as server:
        result = run(
            """
            import json, openai
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
            import traceglass

            @traceglass.observe(type="tool")
            def tool(x):
                return x

            def content_keys(capture_content):
                exporter = InMemorySpanExporter()
                traceglass.configure(exporters=[exporter], instrument=["openai"], cost=False,
                                     capture_content=capture_content)
                openai.OpenAI(max_retries=0).chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
                tool(1)
                traceglass.flush()
                return {s.name: sorted(k for k in s.attributes if "message" in k or k.startswith("gen_ai.tool.call"))
                        for s in exporter.get_finished_spans()}

            print(json.dumps([content_keys(True), content_keys(False), content_keys(True)]))
            """,
            OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY="sk-test",
        )
    assert result.returncode == 0, result.stderr
    on = {"chat gpt-4o-mini": ["gen_ai.input.messages", "gen_ai.output.messages"],
          "tool": ["gen_ai.tool.call.arguments", "gen_ai.tool.call.result"]}
    assert _last_json(result.stdout) == [on, {"chat gpt-4o-mini": [], "tool": []}, on]


def test_a_span_handed_off_while_the_fan_out_is_replaced_goes_to_the_new_processors_only():
    from collections import deque

    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

    from traceglass.processors._fanout import FanOutSpanProcessor

    class Recording(SpanProcessor):
        def __init__(self):
            self.ended = []

        def on_end(self, span):
            self.ended.append(span.name)

    old, new = Recording(), Recording()
    fan_out = FanOutSpanProcessor([old])
    handed_back = []

    class SwapFirst(deque):  # the replace lands between the hand-off's read of the processors and its count
        def append(self, item):
            if not handed_back:
                handed_back.append(fan_out.replace([new]))
            super().append(item)

    fan_out._current.in_flight = SwapFirst()
    fan_out.on_end(ReadableSpan(name="racing"))
    assert handed_back == [(old,)]  # handed back at once: nothing was counted on it yet
    assert (old.ended, new.ended) == ([], ["racing"])  # so the span must not reach it
