"""Spans made by other instrumentations in the same tracer provider are priced too.

The real ``opentelemetry-instrumentation-openai-v2`` drives the real ``openai`` SDK over an
``httpx.MockTransport``; other peers' attribute shapes are checked on spans of a plain tracer.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from traceglass import observe, trace_llm

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
}
TABLE = {"gpt-4o": {"input_per_1k": 0.005, "output_per_1k": 0.015}}


@pytest.fixture
def openai_client():
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=COMPLETION)

    client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:1/v1",
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    client.requests = requests
    return client


@pytest.fixture
def official_instrumentor():
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def test_official_openai_instrumentation_spans_are_priced_and_rolled_up(
    make_pipeline, openai_client, official_instrumentor
):
    pipeline = make_pipeline(prices=TABLE)
    official_instrumentor.instrument(tracer_provider=pipeline.tracer_provider, meter_provider=pipeline.meter_provider)

    @observe(type="chain", name="answer question")
    def chain():
        return openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])

    assert chain().choices[0].message.content == "hi"
    assert len(openai_client.requests) == 1
    client_span = pipeline.span("chat gpt-4o")
    chain_span = pipeline.span("answer question")
    assert client_span["parent_id"] == chain_span["span_id"]
    assert client_span["kind"] == "CLIENT"
    assert client_span["attributes"] == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.provider.name": "openai",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        # 1200 x 0.005/1K + 300 x 0.015/1K, the response's dated model resolved to the table's gpt-4o
        "gen_ai.usage.cost": 0.0105,
        "traceglass.cost.input_usd": 0.006,
        "traceglass.cost.output_usd": 0.0045,
        "traceglass.cost.cached_input_usd": 0.0,
        "traceglass.cost.total_usd": 0.0105,
        "traceglass.cost.source": "user",
        "traceglass.rollup.input_tokens": 1200,
        "traceglass.rollup.output_tokens": 300,
        "traceglass.rollup.total_tokens": 1500,
        "traceglass.rollup.cost_usd": 0.0105,
    }
    assert chain_span["attributes"] == {
        "traceglass.span.type": "chain",
        "traceglass.rollup.input_tokens": 1200,
        "traceglass.rollup.output_tokens": 300,
        "traceglass.rollup.total_tokens": 1500,
        "traceglass.rollup.cost_usd": 0.0105,
    }
    (cost,) = pipeline.metrics()["traceglass.gen_ai.client.cost"]
    assert cost == {
        "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                       "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.provider.name": "openai"},
        "unit": "USD",
        "value": 0.0105,
    }


def test_a_trace_llm_function_around_the_official_span_is_counted_once(
    make_pipeline, openai_client, official_instrumentor
):
    pipeline = make_pipeline(prices=TABLE)
    official_instrumentor.instrument(tracer_provider=pipeline.tracer_provider, meter_provider=pipeline.meter_provider)

    @trace_llm(name="generate", model="gpt-4o")
    def generate():
        # returns the OpenAI response: the decorator picks up its usage too (two layers, one call)
        return openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    @observe(type="chain", name="run")
    def run():
        generate()
        generate()

    run()
    outer = [s for s in pipeline.spans() if s["name"] == "generate"]
    official = [s for s in pipeline.spans() if s["name"] == "chat gpt-4o"]
    # the call's cost is on the official span, whose usage counts; the decorator's span rolls it up
    assert [s["attributes"]["gen_ai.usage.cost"] for s in official] == [0.0105, 0.0105]
    assert [s["attributes"].get("gen_ai.usage.cost") for s in outer] == [None, None]
    assert [s["attributes"]["traceglass.rollup.cost_usd"] for s in outer] == [0.0105, 0.0105]
    assert pipeline.span("run")["attributes"]["traceglass.rollup.cost_usd"] == 0.021
    assert pipeline.span("run")["attributes"]["traceglass.rollup.total_tokens"] == 3000
    # the counter counts the innermost layer only: two calls, not four
    (cost,) = pipeline.metrics()["traceglass.gen_ai.client.cost"]
    assert cost["value"] == 0.021
    assert cost["attributes"]["gen_ai.response.model"] == "gpt-4o-2024-08-06"


def test_a_trace_llm_price_reaches_the_official_span_inside(make_pipeline, openai_client, official_instrumentor):
    pipeline = make_pipeline(prices=TABLE)
    official_instrumentor.instrument(tracer_provider=pipeline.tracer_provider, meter_provider=pipeline.meter_provider)

    @trace_llm(name="generate", model="gpt-4o", cost_per_1k_input=1.0, cost_per_1k_output=2.0)
    def generate():
        return openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    generate()
    # 1200 * 0.001 + 300 * 0.002, on the span whose usage counts: another instrumentation's
    official = pipeline.span("chat gpt-4o")["attributes"]
    assert {k: v for k, v in official.items() if k.startswith(("gen_ai.usage.cost", "traceglass."))} == {
        "gen_ai.usage.cost": 1.8, "traceglass.cost.input_usd": 1.2, "traceglass.cost.output_usd": 0.6,
        "traceglass.cost.cached_input_usd": 0.0, "traceglass.cost.total_usd": 1.8, "traceglass.cost.source": "span",
        "traceglass.price.input_per_token": 0.001, "traceglass.price.output_per_token": 0.002,
        "traceglass.rollup.input_tokens": 1200, "traceglass.rollup.output_tokens": 300,
        "traceglass.rollup.total_tokens": 1500, "traceglass.rollup.cost_usd": 1.8,
    }
    outer = pipeline.span("generate")["attributes"]
    assert "gen_ai.usage.cost" not in outer and outer["traceglass.rollup.cost_usd"] == 1.8


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                      "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}, id="gen_ai.system"),
        pytest.param({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                      "gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 100},
                     id="pre-1.27 token names"),
        pytest.param({"llm.provider": "openai", "llm.model_name": "gpt-4o",
                      "llm.token_count.prompt": 1000, "llm.token_count.completion": 100}, id="openinference"),
    ],
)
def test_older_and_peer_attribute_shapes_are_priced(make_pipeline, attributes):
    pipeline = make_pipeline(prices=TABLE)
    pipeline.tracer().start_span("llm", attributes=attributes).end()
    exported = pipeline.span("llm")["attributes"]
    assert exported == {
        **attributes,
        "gen_ai.usage.cost": 0.0065,
        "traceglass.cost.input_usd": 0.005,
        "traceglass.cost.output_usd": 0.0015,
        "traceglass.cost.cached_input_usd": 0.0,
        "traceglass.cost.total_usd": 0.0065,
        "traceglass.cost.source": "user",
        "traceglass.rollup.input_tokens": 1000,
        "traceglass.rollup.output_tokens": 100,
        "traceglass.rollup.total_tokens": 1100,
        "traceglass.rollup.cost_usd": 0.0065,
    }
