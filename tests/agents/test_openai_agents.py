"""The OpenAI Agents SDK, for real, against a scripted Responses API on 127.0.0.1.

Agents, a tool loop, a handoff, guardrails and custom spans; the SDK's trace becomes our spans
through ``OpenAIAgentsInstrumentor``'s tracing processor.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    Runner,
    custom_span,
    function_tool,
    input_guardrail,
    trace,
)
from opentelemetry import trace as otel_trace

import traceglass
from traceglass.instrumentors.openai_agents import OpenAIAgentsInstrumentor

from ._agents_support import chat_model, parent_name, responses_model, tree
from ._fake_responses import INPUT_TOKENS, OUTPUT_TOKENS


@pytest.fixture
def instrumented(captured):
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(exclusive=True)
    try:
        yield captured
    finally:
        instrumentor.uninstrument()


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@input_guardrail
def polite(ctx, agent, user_input):
    return GuardrailFunctionOutput(output_info={"polite": True}, tripwire_triggered=False)


@input_guardrail
def no_shouting(ctx, agent, user_input):
    return GuardrailFunctionOutput(output_info={"shouting": True}, tripwire_triggered=True)


def _agents(base_url: str, guardrail=polite) -> Agent:
    weather = Agent(name="weather", instructions="Answer with the weather.", tools=[get_weather],
                    model=responses_model(base_url), handoff_description="Knows the weather")
    return Agent(name="triage", instructions="Route the question.", handoffs=[weather],
                 model=responses_model(base_url), input_guardrails=[guardrail])


EXPECTED_TREE = [
    (0, "invoke_workflow Agent workflow", "chain"),
    (1, "invoke_agent triage", "agent"),
    (2, "guardrail polite", "guardrail"),
    (2, "chat gpt-4o-2024-08-06", "llm"),
    (2, "handoff weather", "handoff"),
    (1, "invoke_agent weather", "agent"),
    (2, "chat gpt-4o-2024-08-06", "llm"),
    (2, "execute_tool get_weather", "tool"),
    (2, "chat gpt-4o-2024-08-06", "llm"),
]


def _by_name(spans, name):
    return [s for s in spans if s["name"] == name]


def test_tool_loop_and_handoff_make_one_tree(instrumented, responses_server, no_detach_errors):
    result = Runner.run_sync(_agents(responses_server.base_url), "What is the weather in Paris?")

    assert result.final_output == "answer 3"
    spans = instrumented.spans()
    assert tree(spans) == EXPECTED_TREE
    assert len({s["trace_id"] for s in spans}) == 1
    assert instrumented.span("invoke_workflow Agent workflow")["attributes"] == {
        "traceglass.span.type": "chain",
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "Agent workflow",
    }
    assert instrumented.span("invoke_agent triage")["attributes"] == {
        "traceglass.span.type": "agent",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "triage",
        "traceglass.agent.handoffs": ("weather",),
    }
    assert instrumented.span("invoke_agent weather")["attributes"] == {
        "traceglass.span.type": "agent",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "weather",
        "traceglass.agent.tools": ("get_weather",),
    }
    tool = instrumented.span("execute_tool get_weather")
    assert tool["kind"] == "INTERNAL" and tool["status"] == "UNSET"
    assert tool["attributes"] == {
        "traceglass.span.type": "tool",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "call_2",  # the id the server gave the call (the SDK's span lacks it)
        "gen_ai.tool.call.arguments": '{"city": "Paris"}',  # as the model sent them
        "gen_ai.tool.call.result": "sunny in Paris",
    }
    assert instrumented.span("handoff weather")["attributes"] == {
        "traceglass.span.type": "handoff",
        "traceglass.handoff.from_agent": "triage",
        "traceglass.handoff.to_agent": "weather",
    }
    assert instrumented.span("guardrail polite")["attributes"] == {
        "traceglass.span.type": "guardrail",
        "traceglass.guardrail.triggered": False,
    }
    calls = _by_name(spans, "chat gpt-4o-2024-08-06")
    assert [parent_name(spans, c) for c in calls] == ["invoke_agent triage", "invoke_agent weather",
                                                      "invoke_agent weather"]
    last = max(calls, key=lambda s: s["start_time"])
    assert last["kind"] == "CLIENT"
    messages = json.loads(last["attributes"]["gen_ai.input.messages"])
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert {k: v for k, v in last["attributes"].items() if k != "gen_ai.input.messages"} == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "openai.api.type": "responses",
        "gen_ai.response.id": "resp_3",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.finish_reasons": ("stop",),
        "openai.response.service_tier": "default",
        "gen_ai.usage.input_tokens": INPUT_TOKENS,
        "gen_ai.usage.output_tokens": OUTPUT_TOKENS,
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 0,
        "gen_ai.system_instructions": '[{"type":"text","content":"Answer with the weather."}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"answer 3"}],'
                                  '"finish_reason":"stop"}]',
    }


def test_async_run_and_content_off(responses_server, no_detach_errors):
    from traceglass.testing import capture

    instrumentor = OpenAIAgentsInstrumentor()
    with capture(capture_content=False) as captured:
        instrumentor.instrument(exclusive=True)
        try:
            agent = Agent(name="weather", instructions="secret instructions", tools=[get_weather],
                          model=responses_model(responses_server.base_url))
            result = asyncio.run(Runner.run(agent, "secret question"))
        finally:
            instrumentor.uninstrument()
    assert result.final_output == "answer 2"
    spans = captured.spans()
    assert tree(spans) == [
        (0, "invoke_workflow Agent workflow", "chain"),
        (1, "invoke_agent weather", "agent"),
        (2, "chat gpt-4o-2024-08-06", "llm"),
        (2, "execute_tool get_weather", "tool"),
        (2, "chat gpt-4o-2024-08-06", "llm"),
    ]
    assert captured.span("execute_tool get_weather")["attributes"] == {
        "traceglass.span.type": "tool",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "call_1",  # an id, not content
    }
    text = json.dumps([s["attributes"] for s in spans])
    assert "secret" not in text and "Paris" not in text


def test_streamed_run(instrumented, responses_server, no_detach_errors):
    agent = Agent(name="weather", instructions="w", tools=[get_weather],
                  model=responses_model(responses_server.base_url))

    async def main():
        result = Runner.run_streamed(agent, "weather?")
        events = [event async for event in result.stream_events()]
        return result.final_output, len(events)

    output, count = asyncio.run(main())
    assert output == "answer 2" and count > 0
    spans = instrumented.spans()
    assert tree(spans) == [
        (0, "invoke_workflow Agent workflow", "chain"),
        (1, "invoke_agent weather", "agent"),
        (2, "chat gpt-4o-2024-08-06", "llm"),
        (2, "execute_tool get_weather", "tool"),
        (2, "chat gpt-4o-2024-08-06", "llm"),
    ]
    assert [s["attributes"]["gen_ai.usage.input_tokens"] for s in _by_name(spans, "chat gpt-4o-2024-08-06")] == \
        [INPUT_TOKENS, INPUT_TOKENS]


def test_session_and_user_on_every_span(instrumented, responses_server):
    with traceglass.session("chat-42", user_id="alice"):
        Runner.run_sync(_agents(responses_server.base_url), "weather?")
    spans = instrumented.spans()
    assert len(spans) == len(EXPECTED_TREE)
    assert {(s["attributes"].get("session.id"), s["attributes"].get("user.id")) for s in spans} == \
        {("chat-42", "alice")}


def test_tripwire_fails_the_guardrail_and_reaches_the_user(instrumented, responses_server, no_detach_errors):
    with pytest.raises(InputGuardrailTripwireTriggered):
        Runner.run_sync(_agents(responses_server.base_url, guardrail=no_shouting), "WEATHER?")
    spans = instrumented.spans()
    guard = instrumented.span("guardrail no_shouting")
    assert guard["attributes"] == {"traceglass.span.type": "guardrail", "traceglass.guardrail.triggered": True}
    agent = instrumented.span("invoke_agent triage")
    assert agent["status"] == "ERROR"
    # The SDK puts the tripwire on the turn (a hidden span): the agent, its shown ancestor, fails.
    assert agent["attributes"]["error.type"] == "Guardrail tripwire triggered"
    assert agent["status_description"] == '{"guardrail": "no_shouting"}'
    assert instrumented.span("invoke_workflow Agent workflow")["status"] == "UNSET"
    assert parent_name(spans, guard) == "invoke_agent triage"
    # Every span the SDK started was ended (the workflow too).
    assert [name for _, name, _ in tree(spans)][:2] == ["invoke_workflow Agent workflow", "invoke_agent triage"]


def test_a_failing_tool_is_an_error_span(instrumented, responses_server):
    @function_tool
    def broken(city: str) -> str:
        """Always fails."""
        raise RuntimeError("no weather today")

    agent = Agent(name="weather", instructions="w", tools=[broken], model=responses_model(responses_server.base_url))
    result = Runner.run_sync(agent, "weather?")
    assert result.final_output == "answer 2"  # the SDK tells the model the tool failed, and goes on
    tool = instrumented.span("execute_tool broken")
    assert tool["status"] == "ERROR"
    assert tool["attributes"]["error.type"] == "Error running tool (non-fatal)"
    # The SDK redacts the exception's text from its span by default; so do we.
    assert tool["status_description"] == "Tool execution failed. Error details are redacted."


def test_custom_spans_and_a_named_trace_with_group(instrumented, responses_server):
    agent = Agent(name="plain", instructions="p", model=responses_model(responses_server.base_url))
    with trace("Support flow", group_id="thread-7"):
        with custom_span("lookup", {"rows": 3}):
            pass
        Runner.run_sync(agent, "hi")
        Runner.run_sync(agent, "again")
    spans = instrumented.spans()
    assert tree(spans) == [
        (0, "invoke_workflow Support flow", "chain"),
        (1, "lookup", "custom"),
        (1, "invoke_agent plain", "agent"),
        (2, "chat gpt-4o-2024-08-06", "llm"),
        (1, "invoke_agent plain", "agent"),
        (2, "chat gpt-4o-2024-08-06", "llm"),
    ]
    assert instrumented.span("invoke_workflow Support flow")["attributes"] == {
        "traceglass.span.type": "chain",
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "Support flow",
        "gen_ai.conversation.id": "thread-7",
    }
    assert instrumented.span("lookup")["attributes"] == {"traceglass.span.type": "custom",
                                                          "traceglass.output": '{"rows":3}'}


def test_spans_inside_a_tool_nest_under_it(instrumented, responses_server):
    @traceglass.observe(name="helper")
    def helper(city: str) -> str:
        return city.upper()

    @function_tool
    def shout(city: str) -> str:
        """Shouts the city."""
        return helper(city)

    agent = Agent(name="loud", instructions="l", tools=[shout], model=responses_model(responses_server.base_url))
    tracer = otel_trace.get_tracer("app", tracer_provider=instrumented.tracer_provider)
    with tracer.start_as_current_span("request"):
        Runner.run_sync(agent, "go")
    spans = instrumented.spans()
    assert tree(spans) == [
        (0, "request", None),
        (1, "invoke_workflow Agent workflow", "chain"),
        (2, "invoke_agent loud", "agent"),
        (3, "chat gpt-4o-2024-08-06", "llm"),
        (3, "execute_tool shout", "tool"),
        (4, "helper", "custom"),
        (3, "chat gpt-4o-2024-08-06", "llm"),
    ]


def test_chat_completions_model_makes_a_generation_span(instrumented, no_detach_errors):
    from ..openai._fake_api import LocalOpenAIServer

    with LocalOpenAIServer() as server:
        agent = Agent(name="chatty", instructions="Be brief.", model=chat_model(server.base_url))
        result = Runner.run_sync(agent, "Hello")
    assert result.final_output
    spans = instrumented.spans()
    assert tree(spans) == [
        (0, "invoke_workflow Agent workflow", "chain"),
        (1, "invoke_agent chatty", "agent"),
        (2, "chat gpt-4o-mini", "llm"),
    ]
    call = instrumented.span("chat gpt-4o-mini")
    assert call["kind"] == "CLIENT"
    attributes = dict(call["attributes"])
    messages = json.loads(attributes.pop("gen_ai.input.messages"))
    assert messages == [{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                        {"role": "user", "parts": [{"type": "text", "content": "Hello"}]}]
    assert json.loads(attributes.pop("gen_ai.output.messages"))[0]["role"] == "assistant"
    assert attributes == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "gen_ai.usage.reasoning.output_tokens": 2,
    }


def test_uninstrument_stops_spans(captured, responses_server):
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(exclusive=True)
    instrumentor.uninstrument()
    agent = Agent(name="plain", instructions="p", model=responses_model(responses_server.base_url))
    assert Runner.run_sync(agent, "hi").final_output == "answer 1"
    assert captured.spans() == []
