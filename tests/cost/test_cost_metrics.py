"""GenAI metrics read back with an in-memory reader: the cost counter, token usage and duration."""

from __future__ import annotations

import pytest

from traceglass import (
    LlmAttributes,
    observe,
    session,
    trace_llm,
    update_current_span_attributes,
)
from traceglass._handler import EmbeddingInvocation, LLMInvocation
from traceglass._runtime import get_handler
from traceglass.testing import capture

TABLE = {
    "gpt-4o": {"input_per_1k": 0.005, "output_per_1k": 0.015},
    "gpt-4o-mini": {"input_per_1k": 0.00015, "output_per_1k": 0.0006},
}
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]


def _call(model, tokens_in, tokens_out, name="call"):
    @trace_llm(name=name, model=model)
    def call():
        update_current_span_attributes(
            LlmAttributes(input="q", output="a", input_token_count=tokens_in, output_token_count=tokens_out)
        )

    call()


def test_cost_counter_sums_per_model(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)
    _call("gpt-4o", 1000, 100)
    _call("gpt-4o", 2000, 200)
    _call("gpt-4o-mini", 10000, 1000)
    points = sorted(pipeline.metrics()["traceglass.gen_ai.client.cost"], key=lambda p: p["attributes"]["gen_ai.request.model"])
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}
    assert points == [
        # (1000 + 2000) x 0.005/1K + (100 + 200) x 0.015/1K
        {"attributes": {**base, "gen_ai.request.model": "gpt-4o"}, "unit": "USD", "value": pytest.approx(0.0195, rel=1e-12)},
        # 10000 x 0.00015/1K + 1000 x 0.0006/1K
        {"attributes": {**base, "gen_ai.request.model": "gpt-4o-mini"}, "unit": "USD", "value": pytest.approx(0.0021, rel=1e-12)},
    ]


def test_user_and_session_are_opt_in_on_the_counter(make_pipeline):
    plain = make_pipeline(prices=TABLE)
    with session("s-1", user_id="u-1"):
        _call("gpt-4o", 1000, 0)
    (point,) = plain.metrics()["traceglass.gen_ai.client.cost"]
    assert "user.id" not in point["attributes"] and "session.id" not in point["attributes"]

    opted_in = make_pipeline(prices=TABLE, metric_user_attributes=True)
    with session("s-1", user_id="u-1"):
        _call("gpt-4o", 1000, 0)
    (point,) = opted_in.metrics()["traceglass.gen_ai.client.cost"]
    assert point["attributes"] == {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                   "gen_ai.provider.name": "openai", "user.id": "u-1", "session.id": "s-1"}
    assert point["value"] == 0.005


def test_no_cost_counted_for_a_layer_above_a_reported_call(make_pipeline):
    pipeline = make_pipeline(prices=TABLE)

    @trace_llm(name="outer", model="gpt-4o")
    def outer():
        _call("gpt-4o", 1000, 100, name="inner")
        update_current_span_attributes(LlmAttributes(input="q", output="a", input_token_count=1000,
                                                     output_token_count=100))

    @observe(type="chain", name="chain")
    def chain():
        outer()

    chain()
    (point,) = pipeline.metrics()["traceglass.gen_ai.client.cost"]
    assert point["value"] == 0.0065  # once, not twice


# --- the handler's spec metrics (recorded for traceglass's own spans) -----------------------------
def test_token_usage_histogram_values_buckets_and_unit():
    with capture(capture_content=False) as captured:
        _call("gpt-4o", 1000, 100)
        _call("gpt-4o", 5, 70000)
    points = sorted(captured.metrics()["gen_ai.client.token.usage"], key=lambda p: p["attributes"]["gen_ai.token.type"])
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    # buckets: (-inf,1] (1,4] (4,16] (16,64] (64,256] (256,1024] (1024,4096] ... (65536,262144] ...
    assert points == [
        {"attributes": {**base, "gen_ai.token.type": "input"}, "unit": "{token}", "sum": 1005, "count": 2,
         "bucket_counts": [0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], "explicit_bounds": TOKEN_BUCKETS},
        {"attributes": {**base, "gen_ai.token.type": "output"}, "unit": "{token}", "sum": 70100, "count": 2,
         "bucket_counts": [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], "explicit_bounds": TOKEN_BUCKETS},
    ]


def test_duration_histogram_exact_seconds_buckets_and_error_type():
    with capture(capture_content=False) as captured:
        handler = get_handler()
        ok = LLMInvocation(operation="chat", provider="openai", request_model="gpt-4o", response_model="gpt-4o-2024-08-06",
                           input_tokens=10, output_tokens=2)
        handler.start(ok, start_time_ns=1_000_000_000, activate=False)
        handler.stop(ok, end_time_ns=1_250_000_000)  # 0.25 s
        failed = LLMInvocation(operation="chat", provider="openai", request_model="gpt-4o")
        handler.start(failed, start_time_ns=2_000_000_000, activate=False)
        handler.fail(failed, TimeoutError("slow"), end_time_ns=5_000_000_000)  # 3 s
        embedding = EmbeddingInvocation(operation="embeddings", provider="openai",
                                        request_model="text-embedding-3-small", input_tokens=8)
        handler.start(embedding, start_time_ns=3_000_000_000, activate=False)
        handler.stop(embedding, end_time_ns=3_010_000_000)  # 0.01 s, on the first boundary
    metrics = captured.metrics()
    durations = {(p["attributes"]["gen_ai.request.model"], p["attributes"].get("error.type")): p
                 for p in metrics["gen_ai.client.operation.duration"]}
    assert durations[("gpt-4o", None)] == {
        "attributes": {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                       "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06"},
        "unit": "s", "sum": 0.25, "count": 1,
        "bucket_counts": [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], "explicit_bounds": DURATION_BUCKETS,
    }
    assert durations[("gpt-4o", "TimeoutError")] == {
        "attributes": {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                       "gen_ai.request.model": "gpt-4o", "error.type": "TimeoutError"},
        "unit": "s", "sum": 3.0, "count": 1,
        "bucket_counts": [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], "explicit_bounds": DURATION_BUCKETS,
    }
    embedding_point = durations[("text-embedding-3-small", None)]
    assert (embedding_point["sum"], embedding_point["bucket_counts"][0]) == (0.01, 1)
    # token usage: the failed call reports none; the embedding reports input tokens only
    tokens = sorted((p["attributes"]["gen_ai.request.model"], p["attributes"]["gen_ai.token.type"], p["sum"])
                    for p in metrics["gen_ai.client.token.usage"])
    assert tokens == [("gpt-4o", "input", 10), ("gpt-4o", "output", 2), ("text-embedding-3-small", "input", 8)]


def test_two_cost_processors_on_one_provider_count_a_call_once():
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from traceglass.processors.cost import CostSpanProcessor
    from traceglass.testing import Captured

    # e.g. opentelemetry-instrument's pipeline plus configure()'s, both on the same provider
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    exporters = [InMemorySpanExporter(), InMemorySpanExporter()]
    provider = TracerProvider()
    for exporter in exporters:
        provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(exporter), prices=TABLE,
                                                      meter_provider=meter_provider))
    provider.get_tracer("t").start_span("chat", attributes={
        "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 0}).end()
    assert [e.get_finished_spans()[0].attributes["traceglass.cost.total_usd"] for e in exporters] == [0.005, 0.005]
    captured = Captured(exporters[0], reader, provider, meter_provider)
    (point,) = captured.metrics()["traceglass.gen_ai.client.cost"]
    assert point["value"] == 0.005


def test_cost_counter_labels_a_span_of_another_dialect_with_its_model_and_provider(make_pipeline):
    """An OpenInference span (llm.model_name, llm.provider, llm.token_count.*) is priced through the one
    span-usage reader; its cost point carries that model and provider, not an unlabelled one."""
    pipeline = make_pipeline(prices=TABLE)
    tracer = pipeline.tracer_provider.get_tracer("openinference.instrumentation.openai")
    with tracer.start_as_current_span("ChatCompletion", attributes={
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
        "llm.token_count.prompt": 10000, "llm.token_count.completion": 1000,
    }):
        pass
    (point,) = pipeline.metrics()["traceglass.gen_ai.client.cost"]
    assert point == {"attributes": {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"},
                     "unit": "USD", "value": pytest.approx(0.0021, rel=1e-12)}
