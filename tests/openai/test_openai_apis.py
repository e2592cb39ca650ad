"""embeddings.create, completions.create and the Responses API: sync, async, streaming, errors."""

from __future__ import annotations

import json

import openai
import pytest

from traceglass.testing import capture

from ._fake_api import RESPONSE_ID, TEXT_PIECES
from .test_openai_stream import consume, without_ttft

SERVER = {"server.address": "api.openai.com", "server.port": 443}


async def run(client, method, **kwargs):
    result = method(**kwargs)
    return await result if isinstance(client, openai.AsyncOpenAI) else result


# --- embeddings ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
@pytest.mark.parametrize("encoding", [None, "float", "base64"])
async def test_embeddings(instrumented, make_client, is_async, content, encoding):
    client = make_client(is_async)
    inputs = [f"document number {i}" for i in range(8)]
    kwargs = {"model": "text-embedding-3-small", "input": inputs}
    if encoding:
        kwargs["encoding_format"] = encoding
    with capture(capture_content=content) as captured:
        response = await run(client, client.embeddings.create, **kwargs)
    assert len(response.data) == 8
    span = captured.span("embeddings text-embedding-3-small")
    expected = {
        "traceglass.span.type": "embedding",
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        **SERVER,
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.embeddings.dimension.count": 3,
        "traceglass.embeddings.input_count": 8,
        "gen_ai.usage.input_tokens": 24,
    }
    if encoding:
        expected["gen_ai.request.encoding_formats"] = (encoding,)
    if content:
        expected["traceglass.input"] = json.dumps(inputs, separators=(",", ":"))
    assert span["attributes"] == expected
    assert span["kind"] == "CLIENT"


def test_embeddings_never_carry_vectors(instrumented, make_client, captured):
    vector_text = "0.25"
    make_client().embeddings.create(model="text-embedding-3-small", input="one text", dimensions=3)
    dumped = json.dumps(captured.spans(), default=str)
    assert vector_text not in dumped and "-0.5" not in dumped
    attributes = captured.span("embeddings text-embedding-3-small")["attributes"]
    assert (attributes["traceglass.embeddings.input_count"], attributes["gen_ai.embeddings.dimension.count"],
            attributes["traceglass.input"]) == (1, 3, '["one text"]')


def test_embeddings_token_array_input(instrumented, make_client, captured):
    make_client().embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3], [4, 5]])
    attributes = captured.span("embeddings text-embedding-3-small")["attributes"]
    assert (attributes["traceglass.embeddings.input_count"], attributes["traceglass.input"]) == (
        2, '["<3 tokens>","<2 tokens>"]')


def test_embeddings_error(instrumented, make_client, captured):
    with pytest.raises(openai.BadRequestError):
        make_client().embeddings.create(model="error-400", input="x")
    span = captured.span("embeddings error-400")
    assert span["attributes"] == {
        "traceglass.span.type": "embedding", "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "error-400", **SERVER, "traceglass.embeddings.input_count": 1,
        "error.type": "invalid_request", "traceglass.input": '["x"]'}
    assert span["status"] == "ERROR"


# --- legacy completions ----------------------------------------------------------------------------------
COMPLETION_BASE = {
    "traceglass.span.type": "llm",
    "gen_ai.operation.name": "text_completion",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-3.5-turbo-instruct",
    **SERVER,
}
COMPLETION_OUTPUT = '[{"role":"assistant","parts":[{"type":"text","content":"Once upon a time"}],"finish_reason":"length"}]'


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_completions(instrumented, make_client, captured, is_async, stream):
    client = make_client(is_async)
    result = await run(client, client.completions.create, model="gpt-3.5-turbo-instruct", prompt="Tell a story",
                       max_tokens=4, temperature=0.0, stream=stream)
    if stream:
        await consume(result)
    span = captured.span("text_completion gpt-3.5-turbo-instruct")
    attributes = without_ttft(span) if stream else span["attributes"]
    expected = {
        **COMPLETION_BASE,
        "gen_ai.request.temperature": 0.0,
        "gen_ai.request.max_tokens": 4,
        "gen_ai.response.id": "cmpl-abc123",
        "gen_ai.response.model": "gpt-3.5-turbo-instruct",
        "gen_ai.response.finish_reasons": ("length",),
        "openai.response.system_fingerprint": "fp_44709d6fcb",
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Tell a story"}]}]',
        "gen_ai.output.messages": COMPLETION_OUTPUT,
    }
    if stream:
        expected["gen_ai.request.stream"] = True
        del expected["openai.response.system_fingerprint"]  # the fake's chunks carry none
    expected.update({"gen_ai.usage.input_tokens": 4, "gen_ai.usage.output_tokens": 4})  # streams too, by default
    assert attributes == expected


# --- Responses API ----------------------------------------------------------------------------------------
RESPONSES_BASE = {
    "traceglass.span.type": "llm",
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    **SERVER,
    "openai.api.type": "responses",
}
RESPONSES_RESULT = {
    "gen_ai.response.id": "resp_abc123",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "openai.response.service_tier": "default",
    "gen_ai.usage.input_tokens": 30,
    "gen_ai.usage.output_tokens": 12,
    "gen_ai.usage.cache_read.input_tokens": 10,
    "gen_ai.usage.reasoning.output_tokens": 4,
}
RESPONSES_INPUT = [
    {"role": "user", "content": [{"type": "input_text", "text": "Weather?"},
                                 {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
    {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "{\"celsius\": 21}"},
]
RESPONSES_INPUT_JSON = (
    '[{"role":"user","parts":[{"type":"text","content":"Weather?"},'
    '{"type":"blob","modality":"image","content":"AAAA","mime_type":"image/png"}]},'
    '{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]},'
    '{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":{"celsius":21}}]}]'
)
TEXT_OUTPUT = ('[{"role":"assistant","parts":[{"type":"reasoning","content":"Greet back."},'
               '{"type":"text","content":"Hello there!"}],"finish_reason":"stop"}]')
TOOL_OUTPUT = ('[{"role":"assistant","parts":[{"type":"tool_call","id":"call_weather1","name":"get_weather",'
               '"arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]')


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("content", [True, False], ids=["content", "no-content"])
async def test_responses(instrumented, make_client, is_async, stream, content):
    client = make_client(is_async)
    with capture(capture_content=content) as captured:
        result = await run(client, client.responses.create, model="gpt-4o", input=RESPONSES_INPUT,
                           instructions="Be brief.", max_output_tokens=100, temperature=0.3, stream=stream,
                           conversation="conv_123", text={"format": {"type": "json_object"}})
        if stream:
            events = await consume(result)
            assert events[-1].type == "response.completed"
    span = captured.span("chat gpt-4o")
    attributes = without_ttft(span) if stream else span["attributes"]
    expected = {
        **RESPONSES_BASE, "gen_ai.request.temperature": 0.3, "gen_ai.request.max_tokens": 100,
        "gen_ai.output.type": "json", "gen_ai.conversation.id": "conv_123", **RESPONSES_RESULT,
        "gen_ai.response.finish_reasons": ("stop",),
    }
    if stream:
        expected["gen_ai.request.stream"] = True
    if content:
        expected.update({
            "gen_ai.system_instructions": '[{"type":"text","content":"Be brief."}]',
            "gen_ai.input.messages": RESPONSES_INPUT_JSON,
            "gen_ai.output.messages": TEXT_OUTPUT,
        })
    assert attributes == expected


def test_responses_tool_call_and_tool_definitions(instrumented, make_client, captured):
    tools = [{"type": "function", "name": "get_weather", "description": "Weather", "strict": True,
              "parameters": {"type": "object", "properties": {}}}, {"type": "web_search"}]
    make_client().responses.create(model="gpt-4o", input="Weather in Paris?", tools=tools)
    assert captured.span("chat gpt-4o")["attributes"] == {
        **RESPONSES_BASE, **RESPONSES_RESULT, "gen_ai.response.finish_reasons": ("tool_call",),
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]',
        "gen_ai.output.messages": TOOL_OUTPUT,
        "gen_ai.tool.definitions": ('[{"type":"function","name":"get_weather","description":"Weather",'
                                    '"parameters":{"type":"object","properties":{}}},'
                                    '{"type":"web_search","name":"web_search"}]'),
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_responses_stream_helper(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    manager = client.responses.stream(model="gpt-4o", input="hi")
    if is_async:
        async with manager as stream:
            final = await stream.get_final_response()
    else:
        with manager as stream:
            final = stream.get_final_response()
    assert final.output_text == "Hello there!"
    assert without_ttft(captured.span("chat gpt-4o")) == {
        **RESPONSES_BASE, "gen_ai.request.stream": True, **RESPONSES_RESULT,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "gen_ai.output.messages": TEXT_OUTPUT,
    }


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_responses_error(instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    with pytest.raises(openai.RateLimitError):
        await run(client, client.responses.create, model="error-429", input="hi")
    span = captured.span("chat error-429")
    assert span["attributes"] == {
        **RESPONSES_BASE, "gen_ai.request.model": "error-429", "error.type": "rate_limit_exceeded",
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'}
    assert span["status"] == "ERROR"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_response_that_failed_fails_its_span(instrumented, make_client, captured, is_async, stream):
    client = make_client(is_async)
    result = await run(client, client.responses.create, model="failed-response", input="hi", stream=stream)
    if stream:
        assert [event.type for event in await consume(result)] == ["response.created", "response.failed"]
    else:
        assert (result.status, result.error.code) == ("failed", "server_error")  # returned, not raised
    span = captured.span("chat failed-response")
    assert span["status"] == "ERROR"
    assert span["status_description"] == "The model failed to respond"
    assert span["events"] == []  # nothing was raised: no exception event
    attributes = without_ttft(span) if stream else span["attributes"]
    assert attributes["error.type"] == "server_error"
    assert attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert attributes["gen_ai.response.id"] == RESPONSE_ID


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_an_error_event_mid_stream_fails_the_span_and_keeps_the_partial_output(
        instrumented, make_client, captured, is_async):
    client = make_client(is_async)
    stream = await run(client, client.responses.create, model="broken-off", input="hi", stream=True)
    events = await consume(stream)
    assert events[-1].type == "error" and events[-1].code == "rate_limit_exceeded"
    span = captured.span("chat broken-off")
    assert (span["status"], span["status_description"]) == ("ERROR", "Slow down")
    attributes = without_ttft(span)
    assert attributes["error.type"] == "rate_limit_exceeded"
    assert [event.type for event in events].count("response.output_text.delta") == 2
    # what arrived before the error
    assert json.loads(attributes["gen_ai.output.messages"]) == [{
        "role": "assistant", "parts": [{"type": "text", "content": "".join(TEXT_PIECES[:2])}],
        "finish_reason": "error"}]
