"""A LangChain chain and a LangGraph agent with a tool loop, traced by traceglass. No API key needed.

What it shows:
- a LangChain chain (prompt | chat model | parser) traced with no code change by the LangChain
  instrumentor that ``traceglass.configure(instrument=["langchain"])`` turns on;
- a LangGraph agent (model node -> conditional edge -> ToolNode -> model node) wrapped with
  ``traceglass.trace_graph(...)``: one span for the graph run, a ``graph_node`` span per node
  execution with its step, and the model and tool calls nested under the node that made them;
- session and user on every span of the graph run.

The models are langchain-core's fake chat models, so it runs offline.
Run: python examples/langchain_agent.py
"""

from __future__ import annotations

import os
from typing import Annotated, TypedDict

from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import traceglass


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return {"paris": "sunny, 21°C", "oslo": "snow, -3°C"}.get(city.lower(), "unknown")


class AgentState(TypedDict):
    messages: Annotated[list, add_messages]


def build_agent():
    # Scripted replies: ask for two tools, then answer from their results.
    model = GenericFakeChatModel(messages=iter([
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}]),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_2"}]),
        AIMessage("Paris is sunny (21°C); Oslo has snow (-3°C)."),
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


def print_tree(spans) -> None:
    by_parent: dict = {}
    for span in spans:
        by_parent.setdefault(span.parent.span_id if span.parent else None, []).append(span)

    def show(parent, depth):
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time):
            attributes = span.attributes or {}
            kind = attributes.get("traceglass.span.type", "?")
            step = attributes.get("traceglass.graph.step")
            extra = f" step {step}" if step is not None else ""
            millis = (span.end_time - span.start_time) / 1e6
            print(f"{'  ' * depth}{span.name} [{kind}{extra}] {millis:.2f} ms")
            show(span.context.span_id, depth + 1)

    show(None, 0)


def main() -> None:
    collected = InMemorySpanExporter()
    names = [n for n in os.environ.get("TRACEGLASS_EXPORTERS", "").split(",") if n.strip()]
    traceglass.configure(service_name="langchain-example", exporters=[*names, collected], instrument=["langchain"])

    chain = (ChatPromptTemplate.from_messages([("system", "Answer in one word."), ("human", "{question}")])
             | FakeListChatModel(responses=["Paris"]) | StrOutputParser())
    print("Chain:", chain.invoke({"question": "What is the capital of France?"}))

    agent = traceglass.trace_graph(build_agent(), name="weather-agent", session_id="demo-session",
                                   user_id="demo-user")
    result = agent.invoke({"messages": [HumanMessage("Weather in Paris and Oslo?")]})
    print("Agent:", result["messages"][-1].content)

    traceglass.flush()
    print()
    print_tree(collected.get_finished_spans())


if __name__ == "__main__":
    main()
