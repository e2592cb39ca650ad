"""chat.completions.create without streaming: exact attributes, content on/off, errors, endpoints."""

from __future__ import annotations

import json

import openai
import pytest
from .conftest import API_KEY
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from traceglass.instrumentors.openai import _extract
from traceglass.testing import capture

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"},
                                 {"type": "image_url", "image_url": {"url": "https://example.com/paris.png"}}]},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\": 1}"}}]},
    {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]
INPUT_JSON = (
    '[{"role":"system","parts":[{"type":"text","content":"You are terse."}]},'
    '{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"},'
    '{"type":"uri","modality":"image","uri":"https://example.com/paris.png"}]},'
    '{"role":"assistant","parts":[{"type":"tool_call","id":"call_0","name":"lookup","arguments":{"q":1}}]},'
    '{"role":"tool","parts":[{"type":"tool_call_response","id":"call_0","response":"sunny"}]}]'
)
TOOLS_JSON = ('[{"type":"function","name":"get_weather","description":"Weather for a city",'
              '"parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]')
TEXT_OUTPUT_JSON = '[{"role":"assistant","parts":[{"type":"text","content":"Hello there!"}],"finish_reason":"stop"}]'
TOOL_OUTPUT_JSON = ('[{"role":"assistant","parts":[{"type":"tool_call","id":"call_weather1","name":"get_weather",'
                    '"arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]')


def base_attributes(model: str = "gpt-4o-mini") -> dict:
    return {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "server.address": "api.openai.com",
        "server.port": 443,
        "openai.api.type": "chat_completions",
    }


def response_attributes(finish: str = "stop") -> dict:
    return {
        "gen_ai.response.id": "chatcmpl-abc123",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.finish_reasons": (finish,),
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_44709d6fcb",
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "gen_ai.usage.reasoning.output_tokens": 2,
    }


async def call(client, method, **kwargs):
    result = method(**kwargs)
    if isinstance(client, openai.AsyncOpenAI):
        result = await result
    return result


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tools"])
async def test_chat_completion(instrumented, make_client, is_async, content, tools):
    client = make_client(is_async)
    kwargs = {"model": "gpt-4o-mini", "messages": MESSAGES}
    if tools:
        kwargs["tools"] = TOOLS
    with capture(capture_content=content) as captured:
        response = await call(client, client.chat.completions.create, **kwargs)
    assert response.id == "chatcmpl-abc123"
    span = captured.span("chat gpt-4o-mini")
    expected = {**base_attributes(), **response_attributes("tool_calls" if tools else "stop")}
    if content:
        expected["gen_ai.input.messages"] = INPUT_JSON
        expected["gen_ai.output.messages"] = TOOL_OUTPUT_JSON if tools else TEXT_OUTPUT_JSON
        if tools:
            expected["gen_ai.tool.definitions"] = TOOLS_JSON
    assert span["attributes"] == expected
    assert (span["kind"], span["status"], span["parent_id"]) == ("CLIENT", "UNSET", None)


async def test_request_parameters(instrumented, make_client, captured):
    client = make_client()
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], temperature=0.2, top_p=0.9,
        max_completion_tokens=64, stop=["END", "STOP"], seed=7, frequency_penalty=0.5, presence_penalty=-0.5,
        n=2, response_format={"type": "json_object"}, service_tier="flex",
    )
    attributes = captured.span("chat gpt-4o-mini")["attributes"]
    assert attributes == {
        **base_attributes(),
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.stop_sequences": ("END", "STOP"),
        "gen_ai.request.seed": 7,
        "gen_ai.request.frequency_penalty": 0.5,
        "gen_ai.request.presence_penalty": -0.5,
        "gen_ai.request.choice.count": 2,
        "gen_ai.output.type": "json",
        "openai.request.service_tier": "flex",
        **response_attributes(),
        "gen_ai.response.finish_reasons": ("stop", "stop"),
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages": "[" + ",".join([TEXT_OUTPUT_JSON[1:-1]] * 2) + "]",
    }


async def test_legacy_max_tokens_single_stop_and_auto_tier(instrumented, make_client, captured):
    client = make_client()
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                   max_tokens=10, stop="END", service_tier="auto", n=1,
                                   response_format={"type": "text"})
    attributes = captured.span("chat gpt-4o-mini")["attributes"]
    # service_tier "auto" and n=1 are not recorded (the spec: only when not 'auto' / != 1).
    assert {k: v for k, v in attributes.items() 
            if k.startswith(("gen_ai.request.", "gen_ai.output.type", "openai.request."))} == {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.max_tokens": 10,
        "gen_ai.request.stop_sequences": ("END",),
        "gen_ai.output.type": "text",
    }


ERRORS = [
    ("error-429", openai.RateLimitError, "rate_limit_exceeded"),
    ("error-500", openai.InternalServerError, "500"),
    ("timeout", openai.APITimeoutError, "APITimeoutError"),
    ("unreachable", openai.APIConnectionError, "APIConnectionError"),
]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("model", "error", "error_type"), ERRORS, ids=[e[2] for e in ERRORS])
async def test_errors_are_recorded_and_reraised(instrumented, make_client, captured, is_async, model, error,
                                                error_type):
    client = make_client(is_async)
    with pytest.raises(error) as raised:
        await call(client, client.chat.completions.create, model=model, messages=[{"role": "user", "content": "hi"}])
    assert type(raised.value) is error
    span = captured.span(f"chat {model}")
    assert span["attributes"] == {
        **base_attributes(model),
        "error.type": error_type,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
    }
    assert span["status"] == "ERROR"
    assert [e["name"] for e in span["events"]] == ["exception"]
    assert span["events"][0]["attributes"]["exception.type"].endswith(error.__name__)


def test_api_key_and_headers_never_on_a_span(instrumented, make_client, captured, requests_seen):
    client = make_client(default_headers={"X-Custom-Auth": "Bearer other-SECRET"})
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"Authorization": "Bearer override-SECRET"})
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="error-401", messages=[{"role": "user", "content": "hi"}])
    assert requests_seen[0].headers["authorization"] == "Bearer override-SECRET"  # it was really sent
    dumped = json.dumps(captured.spans(), default=str)
    assert "SECRET" not in dumped and API_KEY not in dumped


def test_span_is_current_during_the_call_and_child_of_the_callers_span(instrumented, make_client, captured):
    client = make_client()
    tracer = captured.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert trace.get_current_span() is caller
    chat, outer = captured.spans()
    assert (chat["name"], outer["name"]) == ("chat gpt-4o-mini", "caller")
    assert chat["parent_id"] == outer["span_id"] and chat["trace_id"] == outer["trace_id"]


@pytest.mark.parametrize(("kwargs", "address", "port", "provider"), [
    ({"base_url": "http://localhost:8000/v1"}, "localhost", 8000, "openai"),
    ({"base_url": "http://127.0.0.1/v1"}, "127.0.0.1", 80, "openai"),
    ({"cls": openai.AzureOpenAI, "azure_endpoint": "https://myres.openai.azure.com",
      "api_version": "2024-10-21"}, "myres.openai.azure.com", 443, "azure.ai.openai"),
], ids=["compatible-server", "default-http-port", "azure"])
def test_provider_and_server_from_the_client(instrumented, make_client, captured, kwargs, address, port, provider):
    client = make_client(**kwargs)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    attributes = captured.span("chat gpt-4o-mini")["attributes"]
    assert (attributes["gen_ai.provider.name"], attributes["server.address"], attributes["server.port"]) == (
        provider, address, port)


def test_suppressed_instrumentation_makes_no_span(instrumented, make_client, captured):
    client = make_client()
    with suppress_instrumentation():
        response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert response.id == "chatcmpl-abc123"
    assert captured.spans() == []


def test_internal_error_is_swallowed_in_production(instrumented, make_client, captured, monkeypatch, caplog):
    monkeypatch.setenv("TRACEGLASS_RAISE_INTERNAL_ERRORS", "0")

    def broken(inv, usage):
        raise RuntimeError("bug in traceglass")

    monkeypatch.setattr(_extract, "apply_usage", broken)  # called while the response is mapped
    client = make_client()
    response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "Hello there!"
    span = captured.span("chat gpt-4o-mini")  # the span still ended; fields read before the fault are kept
    assert span["status"] == "UNSET"
    assert "gen_ai.usage.input_tokens" not in span["attributes"]
    assert any("traceglass internal error in openai.finish" in r.getMessage() for r in caplog.records)


def test_internal_error_is_loud_under_tests(instrumented, make_client, captured, monkeypatch):
    monkeypatch.setattr(_extract, "apply_usage", lambda inv, usage: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        make_client().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_metrics(instrumented, make_client, captured):
    client = make_client()
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    metrics = captured.metrics()
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
              "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "server.address": "api.openai.com",
              "server.port": 443}
    assert [(p["attributes"], p["sum"]) for p in metrics["gen_ai.client.token.usage"]] == [
        ({**common, "gen_ai.token.type": "input"}, 20), ({**common, "gen_ai.token.type": "output"}, 5)]
    assert [p["attributes"] for p in metrics["gen_ai.client.operation.duration"]] == [common]
