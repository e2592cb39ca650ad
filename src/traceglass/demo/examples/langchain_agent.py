"""A LangChain chain and a LangGraph agent with a tool loop, traced by traceglass.

What it shows:
- a LangChain chain (prompt | ChatOpenAI | parser) traced with no code change: `configure()` turns
  on the LangChain instrumentor, and the OpenAI client span nests under the `chat_model` span with
  the call's tokens counted once;
- a LangGraph agent (model node -> conditional edge -> ToolNode -> model node) wrapped with
  `traceglass.trace_graph(...)`: one span for the graph run, a `graph_node` span per node
  execution with its step, and the model and tool calls nested under the node that made them;
- session and user on every span of the graph run.

Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Needs: pip install 'traceglass[demo]'   Run: python examples/langchain_agent.py
"""

from __future__ import annotations

from typing import Annotated, TypedDict

from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

import traceglass
from traceglass.demo import openai_endpoint


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return {"paris": "sunny, 21°C", "oslo": "snow, -3°C"}.get(city.lower(), f"mild and dry in {city}")


class AgentState(TypedDict):
    messages: Annotated[list, add_messages]


def build_agent(model: ChatOpenAI):
    model_with_tools = model.bind_tools([get_weather])

    def agent(state: AgentState) -> dict:
        return {"messages": [model_with_tools.invoke(state["messages"])]}

    def route(state: AgentState) -> str:
        return "tools" if state["messages"][-1].tool_calls else END

    graph = StateGraph(AgentState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile()


def main() -> None:
    traceglass.configure(service_name="langchain-agent")
    with openai_endpoint() as endpoint:
        model = ChatOpenAI(model="gpt-4o-mini", base_url=endpoint.base_url, api_key=endpoint.api_key,
                           max_retries=0, temperature=0)
        chain = (ChatPromptTemplate.from_messages([("system", "Answer in one sentence."), ("human", "{question}")])
                 | model | StrOutputParser())
        print("Chain:", chain.invoke({"question": "What is the capital of France?"}))

        agent = traceglass.trace_graph(build_agent(model), name="weather-agent", session_id="demo-session",
                                       user_id="demo-user")
        result = agent.invoke({"messages": [HumanMessage("What is the weather in Paris?")]})
        print("Agent:", result["messages"][-1].content)
    traceglass.flush()


if __name__ == "__main__":
    main()
