"""A Responses API stream closed before its final event keeps what arrived on the span."""

from __future__ import annotations

import json

import openai

from traceglass.demo import FakeOpenAIServer
from traceglass.instrumentors.openai import OpenAIInstrumentor


def test_responses_stream_closed_early_keeps_id_model_and_text(captured):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        with FakeOpenAIServer() as server, openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as c:
            stream = c.responses.create(model="gpt-4o-mini", input="Tell me about tracing", stream=True)
            events = []
            for event in stream:
                events.append(event.type)
                if event.type == "response.output_text.delta" and events.count(event.type) == 3:
                    break
            stream.close()
    finally:
        instrumentor.uninstrument()
    (span,) = captured.spans()
    attributes = span["attributes"]
    assert span["name"] == "chat gpt-4o-mini"
    assert attributes["gen_ai.response.id"].startswith("resp-")
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert "gen_ai.usage.input_tokens" not in attributes  # the final event with usage never came
    (output,) = json.loads(attributes["gen_ai.output.messages"])
    assert output["finish_reason"] == "error"
    assert output["parts"][0]["content"] == "OpenTelemetry records each"
