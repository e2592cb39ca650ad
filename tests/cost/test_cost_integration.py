"""configure() and opentelemetry-instrument price spans, in real subprocesses (process-wide providers)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass.distro import (
    TraceglassConfigurator,
    TraceglassDistro,
    _SharedCostPipeline,
)
from traceglass.processors.cost import CostSpanProcessor

BIN = pathlib.Path(sys.executable).parent
OPENAI_APP = """
import httpx, openai
from opentelemetry import trace

COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                        "prompt_tokens_details": {"cached_tokens": 1000}}}
client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:1/v1",
                       http_client=httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=COMPLETION))))
with trace.get_tracer("app").start_as_current_span("job"):
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
"""


def _environment(**env: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACEGLASS_"))}
    environment.pop("PYTHONPATH", None)
    environment["TRACEGLASS_RAISE_INTERNAL_ERRORS"] = "1"
    environment.update(env)
    return environment


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=_environment(**env), check=False)


def run_script(script: str, **env: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", textwrap.dedent(script)], **env)


def console_spans(stdout: str) -> dict[str, dict]:
    """The spans ConsoleSpanExporter printed (one JSON document per span), by name.

    The console metric exporter prints documents too; those have no span context.
    """
    decoder = json.JSONDecoder()
    spans, index = {}, 0
    while (start := stdout.find("{", index)) >= 0:
        document, index = decoder.raw_decode(stdout, start)
        if "context" in document:
            spans[document["name"]] = document
    return spans


# --- opentelemetry-instrument ---------------------------------------------------------------
def test_opentelemetry_instrument_prices_the_official_openai_spans(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(OPENAI_APP)
    prices = tmp_path / "prices.yaml"
    prices.write_text("gpt-4o:\n  input_per_1k: 0.005\n  output_per_1k: 0.015\n  cached_input_per_1k: 0.0025\n")
    result = run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(app)],
        OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="traceglass_openai,traceglass_langchain",
        TRACEGLASS_PRICES=str(prices),
    )
    assert result.returncode == 0, result.stderr
    spans = console_spans(result.stdout)
    assert sorted(spans) == ["chat gpt-4o", "job"]
    chat = spans["chat gpt-4o"]["attributes"]
    assert chat["gen_ai.usage.input_tokens"] == 1200 and chat["gen_ai.usage.output_tokens"] == 300
    # newer releases of the official instrumentation also report the 1000 cached tokens
    cached = chat.get("gen_ai.usage.cache_read.input_tokens", 0)
    input_usd = round((1200 - cached) * 0.005 / 1000 + cached * 0.0025 / 1000, 12)
    expected = {
        "gen_ai.usage.cost": round(input_usd + 0.0045, 12),
        "traceglass.cost.input_usd": input_usd,
        "traceglass.cost.output_usd": 0.0045,
        "traceglass.cost.cached_input_usd": round(cached * 0.0025 / 1000, 12),
        "traceglass.cost.total_usd": round(input_usd + 0.0045, 12),
        "traceglass.cost.source": "user",
        "traceglass.rollup.input_tokens": 1200,
        "traceglass.rollup.output_tokens": 300,
        "traceglass.rollup.total_tokens": 1500,
        "traceglass.rollup.cost_usd": round(input_usd + 0.0045, 12),
    }
    assert {k: chat[k] for k in expected} == expected
    assert spans["job"]["attributes"] == {k: v for k, v in expected.items() if k.startswith("traceglass.rollup.")}
    assert spans["chat gpt-4o"]["parent_id"] == spans["job"]["context"]["span_id"]


def test_shared_pipeline_puts_every_exporter_behind_one_cost_processor():
    make = _SharedCostPipeline({"m": {"input_per_1k": 1, "output_per_1k": 2}})
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    hand_off = make(first)
    nothing = make(second)
    (cost,) = hand_off.downstream  # the cost processor runs on the hand-off's thread, off the traced call
    assert isinstance(cost, CostSpanProcessor) and len(cost.downstream) == 2
    provider = TracerProvider()
    provider.add_span_processor(hand_off)
    provider.add_span_processor(nothing)
    provider.get_tracer("t").start_span("llm", attributes={
        "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 1000}).end()
    assert provider.force_flush()
    for exporter in (first, second):
        (span,) = exporter.get_finished_spans()
        assert span.attributes["traceglass.cost.total_usd"] == 3.0
    provider.shutdown()


def test_distro_defaults_choose_our_configurator(monkeypatch):
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
                 "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_PYTHON_CONFIGURATOR"):
        monkeypatch.setenv(name, "")  # recorded, so the distro's defaults are undone after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    TraceglassDistro().configure()
    assert os.environ["OTEL_TRACES_EXPORTER"] == "console"  # the user's choice stays
    # No OTLP for traces: no collector to send metrics or logs to either.
    assert (os.environ["OTEL_METRICS_EXPORTER"], os.environ["OTEL_LOGS_EXPORTER"]) == ("none", "none")
    assert os.environ["OTEL_PYTHON_CONFIGURATOR"] == "traceglass"
    assert issubclass(TraceglassConfigurator, __import__("opentelemetry.sdk._configuration",
                                                         fromlist=["_OTelSDKConfigurator"])._OTelSDKConfigurator)


# --- configure() ----------------------------------------------------------------------------
CONFIGURED_APP = """
import json, traceglass
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from traceglass import LlmAttributes, observe, trace_llm, update_current_span_attributes

reader = InMemoryMetricReader()
traceglass.configure(exporters=["console"], instrument=[], capture_content=False, metric_readers=[reader], {extra})

@trace_llm(name="answer", model="my-model")
def answer():
    update_current_span_attributes(LlmAttributes(input="q", output="a", input_token_count=1000, output_token_count=100))

@observe(type="chain", name="chain")
def chain():
    answer()
    answer()

chain()
traceglass.flush()
costs = [(m.name, m.unit, [(dict(p.attributes), p.value) for p in m.data.data_points])
         for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics
         if m.name == "traceglass.gen_ai.client.cost"]
print("METRICS" + json.dumps(costs))
"""


def _configured(extra: str = "", **env: str):
    result = run_script(CONFIGURED_APP.replace("{extra}", extra), **env)
    assert result.returncode == 0, result.stderr
    spans_text, _, rest = result.stdout.partition("METRICS")
    metrics_text = rest.splitlines()[0]
    return console_spans(spans_text), json.loads(metrics_text), result.stderr


def test_configure_prices_with_the_given_table_and_counts_cost():
    spans, metrics, _ = _configured('prices={"my-model": {"input_per_1k": 0.01, "output_per_1k": 0.02}}')
    answer = spans["answer"]["attributes"]
    assert {k: v for k, v in answer.items() if "cost" in k} == {
        "gen_ai.usage.cost": 0.012,
        "traceglass.cost.input_usd": 0.01,
        "traceglass.cost.output_usd": 0.002,
        "traceglass.cost.cached_input_usd": 0.0,
        "traceglass.cost.total_usd": 0.012,
        "traceglass.cost.source": "user",
        "traceglass.rollup.cost_usd": 0.012,
    }
    assert spans["chain"]["attributes"] == {
        "traceglass.span.type": "chain",
        "traceglass.rollup.input_tokens": 2000,
        "traceglass.rollup.output_tokens": 200,
        "traceglass.rollup.total_tokens": 2200,
        "traceglass.rollup.cost_usd": 0.024,
    }
    assert metrics == [["traceglass.gen_ai.client.cost", "USD",
                        [[{"gen_ai.operation.name": "chat", "gen_ai.request.model": "my-model"}, 0.024]]]]


def test_configure_reads_traceglass_prices_and_cost_can_be_turned_off():
    spans, _, _ = _configured(TRACEGLASS_PRICES='{"my-model": {"input_per_1k": 0.01, "output_per_1k": 0.02}}')
    assert spans["answer"]["attributes"]["traceglass.cost.total_usd"] == 0.012
    spans, metrics, _ = _configured("cost=False", TRACEGLASS_PRICES='{"my-model": {"input_per_1k": 0.01}}')
    assert not any("cost" in k or "rollup" in k for k in spans["answer"]["attributes"])
    assert metrics == []


def test_a_bad_traceglass_prices_warns_and_a_bad_argument_raises():
    spans, _, stderr = _configured(TRACEGLASS_PRICES='{"my-model": {"input_per_1K": 0.01}}')
    assert ("ignoring TRACEGLASS_PRICES='{\"my-model\": {\"input_per_1K\": 0.01}}': prices['my-model']: "
            "unknown key(s) ['input_per_1K']") in stderr
    assert "pricing with genai-prices only" in stderr
    assert stderr.count("ignoring TRACEGLASS_PRICES") == 1  # warned once, read in one place
    assert spans["answer"]["attributes"]["gen_ai.usage.input_tokens"] == 1000  # still traced
    result = run_script("""
        import traceglass
        try:
            traceglass.configure(exporters=[], instrument=[], prices={"gpt-4o": {"input_per_1k": -1}})
        except ValueError as exc:
            print("REFUSED", exc)
    """)
    assert "REFUSED prices['gpt-4o']['input_per_1k'] must be a non-negative number" in result.stdout, result.stderr
