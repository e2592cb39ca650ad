"""LiteLLM's Anthropic route (its own HTTP client, no SDK) against the local Anthropic fake:
provider ``anthropic``, cache reads and writes, priced by genai-prices at the cache rates."""

from __future__ import annotations

import litellm
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.anthropic._fake_api import LocalAnthropicServer
from traceglass.processors.cost import CostSpanProcessor

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def anthropic_server():
    with LocalAnthropicServer() as running:
        yield running


@pytest.fixture
def priced(instrument):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(exporter)))
    instrument(tracer_provider=provider)
    yield exporter
    provider.shutdown()


def attributes(server, **extra):
    return {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "server.address": "127.0.0.1",
        "server.port": server._server.server_address[1],
        "gen_ai.request.max_tokens": 100,
        "gen_ai.response.finish_reasons": ("stop",),
        # 25 fresh + 300 cache reads + 40 cache writes: input counts all three, as the spec says
        "gen_ai.usage.input_tokens": 365,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 300,
        "gen_ai.usage.cache_creation.input_tokens": 40,
        "gen_ai.usage.reasoning.output_tokens": 0,
        **extra,
    }


@pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_anthropic_route_is_priced_at_the_cache_rates(priced, anthropic_server, is_async, stream):
    kwargs = {"model": "anthropic/claude-sonnet-4-5", "messages": MESSAGES, "max_tokens": 100,
              "api_base": anthropic_server.base_url, "api_key": "sk-ant-SECRET", "stream": stream}
    result = await litellm.acompletion(**kwargs) if is_async else litellm.completion(**kwargs)
    if stream:
        chunks = [c async for c in result] if is_async else list(result)
        assert all(len(c.choices) == 1 for c in chunks)  # the usage chunk we asked for stays hidden
        assert anthropic_server.bodies[-1]["stream"] is True
    (span,) = priced.get_finished_spans()
    got = dict(span.attributes)
    response_id = got.pop("gen_ai.response.id")
    assert response_id.startswith("chatcmpl-")  # LiteLLM's own id for an Anthropic message
    if stream:
        assert got.pop("gen_ai.response.time_to_first_chunk") > 0
    # Sonnet 4.5: 25 fresh at $3/M, 300 cache reads at $0.30/M, 40 cache writes at $3.75/M, 12 out at $15/M.
    cost = got.pop("gen_ai.usage.cost")
    assert cost == pytest.approx(495e-6)
    assert got.pop("traceglass.cost.total_usd") == cost
    for key in [k for k in got if k.startswith(("traceglass.cost.", "traceglass.rollup."))
                and k != "traceglass.cost.provider_reported_usd"]:
        got.pop(key)
    extra = {"gen_ai.request.stream": True} if stream else {}
    model = "claude-sonnet-4-5" if stream else "claude-sonnet-4-5-20250929"
    assert got == attributes(anthropic_server, **extra, **{
        "gen_ai.response.model": model,
        "traceglass.cost.provider_reported_usd": pytest.approx(495e-6),  # LiteLLM agrees here
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages": got["gen_ai.output.messages"],
    })
    assert got["gen_ai.output.messages"].startswith('[{"role":"assistant","parts":[{"type":"text"')


@pytest.mark.parametrize(("model", "error_type"), [("error-429", "429"), ("error-500", "500")])
def test_anthropic_errors(instrumented, anthropic_server, captured, model, error_type):
    with pytest.raises(litellm.InternalServerError if error_type == "500" else litellm.RateLimitError):
        litellm.completion(model=f"anthropic/{model}", messages=MESSAGES, max_tokens=10, max_retries=0,
                           api_base=anthropic_server.base_url, api_key="sk-ant-x")
    (span,) = captured.spans()
    assert (span["status"], span["attributes"]["error.type"], span["attributes"]["gen_ai.provider.name"]) == (
        "ERROR", error_type, "anthropic")


def test_malformed_body_fails_the_span(instrumented, anthropic_server, captured):
    with pytest.raises(Exception) as raised:  # noqa: PT011 - whichever class LiteLLM maps it to
        litellm.completion(model="anthropic/malformed", messages=MESSAGES, max_tokens=10, max_retries=0,
                           api_base=anthropic_server.base_url, api_key="sk-ant-x")
    (span,) = captured.spans()
    assert span["status"] == "ERROR"
    status = getattr(raised.value, "status_code", None)
    assert span["attributes"]["error.type"] == (str(status) if isinstance(status, int)
                                                else type(raised.value).__qualname__)
