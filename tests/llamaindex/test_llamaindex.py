"""LlamaIndex, for real: an index, a query engine, retriever, synthesizer, LLM and embedding calls
and tools, traced through the instrumentation dispatcher. The LLM and embedding model call the real
openai SDK against the local fake on 127.0.0.1 (see ``_li_support``)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.tools import FunctionTool

import traceglass
from traceglass.instrumentors.llamaindex import LlamaIndexInstrumentor

from ..agents._agents_support import parent_name, tree
from ._li_support import HttpEmbedding, HttpLLM

DOCS = [Document(text="Paris is sunny.", id_="paris"), Document(text="Rome is rainy.", id_="rome")]


@pytest.fixture
def engine(server):
    embed = HttpEmbedding(base_url=server.base_url)
    index = VectorStoreIndex.from_documents(DOCS, embed_model=embed)
    return index.as_query_engine(llm=HttpLLM(base_url=server.base_url), embed_model=embed, similarity_top_k=1)


QUERY_TREE = [
    (0, "RetrieverQueryEngine.query", "chain"),
    (1, "retrieval VectorIndexRetriever", "retriever"),
    (2, "embeddings text-embedding-3-small", "embedding"),
    (1, "CompactAndRefine.synthesize", "chain"),
    (2, "text_completion gpt-4o-mini", "llm"),
]


def test_query_engine_tree_and_attributes(engine, instrumented, no_detach_errors):
    assert str(engine.query("weather in Paris?")) == "Hello there!"
    spans = instrumented.spans()
    assert tree(spans) == QUERY_TREE
    assert len({s["trace_id"] for s in spans}) == 1
    assert instrumented.span("RetrieverQueryEngine.query")["attributes"] == {
        "traceglass.span.type": "chain", "traceglass.input": "weather in Paris?", "traceglass.output": "Hello there!"}
    assert instrumented.span("CompactAndRefine.synthesize")["attributes"] == {
        "traceglass.span.type": "chain", "traceglass.input": "weather in Paris?", "traceglass.output": "Hello there!"}
    retrieval = instrumented.span("retrieval VectorIndexRetriever")
    attributes = dict(retrieval["attributes"])
    documents = json.loads(attributes.pop("gen_ai.retrieval.documents"))
    assert [{k: v for k, v in d.items() if k != "id"} for d in documents] == [
        {"score": 1.0, "content": "Paris is sunny."}]
    assert attributes == {
        "traceglass.span.type": "retriever",
        "gen_ai.operation.name": "retrieval",
        "gen_ai.retrieval.query.text": "weather in Paris?",
        "traceglass.retrieval.document_count": 1,
    }
    assert instrumented.span("embeddings text-embedding-3-small")["attributes"] == {
        "traceglass.span.type": "embedding",
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "gen_ai.embeddings.dimension.count": 3,
        "traceglass.embeddings.input_count": 1,
        "traceglass.embedder": "HttpEmbedding",
        "traceglass.input": '["weather in Paris?"]',
    }
    llm = instrumented.span("text_completion gpt-4o-mini")
    assert llm["kind"] == "CLIENT"
    attributes = dict(llm["attributes"])
    prompt = json.loads(attributes.pop("gen_ai.input.messages"))
    assert "Paris is sunny." in prompt[0]["parts"][0]["content"]
    assert attributes == {
        "traceglass.span.type": "llm",
        "gen_ai.operation.name": "text_completion",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.id": "chatcmpl-abc123",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"Hello there!"}]}]',
    }


def test_async_query(engine, instrumented, no_detach_errors):
    assert str(asyncio.run(engine.aquery("weather in Paris?"))) == "Hello there!"
    # CustomLLM.acomplete calls complete: two start events for one call, one span.
    assert tree(instrumented.spans()) == [(0, "RetrieverQueryEngine.aquery", "chain"), QUERY_TREE[1], QUERY_TREE[2],
                                          (1, "CompactAndRefine.asynthesize", "chain"), QUERY_TREE[4]]


def test_stream_ends_once_after_the_last_chunk(server, instrumented, no_detach_errors):
    stream = HttpLLM(base_url=server.base_url).stream_complete("hi")
    assert instrumented.spans() == []  # the call returned its generator: still open
    deltas = [chunk.delta for chunk in stream]
    consumed = time.time_ns()
    assert deltas == ["Hello", " there", "!", ""]
    (span,) = instrumented.spans()
    assert span["name"] == "text_completion gpt-4o-mini" and span["end_time"] <= consumed
    assert span["attributes"]["gen_ai.request.stream"] is True
    assert span["attributes"]["gen_ai.output.messages"] == \
        '[{"role":"assistant","parts":[{"type":"text","content":"Hello there!"}]}]'
    assert (span["attributes"]["gen_ai.usage.input_tokens"], span["attributes"]["gen_ai.usage.output_tokens"]) == (20, 5)


def test_tool_call(instrumented):
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    tool = FunctionTool.from_defaults(fn=get_weather)
    assert tool.call(city="Paris").content == "sunny in Paris"
    assert tree(instrumented.spans()) == [(0, "execute_tool get_weather", "tool")]
    assert instrumented.span("execute_tool get_weather")["attributes"] == {
        "traceglass.span.type": "tool",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.description": "get_weather(city: 'str') -> 'str'\nThe weather in a city.",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": '{"city":"Paris"}',
        "gen_ai.tool.call.result": "sunny in Paris",
    }


def test_decorated_code_inside_a_tool_nests_under_it(instrumented):
    @traceglass.observe(name="lookup")
    def lookup(city: str) -> str:
        return city.upper()

    def shout(city: str) -> str:
        """Shouts."""
        return lookup(city)

    FunctionTool.from_defaults(fn=shout).call(city="paris")
    spans = instrumented.spans()
    assert tree(spans) == [(0, "execute_tool shout", "tool"), (1, "lookup", "custom")]


def test_session_and_user_on_every_span(engine, instrumented):
    with traceglass.session("s-1", user_id="bob"):
        engine.query("weather?")
    spans = instrumented.spans()
    assert len(spans) == len(QUERY_TREE)
    assert {(s["attributes"]["session.id"], s["attributes"]["user.id"]) for s in spans} == {("s-1", "bob")}


def test_a_failing_step_is_an_error_span_and_the_error_passes(instrumented, server):
    class Boom(Exception):
        pass

    def broken(city: str) -> str:
        """Fails."""
        raise Boom("no")

    with pytest.raises(Boom):
        FunctionTool.from_defaults(fn=broken).call(city="x")
    span = instrumented.span("execute_tool broken")
    assert span["status"] == "ERROR" and span["attributes"]["error.type"].endswith(".Boom")


def test_uninstrument_stops_spans(engine, captured):
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    instrumentor.uninstrument()
    engine.query("weather?")
    assert captured.spans() == []
