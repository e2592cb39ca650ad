"""LangGraph: node spans under one graph span, loops, tool nodes, subgraphs, parallel branches, trace_graph()."""

from __future__ import annotations

import contextlib
import json
import operator
from typing import Annotated, TypedDict

import pytest
from ._lc_support import tree
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

import traceglass
from traceglass.instrumentors.langchain import trace_graph


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


class AgentState(TypedDict):
    messages: Annotated[list, add_messages]


def build_agent():
    """A model/tool loop: agent -> (tools -> agent)* -> END, routed by a conditional edge."""
    model = GenericFakeChatModel(messages=iter([
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}]),
        AIMessage("It is sunny in Paris."),
    ]))

    def agent(state: AgentState) -> dict:
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: AgentState) -> str:
        return "tools" if state["messages"][-1].tool_calls else END

    graph = StateGraph(AgentState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile()


AGENT_TREE = [
    (1, "agent", "graph_node"),
    (2, "GenericFakeChatModel", "chat_model"),
    (2, "route", "chain"),
    (1, "tools", "graph_node"),
    (2, "execute_tool get_weather", "tool"),
    (1, "agent", "graph_node"),
    (2, "GenericFakeChatModel", "chat_model"),
    (2, "route", "chain"),
]
QUESTION = {"messages": [HumanMessage("Weather in Paris?")]}


async def run(graph, mode: str, inputs=QUESTION):
    if mode == "invoke":
        return graph.invoke(inputs)
    if mode == "ainvoke":
        return await graph.ainvoke(inputs)
    if mode == "stream":
        return list(graph.stream(inputs))
    if mode == "astream":
        return [c async for c in graph.astream(inputs)]
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_graph_run_with_loop_and_tool_node(instrumented, no_detach_errors, mode):
    await run(build_agent(), mode)

    spans = instrumented.spans()
    assert tree(spans) == [(0, "LangGraph", "chain"), *AGENT_TREE]
    assert len({s["trace_id"] for s in spans}) == 1
    nodes = sorted((s for s in spans if s["attributes"]["traceglass.span.type"] == "graph_node"),
                   key=lambda s: s["start_time"])
    assert [(n["attributes"]["traceglass.graph.node"], n["attributes"]["traceglass.graph.step"]) for n in nodes] == [
        ("agent", 1), ("tools", 2), ("agent", 3)]
    tools_node = nodes[1]
    assert set(tools_node["attributes"]) == {
        "traceglass.span.type", "traceglass.graph.node", "traceglass.graph.step", "traceglass.input",
        "traceglass.output"}
    tool_span = instrumented.span("execute_tool get_weather")
    assert tool_span["parent_id"] == tools_node["span_id"]
    assert tool_span["attributes"]["gen_ai.tool.call.id"] == "call_1"
    assert tool_span["attributes"]["gen_ai.tool.call.result"] == "sunny in Paris"
    final_chat = [s for s in spans if s["name"] == "GenericFakeChatModel"][-1]
    assert json.loads(final_chat["attributes"]["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny in Paris."}], "finish_reason": "stop"}]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_trace_graph_without_the_instrumentor(captured, no_detach_errors, mode):
    graph = trace_graph(build_agent(), name="weather-agent", session_id="s-42", user_id="u-7", tags=["demo"])

    await run(graph, mode)

    spans = captured.spans()
    assert tree(spans) == [(0, "weather-agent", "chain"), *AGENT_TREE]
    for span in spans:
        assert span["attributes"]["session.id"] == "s-42"
        assert span["attributes"]["user.id"] == "u-7"
        assert span["attributes"]["traceglass.tags"] == ("demo",)
    assert traceglass.current_span  # the module is importable; the session never leaks:
    from traceglass._context import current_session
    assert current_session() is None


def test_trace_graph_and_instrumentor_together_make_no_duplicates(instrumented, no_detach_errors):
    trace_graph(build_agent()).invoke(QUESTION)
    assert tree(instrumented.spans()) == [(0, "LangGraph", "chain"), *AGENT_TREE]


def test_no_spans_without_instrumentor_or_trace_graph(captured):
    build_agent().invoke(QUESTION)
    assert captured.spans() == []


def test_subgraph_nodes_nest_under_the_subgraph_node(instrumented, no_detach_errors):
    class State(TypedDict):
        steps: Annotated[list, operator.add]

    inner = StateGraph(State)
    inner.add_node("plan", lambda s: {"steps": ["plan"]})
    inner.add_node("act", lambda s: {"steps": ["act"]})
    inner.add_edge(START, "plan")
    inner.add_edge("plan", "act")
    inner.add_edge("act", END)

    outer = StateGraph(State)
    outer.add_node("prepare", lambda s: {"steps": ["prepare"]})
    outer.add_node("worker", inner.compile())
    outer.add_edge(START, "prepare")
    outer.add_edge("prepare", "worker")
    outer.add_edge("worker", END)

    assert outer.compile().invoke({"steps": []})["steps"][-2:] == ["plan", "act"]
    assert tree(instrumented.spans()) == [
        (0, "LangGraph", "chain"),
        (1, "prepare", "graph_node"),
        (1, "worker", "graph_node"),
        (2, "LangGraph", "chain"),  # the subgraph's own run, with its nodes under it
        (3, "plan", "graph_node"),
        (3, "act", "graph_node"),
    ]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_parallel_branches_keep_their_own_children(instrumented, no_detach_errors, mode):
    class State(TypedDict):
        answers: Annotated[list, operator.add]

    def branch(name: str):
        model = GenericFakeChatModel(messages=iter([AIMessage(f"{name} answer")]))

        @traceglass.observe(type="tool", name=f"{name}-helper")
        def helper() -> str:
            return model.invoke(f"question for {name}").content

        def node(state: State) -> dict:
            return {"answers": [helper()]}

        return node

    graph = StateGraph(State)
    for name in ("left", "right"):
        graph.add_node(name, branch(name))
        graph.add_edge(START, name)
        graph.add_edge(name, END)
    result = await run(graph.compile(), mode, {"answers": []})
    assert sorted(result["answers"]) == ["left answer", "right answer"]

    rows = tree(instrumented.spans())
    assert rows[0] == (0, "LangGraph", "chain")
    branches = sorted([rows[1:4], rows[4:7]])
    assert branches == [
        [(1, "left", "graph_node"), (2, "left-helper", "tool"), (3, "GenericFakeChatModel", "chat_model")],
        [(1, "right", "graph_node"), (2, "right-helper", "tool"), (3, "GenericFakeChatModel", "chat_model")],
    ]
    spans = instrumented.spans()
    for name in ("left", "right"):
        chat = next(s for s in spans if s["name"] == "GenericFakeChatModel" and name in
                    s["attributes"]["gen_ai.input.messages"])
        helper = instrumented.span(f"{name}-helper")
        assert chat["parent_id"] == helper["span_id"]
        assert helper["parent_id"] == instrumented.span(name)["span_id"]


async def test_stopping_a_stream_early_ends_every_span_without_error(instrumented, no_detach_errors):
    for _ in build_agent().stream(QUESTION):
        break
    async with contextlib.aclosing(build_agent().astream(QUESTION)) as stream:  # async generators close here
        async for _ in stream:
            break

    spans = instrumented.spans()
    assert tree(spans) == [
        (0, "LangGraph", "chain"), (1, "agent", "graph_node"), (2, "GenericFakeChatModel", "chat_model"),
        (2, "route", "chain")] * 2
    assert {s["status"] for s in spans} == {"UNSET"}


def _assert_separate_agent_traces(spans: list[dict], count: int) -> None:
    roots = [s for s in spans if s["parent_id"] is None]
    assert len(roots) == count
    assert len({r["trace_id"] for r in roots}) == count
    for root in roots:
        members = [s for s in spans if s["trace_id"] == root["trace_id"]]
        assert tree(members) == [(0, root["name"], "chain"), *AGENT_TREE]


def test_concurrent_graph_runs_in_threads_never_cross_link(captured, no_detach_errors):
    from concurrent.futures import ThreadPoolExecutor

    def ask(i: int) -> str:
        return trace_graph(build_agent(), name=f"run-{i}").invoke(QUESTION)["messages"][-1].content

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(ask, range(6))) == {"It is sunny in Paris."}
    _assert_separate_agent_traces(captured.spans(), 6)


async def test_concurrent_graph_runs_in_tasks_never_cross_link(captured, no_detach_errors):
    import asyncio

    results = await asyncio.gather(*(trace_graph(build_agent(), name=f"run-{i}").ainvoke(QUESTION)
                                     for i in range(6)))
    assert {r["messages"][-1].content for r in results} == {"It is sunny in Paris."}
    _assert_separate_agent_traces(captured.spans(), 6)
