"""The bundled server drives an agent loop on the Responses API: a function call while an offered tool
has not been called this turn, then a final answer from the tool's result, in the API's shapes (JSON
and the event stream), read by the real openai client. And `traceglass demo` skips a framework
example whose framework is not installed."""

from __future__ import annotations

import io
import json

import httpx
import openai
import pytest

from traceglass.demo import FakeOpenAIServer, _run

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
           "strict": True}
CLOCK = {"type": "function", "name": "get_time", "description": "Local time",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="demo", max_retries=0) as c:
        yield c


def test_function_call_then_final_answer(client):
    question = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.responses.create(model="gpt-4o", input=question, tools=[WEATHER])
    (call,) = first.output
    assert call.model_dump(exclude_none=True) == {
        "type": "function_call", "id": call.id, "call_id": call.call_id, "name": "get_weather",
        "arguments": '{"city": "Paris"}', "status": "completed"}
    assert call.id.startswith("fc_") and call.call_id.startswith("call_") and len(call.call_id) == 29
    assert first.output_text == "" and first.tools[0].name == "get_weather" and first.tool_choice == "auto"
    # input: the question (7) + 10 + 30 for the tool; output: the call's JSON
    assert first.usage.input_tokens == 47 and first.usage.output_tokens > 0
    conversation = [*question, call.model_dump(exclude_none=True),
                    {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}]
    second = client.responses.create(model="gpt-4o", input=conversation, tools=[WEATHER])
    assert [item.type for item in second.output] == ["message"]
    assert second.output_text == "According to the tool: sunny, 21C"


def test_each_offered_tool_once_per_user_turn(client):
    conversation: list = [{"role": "user", "content": "Paris: weather and time?"}]
    names = []
    for _ in range(4):  # bounded: two calls, then the answer
        response = client.responses.create(model="gpt-4o", input=conversation, tools=[WEATHER, CLOCK])
        if response.output[0].type != "function_call":
            break
        call = response.output[0]
        names.append(call.name)
        conversation += [call.model_dump(exclude_none=True),
                         {"type": "function_call_output", "call_id": call.call_id, "output": f"{call.name} ok"}]
    assert names == ["get_weather", "get_time"]
    assert response.output_text == "According to the tool: get_time ok"
    # A new user message starts a new turn: the tools are called again.
    conversation.append({"role": "user", "content": "And in Rome?"})
    again = client.responses.create(model="gpt-4o", input=conversation, tools=[WEATHER, CLOCK])
    assert (again.output[0].type, again.output[0].arguments) == ("function_call", '{"city": "Rome"}')


def test_tool_choice_none_answers_with_text(client):
    response = client.responses.create(model="gpt-4o", input="Weather in Oslo?", tools=[WEATHER], tool_choice="none")
    assert [item.type for item in response.output] == ["message"] and response.tool_choice == "none"


def test_streamed_function_call_events(client, server):
    with client.responses.stream(model="gpt-4o", input="Weather in Oslo?", tools=[WEATHER]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.type for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    (call,) = final.output
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Oslo"}')
    assert "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta") == call.arguments
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert (done.item_id, done.output_index, done.arguments) == (call.id, 0, call.arguments)
    # On the wire, as the API sends it: `event:` lines naming each event, `data:` JSON with the same type.
    raw = httpx.post(f"{server.base_url}/responses", json={"model": "gpt-4o", "input": "Weather in Oslo?",
                                                           "tools": [WEATHER], "stream": True}, timeout=10).text
    blocks = [block.split("\n") for block in raw.strip().split("\n\n")]
    assert all(b[0] == f"event: {json.loads(b[1][6:])['type']}" for b in blocks)


def test_demo_skips_a_framework_example_that_is_not_installed(monkeypatch, tmp_path):
    def find_spec(name, *args):
        if name == "llama_index.core":  # as the real find_spec does when the parent package is missing
            raise ModuleNotFoundError("No module named 'llama_index'")
        if name == "agents":
            return
        raise AssertionError(name)

    monkeypatch.setattr(_run.importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(_run, "DEMO_ORDER", ("openai_agents_tools", "llamaindex_rag", "read_traces"))
    out = io.StringIO()
    assert _run.run_examples(str(tmp_path / "t.db"), out=out) == []
    assert out.getvalue().splitlines() == [
        "  skipped openai_agents_tools: needs agents: pip install 'traceglass[openai-agents]'",
        "  skipped llamaindex_rag: needs llama_index.core: pip install 'traceglass[llamaindex]'",
    ]
