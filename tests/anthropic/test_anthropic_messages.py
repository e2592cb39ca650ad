"""messages.create without streaming: exact attributes, content on/off, tool loops, errors, cost, platforms."""

from __future__ import annotations

import json

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceglass.processors.cost import CostSpanProcessor
from traceglass.testing import capture

from .conftest import API_KEY, HTTPX, call
from ._fake_api import mock_transport

HI = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [{"name": "get_weather", "description": "Weather for a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
TOOLS_JSON = ('[{"type":"function","name":"get_weather","description":"Weather for a city",'
              '"parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]')
TEXT_OUTPUT_JSON = '[{"role":"assistant","parts":[{"type":"text","content":"Hello there!"}],"finish_reason":"stop"}]'
TOOL_OUTPUT_JSON = ('[{"role":"assistant","parts":[{"type":"text","content":"Let me check."},'
                    '{"type":"tool_call","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather",'
                    '"arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]')


def base_attributes(model: str = "claude-sonnet-4-5", max_tokens: int = 256) -> dict:
    return {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": max_tokens,
        "server.address": "api.anthropic.com",
        "server.port": 443,
    }


def response_attributes(stop_reason: str = "end_turn", model: str = "claude-sonnet-4-5-20250929") -> dict:
    # The fake's usage: 25 uncached + 300 cache read + 40 cache write input tokens, 12 output.
    return {
        "gen_ai.response.id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "gen_ai.response.model": model,
        "gen_ai.response.finish_reasons": (stop_reason,),
        "gen_ai.usage.input_tokens": 365,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 300,
        "gen_ai.usage.cache_creation.input_tokens": 40,
        "anthropic.response.service_tier": "standard",
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
async def test_create(instrumented, make_client, is_async, content, tools):
    client = make_client(is_async)
    kwargs = {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": HI, "system": "You are terse."}
    if tools:
        kwargs["tools"] = TOOLS
    with capture(capture_content=content) as captured:
        response = await call(client, client.messages.create, **kwargs)
    assert response.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    [span] = captured.spans()
    assert span["name"] == "chat claude-sonnet-4-5"
    expected = {**base_attributes(), **response_attributes("tool_use" if tools else "end_turn")}
    if content:
        expected["gen_ai.system_instructions"] = '[{"type":"text","content":"You are terse."}]'
        expected["gen_ai.input.messages"] = ('[{"role":"user","parts":[{"type":"text",'
                                             '"content":"Weather in Paris?"}]}]')
        expected["gen_ai.output.messages"] = TOOL_OUTPUT_JSON if tools else TEXT_OUTPUT_JSON
        if tools:
            expected["gen_ai.tool.definitions"] = TOOLS_JSON
    assert span["attributes"] == expected
    assert (span["kind"], span["status"], span["parent_id"]) == ("CLIENT", "UNSET", None)


async def test_request_parameters_and_thinking(instrumented, make_client, captured):
    client = make_client()
    # anthropic 2.x takes sampling parameters in extra_body only (older releases as keywords too).
    client.messages.create(model="claude-sonnet-4-5", max_tokens=2048, messages=HI,
                           extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40}, stop_sequences=["END", "STOP"],
                           thinking={"type": "enabled", "budget_tokens": 1024},
                           system=[{"type": "text", "text": "Be terse."},
                                   {"type": "text", "text": "Cite.", "cache_control": {"type": "ephemeral"}}])
    [span] = captured.spans()
    assert span["attributes"] == {
        **base_attributes(max_tokens=2048),
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40.0,
        "gen_ai.request.stop_sequences": ("END", "STOP"),
        "anthropic.thinking.type": "enabled",
        "anthropic.thinking.budget_tokens": 1024,
        **response_attributes(),
        "gen_ai.system_instructions": '[{"type":"text","content":"Be terse."},{"type":"text","content":"Cite."}]',
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]',
        "gen_ai.output.messages": ('[{"role":"assistant","parts":[{"type":"reasoning",'
                                   '"content":"The user greets me; greet back."},{"type":"text",'
                                   '"content":"Hello there!"}],"finish_reason":"stop"}]'),
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_tool_loop_messages_as_parts(instrumented, make_client, captured, is_async):
    """A second turn sends back the first answer (SDK objects), the tool's result, an image and a document."""
    client = make_client(is_async)
    first = await call(client, client.messages.create, model="claude-sonnet-4-5", max_tokens=256, messages=HI,
                       tools=TOOLS, thinking={"type": "enabled", "budget_tokens": 1024})
    tool_use = next(b for b in first.content if b.type == "tool_use")
    history = [
        *HI,
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_use.id, "content": [{"type": "text", "text": "18C"}]},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "sunny", "is_error": False},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/paris.png"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                            "data": "JVBERi0xLjQ="}},
            {"type": "document", "source": {"type": "file", "file_id": "file_011"}},
        ]},
    ]
    await call(client, client.messages.create, model="claude-sonnet-4-5", max_tokens=256, messages=history)
    first_span, second_span = captured.spans()
    assert json.loads(first_span["attributes"]["gen_ai.output.messages"])[0]["parts"][0] == {
        "type": "reasoning", "content": "The user greets me; greet back."}
    assert json.loads(second_span["attributes"]["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [
            {"type": "reasoning", "content": "The user greets me; greet back."},
            {"type": "text", "content": "Let me check."},
            {"type": "tool_call", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "arguments": {"city": "Paris"}}]},
        {"role": "user", "parts": [
            {"type": "tool_call_response", "id": "toolu_01A09q90qw90lq917835lq9", "response": "18C"},
            {"type": "tool_call_response", "id": "toolu_2", "response": "sunny"},
            {"type": "blob", "modality": "image", "mime_type": "image/png"},
            {"type": "uri", "modality": "image", "uri": "https://example.com/paris.png"},
            {"type": "blob", "modality": "document", "mime_type": "application/pdf"},
            {"type": "file", "modality": "document", "file_id": "file_011"}]},
    ]
    # No bytes of the image or the document anywhere on the span.
    assert "iVBORw0KGgo" not in json.dumps(second_span) and "JVBERi0" not in json.dumps(second_span)


ERRORS = [
    ("error-429", anthropic.RateLimitError, "rate_limit_error"),
    ("error-500", anthropic.InternalServerError, "api_error"),
    ("error-529", anthropic.APIStatusError, "overloaded_error"),
    ("timeout", anthropic.APITimeoutError, "APITimeoutError"),
    ("unreachable", anthropic.APIConnectionError, "APIConnectionError"),
    ("malformed", json.JSONDecodeError, "JSONDecodeError"),
]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("model", "error", "error_type"), ERRORS, ids=[e[2] for e in ERRORS])
async def test_errors_are_recorded_and_reraised(instrumented, make_client, captured, is_async, model, error,
                                                error_type):
    client = make_client(is_async)
    with pytest.raises(error) as raised:
        await call(client, client.messages.create, model=model, max_tokens=256, messages=HI)
    [span] = captured.spans()
    assert span["name"] == f"chat {model}"
    assert span["attributes"] == {
        **base_attributes(model),
        "error.type": error_type,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]',
    }
    assert span["status"] == "ERROR"
    [event] = span["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"].endswith(type(raised.value).__name__)


async def test_api_key_is_never_on_a_span(instrumented, make_client, captured, requests_seen):
    client = make_client()
    client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=HI)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="error-401", max_tokens=256, messages=HI)
    headers = requests_seen[0].headers  # anthropic 2.x sends the key as a bearer token, older as x-api-key
    assert API_KEY in (headers.get("x-api-key") or headers["authorization"])  # it was sent...
    assert API_KEY not in json.dumps(captured.spans(), default=str)  # ...and never recorded


def _cost_pipeline():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(exporter)))
    return provider, exporter


async def test_cost_uses_the_cache_read_and_write_rates(instrument, make_client):
    provider, exporter = _cost_pipeline()
    instrument(tracer_provider=provider)
    make_client().messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=HI)
    [span] = exporter.get_finished_spans()
    attributes = dict(span.attributes)
    # Sonnet 4.5: $3/M input, $0.30/M cache read, $3.75/M cache write, $15/M output.
    # 25 * 3 + 300 * 0.30 + 40 * 3.75 + 12 * 15 = 75 + 90 + 150 + 180 = 495 micro-dollars; priced as if
    # uncached it would be 365 * 3 + 180 = 1275.
    assert attributes["traceglass.cost.total_usd"] == pytest.approx(495e-6)
    assert attributes["traceglass.cost.cached_input_usd"] == pytest.approx(90e-6)
    assert attributes["traceglass.cost.output_usd"] == pytest.approx(180e-6)


async def test_cache_write_name_under_latest_experimental(instrumented, make_client, monkeypatch, captured):
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    make_client().messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=HI)
    attributes = captured.spans()[0]["attributes"]
    assert attributes["gen_ai.usage.cache_write.input_tokens"] == 40
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_count_tokens_is_one_unpriced_span(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    result = await call(client, client.messages.count_tokens, model="claude-sonnet-4-5", messages=HI)
    assert result.input_tokens == 17
    [span] = captured.spans()
    assert span["name"] == "count_tokens claude-sonnet-4-5"
    assert span["attributes"] == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "count_tokens",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "server.address": "api.anthropic.com",
        "server.port": 443,
        "anthropic.message.count_tokens.input_tokens": 17,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]',
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_batch_create_is_one_span(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    requests = [{"custom_id": f"r{i}", "params": {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": HI}}
                for i in range(3)]
    batch = await call(client, client.messages.batches.create, requests=requests)
    assert batch.id == "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
    [span] = captured.spans()
    assert span["name"] == "batch claude-haiku-4-5"
    assert span["attributes"] == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "batch",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-haiku-4-5",
        "server.address": "api.anthropic.com",
        "server.port": 443,
        "gen_ai.response.id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
    }


PLATFORMS = [
    (anthropic.AnthropicBedrock, {"aws_access_key": "AKIATEST", "aws_secret_key": "secret", "aws_region": "us-east-1"},
     "anthropic.claude-sonnet-4-5-20250929-v1:0", "aws.bedrock", "bedrock-runtime.us-east-1.amazonaws.com"),
    (anthropic.AnthropicVertex, {"region": "us-east5", "project_id": "proj", "access_token": "ya29.token"},
     "claude-sonnet-4-5@20250929", "gcp.vertex_ai", "us-east5-aiplatform.googleapis.com"),
]


@pytest.mark.parametrize(("cls", "options", "model", "provider", "host"), PLATFORMS, ids=["bedrock", "vertex"])
async def test_bedrock_and_vertex_clients(instrumented, make_client, captured, cls, options, model, provider,
                                          host):
    client = make_client(cls=cls, **options)
    client.messages.create(model=model, max_tokens=256, messages=HI)
    [span] = captured.spans()
    assert span["name"] == f"chat {model}"
    assert span["attributes"] == {
        **base_attributes(model),
        "gen_ai.provider.name": provider,
        "server.address": host,
        **response_attributes(model=model),
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]',
        "gen_ai.output.messages": TEXT_OUTPUT_JSON,
    }
