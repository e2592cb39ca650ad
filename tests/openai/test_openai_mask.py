"""configure(mask=...) with the real openai SDK and the decorators: a mask written for strings
redacts a secret from every captured attribute and event; mask_whole_values gets whole values;
truncation keeps a messages array a JSON array of messages."""

from __future__ import annotations

import json
import re

import openai
import pytest

import traceglass
from traceglass import observe
from traceglass.testing import capture

from .test_openai_chat import base_attributes, response_attributes

SECRET = "sk-live-ABCDEF0123456789abcdef"
MESSAGES = [
    {"role": "system", "content": f"Use the key {SECRET} for lookups."},
    {"role": "user", "content": [{"type": "text", "text": f"My key is {SECRET}. Weather in Paris?"}]},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "call_0", "type": "function",
                     "function": {"name": "lookup", "arguments": json.dumps({"key": SECRET, "n": 1})}}]},
    {"role": "tool", "tool_call_id": "call_0", "content": f"sunny (auth {SECRET})"},
]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": f"Weather; key {SECRET}",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


def redact_api_keys(text: str) -> str:
    return re.sub(r"sk-[A-Za-z0-9-]{16,}", "[API_KEY]", text)



def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


MASKED_INPUT = _json([
    {"role": "system", "parts": [{"type": "text", "content": "Use the key [API_KEY] for lookups."}]},
    {"role": "user", "parts": [{"type": "text", "content": "My key is [API_KEY]. Weather in Paris?"}]},
    {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_0", "name": "lookup",
                                     "arguments": {"key": "[API_KEY]", "n": 1}}]},
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_0", "response": "sunny (auth [API_KEY])"}]},
])
MASKED_TOOLS = _json([{"type": "function", "name": "get_weather", "description": "Weather; key [API_KEY]",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])
OUTPUT = _json([{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_weather1", "name": "get_weather",
                                                "arguments": {"city": "Paris"}}], "finish_reason": "tool_call"}])


async def _run(client):
    @observe(type="tool")
    def lookup(key, city):
        return {"forecast": "sunny", "auth": f"Bearer {key}", "city": city}

    @observe()
    async def agent(question):
        result = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS)
        if isinstance(client, openai.AsyncOpenAI):
            await result
        lookup(SECRET, "Paris")
        return f"done: {question}"

    return await agent(f"weather with {SECRET}")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_string_mask_redacts_an_api_key_from_every_attribute_and_event(instrumented, make_client, is_async):
    with capture(mask=redact_api_keys, capture_content="SPAN_AND_EVENT") as captured:
        assert await _run(make_client(is_async)) == f"done: weather with {SECRET}"  # the app's value is its own
    chat = {"gen_ai.input.messages": MASKED_INPUT, "gen_ai.output.messages": OUTPUT,
            "gen_ai.tool.definitions": MASKED_TOOLS}
    tool = {"gen_ai.tool.call.arguments": '{"key":"[API_KEY]","city":"Paris"}',
            "gen_ai.tool.call.result": '{"forecast":"sunny","auth":"Bearer [API_KEY]","city":"Paris"}'}
    agent = {"traceglass.input": '{"question":"weather with [API_KEY]"}',
             "traceglass.output": "done: weather with [API_KEY]"}
    assert {span["name"]: span["attributes"] for span in captured.spans()} == {
        "chat gpt-4o-mini": {**base_attributes(), **response_attributes("tool_calls"), **chat},
        "lookup": {"traceglass.span.type": "tool", "gen_ai.operation.name": "execute_tool",
                   "gen_ai.tool.name": "lookup", **tool},
        "agent": {"traceglass.span.type": "custom", **agent},
    }
    details = "gen_ai.client.inference.operation.details"
    assert {span["name"]: span["events"] for span in captured.spans()} == {
        "chat gpt-4o-mini": [{"name": details, "attributes": chat}],
        "lookup": [{"name": details, "attributes": tool}],
        "agent": [{"name": details, "attributes": agent}],
    }


async def test_without_a_mask_the_same_calls_record_the_key(instrumented, make_client):
    with capture(capture_content="SPAN_AND_EVENT") as captured:
        await _run(make_client())
    recorded = json.dumps(captured.spans())
    # what the test above removes: 4 in the input messages, 1 in the tool definitions, 2 in the tool's
    # arguments and result, 2 in the agent's input and output; on the span and in its event
    assert recorded.count(SECRET) == 2 * 9


async def test_mask_whole_values_gets_each_attributes_whole_value(instrumented, make_client):
    seen: dict[str, object] = {}

    def mask(value):
        kind = "messages" if isinstance(value, list) and value and "role" in value[0] else type(value).__name__
        seen.setdefault(kind, value)
        return {"redacted": kind}

    with capture(mask=traceglass.mask_whole_values(mask)) as captured:
        await _run(make_client())
    assert seen["messages"][0] == {"role": "system", "parts": [{"type": "text", "content": f"Use the key {SECRET} "
                                                                                           "for lookups."}]}
    assert seen["dict"] == {"key": SECRET, "city": "Paris"}  # the tool's arguments, whole
    attributes = captured.span("chat gpt-4o-mini")["attributes"]
    assert (attributes["gen_ai.input.messages"], attributes["gen_ai.output.messages"]) == (
        '{"redacted":"messages"}', '{"redacted":"messages"}')
    assert captured.span("lookup")["attributes"]["gen_ai.tool.call.result"] == '{"redacted":"dict"}'
    assert captured.span("agent")["attributes"]["traceglass.output"] == '{"redacted":"str"}'


@pytest.mark.parametrize("limit", [2000, 300, 120])
def test_truncation_keeps_a_long_conversation_a_json_array_of_messages(instrumented, make_client, limit):
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "words " * 200}
               for i in range(40)]
    with capture(max_content_length=limit) as captured:
        make_client().chat.completions.create(model="gpt-4o-mini", messages=history)
    attributes = captured.span("chat gpt-4o-mini")["attributes"]
    text = attributes["gen_ai.input.messages"]
    assert len(text) <= limit
    messages = json.loads(text)
    assert isinstance(messages, list) and messages  # an array of messages, never a preview object
    for message in messages:
        assert message["role"] in ("user", "assistant")
        [part] = message["parts"]
        assert part["type"] == "text" and part["content"].startswith("turn ")
        assert part["content"].endswith("…[truncated]")
    assert messages[0]["parts"][0]["content"].startswith("turn 0 ")  # the conversation's start is kept
    assert attributes["traceglass.truncated"] == ("gen_ai.input.messages",)
    assert attributes["gen_ai.output.messages"] == ('[{"role":"assistant","parts":[{"type":"text",'
                                                    '"content":"Hello there!"}],"finish_reason":"stop"}]')
