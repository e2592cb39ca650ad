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


# The bundled server's answer to a prompt no canned topic matches (one of three, chosen by a hash)
GENERIC_ANSWER = "In short: it depends on your constraints, but the usual default is a safe first choice."
GENERIC_WORDS = ("Here| is| a| short| answer:| start| with| the| simplest| approach| that| works,| then| measure|"
                 " before| optimising.")


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
    assert len(response.choices) == 1
    choice = response.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == GENERIC_ANSWER
    # tokens are words and punctuation marks: 4 + 7 per message; the answer's 19
    assert response.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 11, "completion_tokens": 19, "total_tokens": 30,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def test_repeated_prefix_reports_cached_tokens(client):
    system = {"role": "system", "content": "You are a careful assistant. " * 10}
    first = client.chat.completions.create(model="gpt-4o", messages=[system, {"role": "user", "content": "a?"}])
    second = client.chat.completions.create(model="gpt-4o", messages=[system, {"role": "user", "content": "b?"}])
    # the system prompt is 60 tokens; each request 60 + 2 + 7 per message
    assert (first.usage.prompt_tokens, first.usage.prompt_tokens_details.cached_tokens) == (76, 0)
    assert (second.usage.prompt_tokens, second.usage.prompt_tokens_details.cached_tokens) == (76, 60)


def test_tool_call_then_tool_result(client):
    messages = [{"role": "user", "content": "Weather in Lisbon please"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    assert len(first.choices[0].message.tool_calls) == 1
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content is None
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Lisbon", "days": 3}
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "21C and sunny"}]
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "According to the tool: 21C and sunny"
    assert second.choices[0].message.tool_calls is None


def test_stream_with_usage_chunk(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say something"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) == 19  # a role chunk, 16 words, the finish chunk, the usage chunk
    assert [c.choices[0].delta.content for c in chunks[:-1]] == ["", *GENERIC_WORDS.split("|"), None]
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * 17 + ["stop"]
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (9, 19)
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Say something"}])
    assert plain.choices[0].message.content == "".join(GENERIC_WORDS.split("|"))
    assert plain.usage.total_tokens == chunks[-1].usage.total_tokens == 28


def test_stream_without_include_usage_has_no_usage_chunk(client):
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi there"}], stream=True))
    assert len(chunks) == 12
    assert [(c.choices[0].delta.content, c.choices[0].finish_reason) for c in chunks] == [
        ("", None), ("Hello!", None), (" Happy", None), (" to", None), (" help", None), (" with", None),
        (" whatever", None), (" you", None), (" are", None), (" working", None), (" on.", None), (None, "stop")]
    assert all(c.usage is None for c in chunks)


def test_stream_tool_call_deltas_assemble(client):
    with client.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "Weather in Oslo"}], tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    assert len(final.choices[0].message.tool_calls) == 1
    call = final.choices[0].message.tool_calls[0]
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo", "days": 3}


def test_embeddings_float_and_base64(client):
    floats = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="float")
    assert [len(d.embedding) for d in floats.data] == [1536, 1536]
    assert [d.index for d in floats.data] == [0, 1]
    assert all(abs(sum(v * v for v in d.embedding) - 1.0) < 1e-4 for d in floats.data)  # unit vectors
    default = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=8)
    assert [len(d.embedding) for d in default.data] == [8, 8]
    assert (default.usage.prompt_tokens, default.usage.total_tokens) == (2, 2)
    # the SDK asks for base64 by default and decodes it: the same vectors as floats, to float32 precision
    small = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=8,
                                     encoding_format="float")
    for decoded, plain in zip(default.data, small.data, strict=True):
        assert decoded.embedding == pytest.approx(plain.embedding, abs=1e-6)


def test_responses_api_plain_and_streamed(client):
    response = client.responses.create(model="gpt-4o-mini", input="Describe tracing", instructions="Be brief.")
    assert response.status == "completed"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.output_text == ("OpenTelemetry records each step of a request as a span; spans nest into a "
                                    "trace, so you can see where time and money go.")
    # input: "Be brief." and "Describe tracing" (5) + 10; output: 27 words and marks
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (15, 27, 42)
    with client.responses.stream(model="gpt-4o-mini", input="Describe tracing", instructions="Be brief.") as s:
        final = s.get_final_response()
    assert final.output_text == response.output_text


def test_legacy_completions(client):
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].text == " Here is a short answer: start with the simplest approach that works, then " \
                                         "measure before optimising."
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == \
        (4, 19, 23)


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
    assert len(chunks) == 12
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Hello! Happy to help with whatever you are working on."
    assert [c.choices[0].finish_reason for c in chunks] == [None] * 11 + ["stop"]


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
