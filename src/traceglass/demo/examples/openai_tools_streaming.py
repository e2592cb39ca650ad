"""The OpenAI SDK, auto-instrumented: tool calls, streaming, embeddings and the Responses API.

What it shows — with no tracing code around the calls at all:
- a tool-calling loop: the model asks for `get_weather`, we run it, the model answers;
- a streamed chat completion (the span covers the whole stream, with time to first token);
- the SDK's stream helper (`client.chat.completions.stream(...)`);
- embeddings (counts and dimensions on the span, never the vectors) and the Responses API;
- a simulated rate-limit error, recorded with `error.type` and re-raised unchanged.

Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Run: python examples/openai_tools_streaming.py
"""

from __future__ import annotations

import json

import openai

import traceglass
from traceglass.demo import openai_endpoint

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]


def get_weather(city: str) -> str:
    return json.dumps({"city": city, "forecast": "sunny", "celsius": 21})


def run(client: openai.OpenAI) -> None:
    messages: list = [{"role": "user", "content": "What's the weather in Lisbon?"}]
    with traceglass.span("weather_turn", type="chain"):
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        call = first.choices[0].message.tool_calls[0]
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id,
                         "content": get_weather(**json.loads(call.function.arguments))})
        final = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    print("Tool loop:", final.choices[0].message.content)

    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Write a haiku about tracing"}], stream=True,
        stream_options={"include_usage": True},
    )
    print("Streamed:", "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))

    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise OpenTelemetry in a line"}],
    ) as helper_stream:
        print("Stream helper:", helper_stream.get_final_completion().choices[0].message.content)

    vectors = client.embeddings.create(model="text-embedding-3-small", input=["tracing", "metrics", "logs"])
    print("Embeddings:", len(vectors.data), "vectors")

    response = client.responses.create(model="gpt-4o-mini", instructions="Be brief.", input="Why trace LLM apps?")
    print("Responses API:", response.output_text)

    try:
        client.chat.completions.create(model="error-429", messages=[{"role": "user", "content": "hi"}])
    except openai.RateLimitError as error:
        print("Rate limited as expected:", error.status_code)


def main() -> None:
    traceglass.configure(service_name="openai-tools-streaming")
    with openai_endpoint(chunk_delay=0.01) as endpoint:
        run(endpoint.client(max_retries=0))
    traceglass.flush()


if __name__ == "__main__":
    main()
