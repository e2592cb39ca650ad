"""The bundled demo server answers the real anthropic client in the Messages API's shapes: JSON, the
SSE event stream, tool use, prompt caching, count_tokens and the API's error bodies."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from traceglass.demo import FakeOpenAIServer
from traceglass.demo._replies import count_tokens

# 40 words and 3 marks: over the 32-token minimum, so the prefix up to its breakpoint is cached
SYSTEM_TEXT = ("You are the travel desk of a small agency in Lisbon. Answer in one or two friendly sentences, quote "
               "prices in euros, and call the weather tool whenever a traveller asks about the weather somewhere "
               "before you answer the question")
SYSTEM = [{"type": "text", "text": SYSTEM_TEXT, "cache_control": {"type": "ephemeral"}}]
WEATHER = {"name": "get_weather", "description": "Current weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                            "required": ["city", "days"]}}
HELLO = "Hello! Happy to help with whatever you are working on."


@pytest.fixture
def server():
    with FakeOpenAIServer() as running:  # a fresh server per test: an empty prompt cache
        yield running


@pytest.fixture
def client(server):
    with anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="demo", max_retries=0, timeout=30) as c:
        yield c


def _usage(message) -> tuple[int, int, int, int]:
    u = message.usage
    return u.input_tokens, u.cache_creation_input_tokens, u.cache_read_input_tokens, u.output_tokens


def test_message_shape_and_usage(client, server):
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=256,
                                     messages=[{"role": "user", "content": "Say hello."}])
    assert message.id.startswith("msg_01") and len(message.id) == 28
    assert (message.type, message.role, message.model) == ("message", "assistant", "claude-haiku-4-5-20251001")
    assert [block.model_dump() for block in message.content] == [{"type": "text", "text": HELLO, "citations": None}]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    # "Say hello." is 3 tokens + 4 per message; no cache breakpoint, so nothing cached
    assert _usage(message) == (7, 0, 0, count_tokens(HELLO))
    assert message.usage.service_tier == "standard"
    assert server.requests[-1] == ("/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 256,
                                                    "messages": [{"role": "user", "content": "Say hello."}]})


def test_a_cache_breakpoint_writes_the_prefix_once_then_reads_it(client):
    def ask(question: str):
        return client.messages.create(model="claude-sonnet-4-5", max_tokens=256, system=SYSTEM,
                                      messages=[{"role": "user", "content": question}])

    prefix = count_tokens(SYSTEM_TEXT)
    assert prefix == 43
    first, second = ask("Say hello."), ask("Any museum tips?")
    # input_tokens counts only what was neither written to nor read from the cache, as the API does
    assert _usage(first)[:3] == (3 + 4, prefix, 0)
    assert _usage(second)[:3] == (4 + 4, 0, prefix)
    assert first.usage.cache_creation.model_dump() == {"ephemeral_5m_input_tokens": prefix,
                                                       "ephemeral_1h_input_tokens": 0}
    assert second.usage.cache_creation.model_dump() == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    terse = [{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}]
    short = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, system=terse,
                                   messages=[{"role": "user", "content": "Say hello."}])
    assert _usage(short)[:3] == (3 + 3 + 4, 0, 0)  # under the cache's minimum: not cached


def test_tool_use_round(client):
    question = {"role": "user", "content": "What's the weather in Porto?"}
    first = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, tools=[WEATHER], messages=[question])
    assert first.stop_reason == "tool_use"
    text, call = first.content
    assert text.model_dump() == {"type": "text", "text": "I'll look that up with get_weather.", "citations": None}
    assert (call.type, call.name, call.input) == ("tool_use", "get_weather", {"city": "Porto", "days": 3})
    assert call.id.startswith("toolu_01")
    assert first.usage.output_tokens == count_tokens(text.text) + count_tokens(json.dumps(call.input))

    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                           "content": [{"type": "text", "text": "sunny, 24C"}]}]}
    final = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, tools=[WEATHER],
                                   messages=[question, {"role": "assistant", "content": first.content}, result])
    assert (final.stop_reason, [b.model_dump() for b in final.content]) == (
        "end_turn", [{"type": "text", "text": "According to the tool: sunny, 24C", "citations": None}])


@pytest.mark.parametrize(("question", "tool_choice", "calls"), [
    ("Write a haiku about tracing", None, False),  # auto: the tool does not fit the question
    ("What's the weather in Porto?", {"type": "none"}, False),
    ("Write a haiku about tracing", {"type": "any"}, True),
    ("Write a haiku about tracing", {"type": "tool", "name": "get_weather"}, True),
])
def test_tool_choice(client, question, tool_choice, calls):
    extra = {"tool_choice": tool_choice} if tool_choice else {}
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, tools=[WEATHER],
                                     messages=[{"role": "user", "content": question}], **extra)
    assert ([b.type for b in message.content], message.stop_reason) == (
        (["text", "tool_use"], "tool_use") if calls else (["text"], "end_turn"))


def test_max_tokens_cuts_the_reply(client):
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=3,
                                     messages=[{"role": "user", "content": "Say hello."}])
    assert (message.content[0].text, message.stop_reason, message.usage.output_tokens) == (
        "Hello! Happy to", "max_tokens", 4)


def test_the_event_stream_as_the_api_sends_it(client):
    with client.messages.create(model="claude-sonnet-4-5", max_tokens=256, tools=[WEATHER], stream=True,
                                messages=[{"role": "user", "content": "What's the weather in Porto?"}]) as stream:
        events = [event.model_dump() for event in stream]
    # (the SDK's iterator drops the ping after the first block starts; test_sse_wire_format sees it)
    kinds = [e["type"] for e in events]
    assert kinds == (["message_start", "content_block_start"] + ["content_block_delta"] * 6
                     + ["content_block_stop", "content_block_start"] + ["content_block_delta"] * 4
                     + ["content_block_stop", "message_delta", "message_stop"])
    start = events[0]["message"]
    assert (start["content"], start["stop_reason"], start["usage"]["output_tokens"]) == ([], None, 1)
    text = "I'll look that up with get_weather."
    assert [e["delta"]["text"] for e in events[2:8]] == ["I'll", " look", " that", " up", " with", " get_weather."]
    tool_start = events[9]["content_block"]
    assert (tool_start["type"], tool_start["name"], tool_start["input"]) == ("tool_use", "get_weather", {})
    arguments = "".join(e["delta"]["partial_json"] for e in events[10:14])
    assert json.loads(arguments) == {"city": "Porto", "days": 3}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"]["output_tokens"] == count_tokens(text) + count_tokens(arguments)


def test_stream_helper_gives_the_same_message_as_json(client):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 256, "system": SYSTEM,
            "messages": [{"role": "user", "content": "Write a haiku about tracing"}]}
    plain = client.messages.create(**body)
    with client.messages.stream(**body) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    haiku = "Spans fall like leaves / each call carries its own cost / the trace tells the tale"
    assert text == plain.content[0].text == haiku
    assert (final.model, final.stop_reason) == (plain.model, plain.stop_reason)
    assert _usage(final) == (_usage(plain)[0], 0, 43, _usage(plain)[3])  # the second call reads the cache


def test_sse_wire_format(server):
    response = httpx.post(f"{server.anthropic_base_url}/v1/messages", timeout=10, json={
        "model": "claude-haiku-4-5", "max_tokens": 64, "stream": True,
        "messages": [{"role": "user", "content": "Say hello."}]})
    assert (response.status_code, response.headers["content-type"]) == (200, "text/event-stream")
    frames = response.text.split("\n\n")
    assert frames[-1] == ""
    parsed = [frame.split("\n") for frame in frames[:-1]]
    assert all(len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: ")
               for lines in parsed)
    assert all(json.loads(data[6:])["type"] == event[7:] for event, data in parsed)
    assert parsed[2] == ["event: ping", 'data: {"type": "ping"}']
    assert parsed[-1] == ["event: message_stop", 'data: {"type": "message_stop"}']


async def test_async_client_streams(server):
    client = anthropic.AsyncAnthropic(base_url=server.anthropic_base_url, api_key="demo", max_retries=0, timeout=30)
    async with client, client.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                                              messages=[{"role": "user", "content": "Say hello."}]) as stream:
        text = "".join([piece async for piece in stream.text_stream])
    assert text == HELLO


def test_count_tokens_counts_cached_and_fresh_alike(client):
    body = {"model": "claude-sonnet-4-5", "system": SYSTEM, "tools": [WEATHER],
            "messages": [{"role": "user", "content": "What's the weather in Porto?"}]}
    counted = client.messages.count_tokens(**body)
    created = client.messages.create(max_tokens=256, **body)
    fresh, written, read, _ = _usage(created)
    assert written > 43  # the tool definition is before the breakpoint too
    assert counted.input_tokens == fresh + written + read


@pytest.mark.parametrize(("model", "error", "kind"), [
    ("error-429", anthropic.RateLimitError, "rate_limit_error"),
    ("error-500", anthropic.InternalServerError, "api_error"),
    ("error-529", anthropic.InternalServerError, "overloaded_error"),
])
def test_simulated_errors_are_the_apis_errors(client, model, error, kind):
    with pytest.raises(error) as raised:
        client.messages.create(model=model, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    body = raised.value.body
    assert (raised.value.status_code, body["type"], body["error"]) == (
        int(model[6:]), "error", {"type": kind, "message": f"Simulated error {model[6:]} for model {model}"})
    assert body["request_id"].startswith("req_011")


@pytest.mark.parametrize(("body", "message"), [
    ({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens: Field required"),
    ({"model": "claude-haiku-4-5", "max_tokens": 8, "messages": []}, "messages: Field required"),
])
def test_invalid_requests_are_400s_in_the_apis_shape(server, body, message):
    response = httpx.post(f"{server.anthropic_base_url}/v1/messages", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": message}


def test_a_body_that_is_not_json_is_a_400_in_the_apis_shape(server):
    response = httpx.post(f"{server.anthropic_base_url}/v1/messages", content=b"{not json", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error",
                                        "message": "We could not parse the JSON body of your request."}
