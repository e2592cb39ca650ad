"""``gen_ai.tool.call.id`` on the Agents SDK's tool spans.

The SDK's function span holds only the tool's name; the processor takes the id from the model
call that asked for the tool (its output's function calls, matched to the function spans that
follow by name, in order). Each test checks the exact id the server gave the call.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from agents import Agent, Runner, function_tool

from traceglass.demo.fake_openai import FakeOpenAIServer
from traceglass.instrumentors.openai import OpenAIInstrumentor
from traceglass.instrumentors.openai_agents import OpenAIAgentsInstrumentor

from ._agents_support import chat_model, responses_model, tree
from ._fake_responses import ResponsesServer
from .test_openai_agents import get_weather


@function_tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return f"noon in {city}"


@pytest.fixture(params=["agents only", "agents and openai"])
def instrumented(request, captured):
    """Our Agents SDK processor, alone or with the OpenAI instrumentor's spans standing in for the
    SDK's model-call spans (the ids must come through either way)."""
    agents_instrumentor, openai_instrumentor = OpenAIAgentsInstrumentor(), OpenAIInstrumentor()
    agents_instrumentor.instrument(exclusive=True)
    if request.param == "agents and openai":
        openai_instrumentor.instrument()
    try:
        yield captured
    finally:
        openai_instrumentor.uninstrument()
        agents_instrumentor.uninstrument()


def _tool_calls(spans):
    """(tool name, arguments, call id) of each tool span, in start order."""
    tools = sorted((s for s in spans if s["name"].startswith("execute_tool ")), key=lambda s: s["start_time"])
    return [(s["attributes"]["gen_ai.tool.name"], s["attributes"].get("gen_ai.tool.call.arguments"),
             s["attributes"].get("gen_ai.tool.call.id")) for s in tools]


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "streamed"])
def test_parallel_calls_to_the_same_tool_get_their_own_ids(instrumented, streamed, no_detach_errors):
    with ResponsesServer(repeat=2) as server:
        agent = Agent(name="weather", instructions="w", tools=[get_weather, get_time],
                      model=responses_model(server.base_url))
        if streamed:
            async def main():
                result = Runner.run_streamed(agent, "weather?")
                [event async for event in result.stream_events()]
                return result.final_output

            output = asyncio.run(main())
        else:
            output = Runner.run_sync(agent, "weather?").final_output
    assert output == "answer 2"
    # One response asked for four calls; the SDK runs each in its own function span.
    assert sorted(_tool_calls(instrumented.spans())) == [
        ("get_time", '{"city": "Paris"}', "call_1_2"),
        ("get_time", '{"city": "Rome"}', "call_1_3"),
        ("get_weather", '{"city": "Paris"}', "call_1"),
        ("get_weather", '{"city": "Rome"}', "call_1_1"),
    ]


def test_ids_of_each_turn_go_to_that_turns_tools(instrumented, responses_server):
    # Two agents, each calls its tool once: the handoff's call (call_1) is no function span and
    # is never given to one; get_weather gets the id of the second response.
    weather = Agent(name="weather", instructions="w", tools=[get_weather],
                    model=responses_model(responses_server.base_url))
    triage = Agent(name="triage", instructions="t", handoffs=[weather],
                   model=responses_model(responses_server.base_url))
    Runner.run_sync(triage, "weather?")
    assert _tool_calls(instrumented.spans()) == [("get_weather", '{"city": "Paris"}', "call_2")]
    requests = responses_server.script.bodies
    assert [item.get("call_id") for item in requests[2]["input"] if item.get("type") == "function_call"] == \
        ["call_1", "call_2"]


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "streamed"])
def test_chat_completions_model_tool_span_has_the_servers_call_id(instrumented, streamed, no_detach_errors):
    # The bundled demo server: a tool call when tools are offered and the last message is the
    # user's, a final answer once a tool result is in.
    with FakeOpenAIServer() as server:
        agent = Agent(name="weather", instructions="w", tools=[get_weather], model=chat_model(server.base_url))
        if streamed:
            async def main():
                result = Runner.run_streamed(agent, "What is the weather in Paris?")
                [event async for event in result.stream_events()]
                return result.final_output

            output = asyncio.run(main())
        else:
            output = Runner.run_sync(agent, "What is the weather in Paris?").final_output
        bodies = [body for path, body in server.requests if path.endswith("/chat/completions")]
    assert output == "According to the tool: sunny in Paris"
    assert len(bodies) == 2
    (assistant,) = [m for m in bodies[1]["messages"] if m.get("tool_calls")]
    (returned,) = assistant["tool_calls"]  # the call as the server returned it, sent back by the SDK
    assert returned["id"].startswith("call_") and len(returned["id"]) == 29
    assert _tool_calls(instrumented.spans()) == [("get_weather", json.dumps({"city": "Paris"}), returned["id"])]
    spans = instrumented.spans()
    chat = "chat gpt-4o-mini"
    assert tree(spans) == [
        (0, "invoke_workflow Agent workflow", "chain"),
        (1, "invoke_agent weather", "agent"),
        (2, chat, "llm"),
        (2, "execute_tool get_weather", "tool"),
        (2, chat, "llm"),
    ]
