"""LlamaIndex workflows and agents (llama-index-workflows, bundled with llama-index-core): a
workflow's run and steps, and a FunctionAgent's loop with a tool call, using llama-index's own
``MockFunctionCallingLLM`` (it asks for a tool, then answers: an LLM fake over HTTP would need a
function-calling LlamaIndex integration, which would downgrade openai here)."""

from __future__ import annotations

import asyncio
import json

from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import MockFunctionCallingLLM
from llama_index.core.workflow import Event, StartEvent, StopEvent, Workflow, step

from ..agents._agents_support import tree


class Mid(Event):
    text: str


class Shout(Workflow):
    @step
    async def first(self, ev: StartEvent) -> Mid:
        return Mid(text=ev.topic)

    @step
    async def second(self, ev: Mid) -> StopEvent:
        return StopEvent(result=ev.text.upper())


def get_time() -> str:
    """The time."""
    return "noon"


def _run(make_handler):
    """``Workflow.run`` schedules a task: it must be called inside a running event loop."""
    async def main():
        return await make_handler()

    return asyncio.run(main())


def test_workflow_run_and_steps(instrumented, no_detach_errors):
    assert _run(lambda: Shout(timeout=10).run(topic="paris")) == "PARIS"
    assert tree(instrumented.spans()) == [
        (0, "invoke_workflow Shout", "chain"),
        (1, "Shout.first", "graph_node"),
        (1, "Shout.second", "graph_node"),
    ]
    assert instrumented.span("invoke_workflow Shout")["attributes"] == {
        "traceglass.span.type": "chain",
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "Shout",
        "traceglass.output": "PARIS",
    }
    assert instrumented.span("Shout.second")["attributes"] == {
        "traceglass.span.type": "graph_node",
        "traceglass.graph.node": "second",
        "traceglass.input": "Mid(text='paris')",
        "traceglass.output": "PARIS",  # its StopEvent's result
    }


def test_function_agent_loop(instrumented, no_detach_errors):
    agent = FunctionAgent(name="helper", description="Helps.", tools=[get_time], llm=MockFunctionCallingLLM())
    assert str(_run(lambda: agent.run(user_msg="hi"))) == "Tool calls complete."
    spans = instrumented.spans()
    # The agent's own steps (init_run, setup_agent, call_tool, ...) are hidden.
    assert tree(spans) == [
        (0, "invoke_agent helper", "agent"),
        (1, "chat MockFunctionCallingLLM", "chat_model"),
        (1, "execute_tool get_time", "tool"),
        (1, "chat MockFunctionCallingLLM", "chat_model"),
    ]
    assert instrumented.span("invoke_agent helper")["attributes"] == {
        "traceglass.span.type": "agent",
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "helper",
        "gen_ai.agent.description": "Helps.",
        "traceglass.agent.tools": ("get_time",),
        "traceglass.output": "Tool calls complete.",
    }
    first = min((s for s in spans if s["name"] == "chat MockFunctionCallingLLM"), key=lambda s: s["start_time"])
    (call,) = json.loads(first["attributes"]["gen_ai.output.messages"])[0]["parts"]
    assert (call["type"], call["name"], call["arguments"]) == ("tool_call", "get_time", {})
    assert first["attributes"]["gen_ai.request.stream"] is True
    assert instrumented.span("execute_tool get_time")["attributes"]["gen_ai.tool.call.result"] == "noon"
