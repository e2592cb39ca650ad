"""The Anthropic SDK, auto-instrumented: a tool-use round, a stream, and prompt caching priced as such.

What it shows — with no tracing code around the calls at all:
- a tool-use round: Claude asks for `get_weather` (a `tool_use` block), we run it and send a `tool_result`,
  Claude answers; both calls sit under one `claude_weather_turn` span;
- the SDK's stream helper (`client.messages.stream(...)`): the span covers the whole stream, with its
  time to first token and the usage the `message_start`/`message_delta` events carry;
- prompt caching: the system prompt carries a `cache_control` breakpoint, so the first call writes the
  prefix to the cache and the later ones read it. Each span records fresh, cache-write and cache-read
  input tokens, and its cost uses the cache rates (a read costs a tenth of a fresh token, a write 1.25x).

Runs against the bundled server (it speaks Anthropic's Messages API too) unless ANTHROPIC_API_KEY is set.
Run: python examples/anthropic_tools_streaming.py
"""

from __future__ import annotations

import json

import anthropic

import traceglass
from traceglass.demo import anthropic_endpoint

MODEL = "claude-sonnet-4-5"
SYSTEM = [{
    "type": "text",
    "text": "You are the travel desk of a small agency in Lisbon. Answer in one or two friendly sentences, "
            "quote prices in euros, and call the get_weather tool whenever a traveller asks about the weather "
            "somewhere before you answer.",
    "cache_control": {"type": "ephemeral"},  # the prefix up to here (tools + system) is cached
}]
TOOLS = [{
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]


def get_weather(city: str) -> str:
    return json.dumps({"city": city, "forecast": "sunny", "celsius": 21})


def _cache(usage: anthropic.types.Usage) -> str:
    return (f"{usage.input_tokens} fresh, {usage.cache_creation_input_tokens or 0} written to the cache, "
            f"{usage.cache_read_input_tokens or 0} read from it")


def run(client: anthropic.Anthropic) -> None:
    messages: list = [{"role": "user", "content": "What's the weather in Lisbon?"}]
    with traceglass.span("claude_weather_turn", type="chain"):
        first = client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, tools=TOOLS, messages=messages)
        call = next(block for block in first.content if block.type == "tool_use")
        messages.append({"role": "assistant", "content": first.content})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call.id, "content": get_weather(**call.input)}]})
        final = client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, tools=TOOLS, messages=messages)
    print("Tool use:", call.name, json.dumps(call.input), "->", first.stop_reason)
    print("Tool loop:", "".join(block.text for block in final.content if block.type == "text"))
    print("  input tokens:", _cache(first.usage), "|", _cache(final.usage))

    with client.messages.stream(model=MODEL, max_tokens=1024, system=SYSTEM, tools=TOOLS,
                                messages=[{"role": "user", "content": "Write a haiku about tracing"}]) as stream:
        text = "".join(stream.text_stream)
        usage = stream.get_final_message().usage
    print("Streamed:", text)
    print("  input tokens:", _cache(usage))


def main() -> None:
    traceglass.configure(service_name="anthropic-tools-streaming")
    with anthropic_endpoint(chunk_delay=0.01) as endpoint:
        run(endpoint.client(max_retries=0))
    traceglass.flush()


if __name__ == "__main__":
    main()
