"""The bundled OpenAI-compatible server answers the real openai client in OpenAI's shapes."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from traceglass.demo import FakeOpenAIServer, fake_openai

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                       "required": ["city", "days"]},
    },
}


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="demo", max_retries=0) as c:
        yield c


def test_chat_completion_shape_and_usage(client):
    response = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Explain prompt caching briefly"}]
    )
    assert response.object == "chat.completion"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.system_fingerprint == "fp_traceglass01"
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert len(choice.message.content.split()) > 5
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0


def test_repeated_prefix_reports_cached_tokens(client):
    system = {"role": "system", "content": "You are a careful assistant. " * 10}
    first = client.chat.completions.create(model="gpt-4o", messages=[system, {"role": "user", "content": "a?"}])
    second = client.chat.completions.create(model="gpt-4o", messages=[system, {"role": "user", "content": "b?"}])
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert 0 < second.usage.prompt_tokens_details.cached_tokens < second.usage.prompt_tokens


def test_tool_call_then_tool_result(client):
    messages = [{"role": "user", "content": "Weather in Lisbon please"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city", "days"}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "21C and sunny"}]
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content


def test_stream_with_usage_chunk(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say something"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say something"}]).choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_stream_tool_call_deltas_assemble(client):
    with client.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "Weather in Oslo"}], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["days"] == 3


def test_embeddings_float_and_base64(client):
    floats = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="float")
    assert [len(d.embedding) for d in floats.data] == [1536, 1536]
    default = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=8)
    assert [len(d.embedding) for d in default.data] == [8, 8]
    assert default.usage.prompt_tokens == 2


def test_responses_api_plain_and_streamed(client):
    response = client.responses.create(model="gpt-4o-mini", input="Describe tracing", instructions="Be brief.")
    assert response.status == "completed"
    assert response.output_text
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    with client.responses.stream(model="gpt-4o-mini", input="Describe tracing", instructions="Be brief.") as s:
        final = s.get_final_response()
    assert final.output_text == response.output_text


def test_legacy_completions(client):
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0


def test_simulated_errors_are_openai_errors(client):
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="error-429", messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 429
    assert raised.value.code == "rate_limit_exceeded"


async def test_async_client(server):
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="demo", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi there"}], stream=True)
        chunks = [c async for c in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_route_added_to_the_table_is_served(monkeypatch):
    def echo(handler, body, model):
        handler._send_json(200, {"echo": body, "model": model})

    monkeypatch.setitem(fake_openai.ROUTES, ("POST", "/v1/echo"), echo)
    with FakeOpenAIServer() as running:
        answered = httpx.post(f"{running.base_url}/echo", json={"model": "m", "x": [1]}, timeout=10)
        unknown = httpx.post(f"{running.base_url}/nothing", json={}, timeout=10)
    assert (answered.status_code, answered.json()) == (200, {"echo": {"model": "m", "x": [1]}, "model": "m"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
