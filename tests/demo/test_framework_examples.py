"""The agent-framework examples (`examples/openai_agents_tools.py`, `examples/llamaindex_rag.py`) run
as `python examples/NAME.py` against the bundled server; their stored traces are the frameworks'
run trees, each model call counted once, with the tool call ids the server gave."""

from __future__ import annotations

import json

import pytest

from .test_examples import GPT_4O_MINI, all_spans, run_example, totals, trees, usd

pytest.importorskip("agents")
pytest.importorskip("llama_index.core")

AGENT_RUN = [
    (0, "invoke_workflow Agent workflow", "chain"),
    (1, "invoke_agent triage", "agent"),
    (2, "chat gpt-4o-mini", "llm"),
    (2, "handoff weather", "handoff"),
    (1, "invoke_agent weather", "agent"),
    (2, "chat gpt-4o-mini", "llm"),
    (2, "execute_tool get_weather", "tool"),
    (2, "chat gpt-4o-mini", "llm"),
]


def test_openai_agents_tools(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("openai_agents_tools", db)
    assert done.stdout == ("Run (weather): According to the tool: sunny, 21°C\n"
                           "Streamed (6 text deltas): According to the tool: snow, -3°C\n")
    # A run and a streamed run: the same tree (the OpenAI instrumentor's span is each model call).
    assert trees(db) == {"invoke_workflow Agent workflow": [AGENT_RUN, AGENT_RUN]}
    spans = all_spans(db)
    assert {(s.attributes.get("session.id"), s.attributes.get("user.id")) for s in spans} == \
        {("agents-demo", "demo-user")}
    tools = [s for s in spans if s.type == "tool"]
    assert [(s.attributes["gen_ai.tool.call.arguments"], s.attributes["gen_ai.tool.call.result"]) for s in tools] \
        == [('{"city": "Paris"}', "sunny, 21°C"), ('{"city": "Oslo"}', "snow, -3°C")]
    # Each tool span's call id is the one the server put in the model call's output before it.
    asked = [part for s in spans if s.type == "llm"
             for message in json.loads(s.attributes["gen_ai.output.messages"])
             for part in message["parts"] if part["type"] == "tool_call" and part["name"] == "get_weather"]
    assert [s.attributes["gen_ai.tool.call.id"] for s in tools] == [part["id"] for part in asked]
    assert all(part["id"].startswith("call_") for part in asked) and len({p["id"] for p in asked}) == 2
    # Each call once: the trace totals are the sums of its model calls' usage.
    for (name, input_tokens, output_tokens, cost), trace_spans in zip(totals(db), _by_trace(spans)):
        calls = [s for s in trace_spans if s.type == "llm"]
        assert len(calls) == 3
        assert (input_tokens, output_tokens) == (sum(s.input_tokens for s in calls), sum(s.output_tokens for s in calls))
        assert cost == usd(input_tokens, output_tokens, *GPT_4O_MINI)


def test_llamaindex_rag(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("llamaindex_rag", db)
    lisbon = "Lisbon in May is warm and bright: try pastel de nata (about 1.50 euros) and ride tram 28."
    assert done.stdout == f"Query: {lisbon}\nStreamed: {lisbon}\nTool: snow, -3°C\n"
    query = [
        (0, "RetrieverQueryEngine.query", "chain"),
        (1, "retrieval VectorIndexRetriever", "retriever"),
        (2, "embeddings text-embedding-3-small", "embedding"),
        (3, "embeddings text-embedding-3-small", "embedding"),  # the OpenAI client's span
        (1, "CompactAndRefine.synthesize", "chain"),
        (2, "text_completion gpt-4o-mini", "llm"),
        (3, "chat gpt-4o-mini", "llm"),
    ]
    # The streamed query is the same tree: its model call nests under the synthesizer.
    assert trees(db) == {
        "embeddings text-embedding-3-small": [[(0, "embeddings text-embedding-3-small", "embedding"),
                                               (1, "embeddings text-embedding-3-small", "embedding")]],
        "RetrieverQueryEngine.query": [query, query],
        "execute_tool get_weather": [[(0, "execute_tool get_weather", "tool")]],
    }
    spans = all_spans(db)
    streamed = [s for s in spans if s.name == "RetrieverQueryEngine.query"][1]
    assert streamed.attributes["traceglass.input"] == "How far is Porto from Lisbon?"
    assert streamed.attributes["traceglass.output"] == lisbon  # the answer read from the stream
    tool = next(s for s in spans if s.type == "tool")
    assert {k: v for k, v in tool.attributes.items() if k.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "get_weather(city: 'str') -> 'str'\nCurrent weather for a city.",
        "gen_ai.tool.call.arguments": '{"city":"Oslo"}', "gen_ai.tool.call.result": "snow, -3°C"}
    # LlamaIndex's model step and the OpenAI call inside it count once (the innermost usage).
    (index, first, second, _tool) = totals(db)
    for (name, input_tokens, output_tokens, cost), trace_spans in zip((first, second), _by_trace(spans)[1:3]):
        (call,) = [s for s in trace_spans if s.name == "chat gpt-4o-mini"]
        embedding = [s for s in trace_spans if s.name == "embeddings text-embedding-3-small"][-1]
        assert (input_tokens, output_tokens) == (call.input_tokens + embedding.input_tokens, call.output_tokens)
        assert cost == pytest.approx(usd(call.input_tokens, call.output_tokens, *GPT_4O_MINI).expected
                                     + usd(embedding.input_tokens, 0, 0.02).expected)
    assert {s.attributes.get("session.id") for s in spans if s.name != "embeddings text-embedding-3-small"
            or s.trace_id != spans[0].trace_id} == {"llamaindex-demo"}


def _by_trace(spans):
    out: dict[str, list] = {}
    for s in spans:
        out.setdefault(s.trace_id, []).append(s)
    return list(out.values())
