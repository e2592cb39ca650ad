"""Tools, retrievers and legacy agent actions."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from ._lc_support import tree
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.callbacks import CallbackManager, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import ToolException, tool

import traceglass


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    with traceglass.span("lookup", type="custom"):
        return f"sunny in {city}"


@tool
def broken(city: str) -> str:
    """Always fails."""
    raise ToolException(f"no data for {city}")


class FixedRetriever(BaseRetriever):
    """Returns two fixed documents."""

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(page_content=f"{query} is in Europe", metadata={"source": "atlas", "score": 0.9}, id="d1"),
            Document(page_content="Paris is a city", metadata={}, id="d2"),
        ]


def test_tool_span_name_description_input_output(instrumented, no_detach_errors):
    assert get_weather.invoke({"city": "Paris"}) == "sunny in Paris"

    assert tree(instrumented.spans()) == [(0, "execute_tool get_weather", "tool"), (1, "lookup", "custom")]
    span = instrumented.span("execute_tool get_weather")
    assert span["kind"] == "INTERNAL"
    assert span["attributes"] == {
        "traceglass.span.type": "tool",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.description": "Weather for a city.",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": '{"city":"Paris"}',
        "gen_ai.tool.call.result": "sunny in Paris",
    }


def test_tool_called_with_a_tool_call_records_the_call_id(instrumented):
    message = get_weather.invoke({"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_9", "type": "tool_call"})
    assert message.content == "sunny in Oslo"

    attributes = instrumented.span("execute_tool get_weather")["attributes"]
    assert attributes["gen_ai.tool.call.id"] == "call_9"
    assert attributes["gen_ai.tool.call.result"] == "sunny in Oslo"


def test_tool_error_sets_status_and_error_type(instrumented, no_detach_errors):
    with pytest.raises(ToolException, match="no data for Rome"):
        broken.invoke({"city": "Rome"})

    span = instrumented.span("execute_tool broken")
    assert span["status"] == "ERROR"
    assert span["status_description"] == "ToolException: no data for Rome"
    assert span["attributes"]["error.type"] == "ToolException"
    assert [e["name"] for e in span["events"]] == ["exception"]


async def test_retriever_span_query_and_documents(instrumented, no_detach_errors):
    docs = await FixedRetriever().ainvoke("France")
    assert [d.id for d in docs] == ["d1", "d2"]

    span = instrumented.span("retrieval FixedRetriever")
    assert span["kind"] == "CLIENT"
    assert span["attributes"] == {
        "traceglass.span.type": "retriever",
        "gen_ai.operation.name": "retrieval",
        "traceglass.retrieval.document_count": 2,
        "gen_ai.retrieval.query.text": "France",
        "gen_ai.retrieval.documents": json.dumps([
            {"id": "d1", "content": "France is in Europe", "score": 0.9,
             "metadata": {"source": "atlas", "score": 0.9}},
            {"id": "d2", "content": "Paris is a city"},
        ], separators=(",", ":")),
    }


def test_agent_actions_are_spans_under_the_agent_run(instrumented, no_detach_errors):
    # The legacy AgentExecutor lives in `langchain`; its callbacks are langchain-core's, driven here
    # through a real callback manager exactly as AgentExecutor drives them.
    manager = CallbackManager.configure()
    run = manager.on_chain_start(None, {"input": "weather?"}, run_id=uuid4(), name="AgentExecutor")
    run.on_agent_action(AgentAction(tool="get_weather", tool_input={"city": "Paris"}, log="I should look it up"))
    get_weather.invoke({"city": "Paris"}, config={"callbacks": run.get_child()})
    run.on_agent_finish(AgentFinish(return_values={"output": "sunny"}, log="done"))
    run.on_chain_end({"output": "sunny"})

    assert tree(instrumented.spans()) == [
        (0, "AgentExecutor", "agent"),
        (1, "agent_action get_weather", "agent_action"),
        (1, "execute_tool get_weather", "tool"),
        (2, "lookup", "custom"),
    ]
    assert instrumented.span("agent_action get_weather")["attributes"] == {
        "traceglass.span.type": "agent_action",
        "gen_ai.tool.name": "get_weather",
        "traceglass.input": '{"city":"Paris"}',
        "traceglass.output": "I should look it up",
    }
    assert instrumented.span("AgentExecutor")["attributes"] == {
        "traceglass.span.type": "agent",
        "traceglass.input": '{"input":"weather?"}',
        "traceglass.output": '{"output":"sunny"}',
    }
