"""A streamed query (``streaming=True``): its model call runs when the application reads the answer,
outside the query; it still nests under the query's synthesizer, and the query ends with the stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import CompletionResponse, CompletionResponseGen
from llama_index.core.llms.callbacks import llm_completion_callback

from traceglass.instrumentors.openai import OpenAIInstrumentor

from ..agents._agents_support import tree
from ._li_support import HttpEmbedding, HttpLLM
from .test_llamaindex import DOCS, QUERY_TREE


@pytest.fixture
def streaming_engine(server):
    embed = HttpEmbedding(base_url=server.base_url)
    index = VectorStoreIndex.from_documents(DOCS, embed_model=embed)
    return index.as_query_engine(llm=HttpLLM(base_url=server.base_url), embed_model=embed, similarity_top_k=1,
                                 streaming=True)


def _ended_in_order(spans, names):
    ends = {s["name"]: s["end_time"] for s in spans}
    return [ends[n] for n in names] == sorted(ends[n] for n in names)


def test_streamed_query_is_one_tree_that_ends_with_the_stream(streaming_engine, instrumented, no_detach_errors):
    response = streaming_engine.query("weather in Paris?")
    # The query returned; its answer is not generated yet: the retrieval is done, the query is open.
    assert [s["name"] for s in instrumented.spans()] == ["embeddings text-embedding-3-small",
                                                         "retrieval VectorIndexRetriever"]
    assert "".join(response.response_gen) == "Hello there!"
    spans = instrumented.spans()
    assert tree(spans) == QUERY_TREE
    assert len({s["trace_id"] for s in spans}) == 1
    # Innermost first: the model call, then the synthesizer, then the query, after the last chunk.
    assert _ended_in_order(spans, ["text_completion gpt-4o-mini", "CompactAndRefine.synthesize",
                                   "RetrieverQueryEngine.query"])
    assert instrumented.span("RetrieverQueryEngine.query")["attributes"] == {
        "traceglass.span.type": "chain", "traceglass.input": "weather in Paris?", "traceglass.output": "Hello there!"}
    assert instrumented.span("CompactAndRefine.synthesize")["attributes"] == {
        "traceglass.span.type": "chain", "traceglass.input": "weather in Paris?", "traceglass.output": "Hello there!"}
    llm = instrumented.span("text_completion gpt-4o-mini")
    assert llm["attributes"]["gen_ai.request.stream"] is True
    assert llm["attributes"]["gen_ai.usage.output_tokens"] == 5
    assert [s["status"] for s in spans] == ["UNSET"] * len(spans)


def test_streamed_query_with_the_openai_instrumentor(streaming_engine, instrumented, no_detach_errors):
    openai_instrumentor = OpenAIInstrumentor()
    openai_instrumentor.instrument()
    try:
        response = streaming_engine.query("weather in Paris?")
        text = str(response)  # StreamingResponse.__str__ reads the whole stream
    finally:
        openai_instrumentor.uninstrument()
    assert text == "Hello there!"
    assert tree(instrumented.spans()) == [
        (0, "RetrieverQueryEngine.query", "chain"),
        (1, "retrieval VectorIndexRetriever", "retriever"),
        (2, "embeddings text-embedding-3-small", "embedding"),
        (3, "embeddings text-embedding-3-small", "embedding"),  # the OpenAI instrumentor's client span
        (1, "CompactAndRefine.synthesize", "chain"),
        (2, "text_completion gpt-4o-mini", "llm"),
        (3, "chat gpt-4o-mini", "llm"),
    ]


def test_async_streamed_query(streaming_engine, instrumented, no_detach_errors):
    async def main():
        response = await streaming_engine.aquery("weather in Paris?")
        return "".join([piece async for piece in response.async_response_gen()])

    assert asyncio.run(main()) == "Hello there!"
    spans = instrumented.spans()
    assert tree(spans) == [(0, "RetrieverQueryEngine.aquery", "chain"), QUERY_TREE[1], QUERY_TREE[2],
                           (1, "CompactAndRefine.asynthesize", "chain"), QUERY_TREE[4]]
    assert _ended_in_order(spans, ["text_completion gpt-4o-mini", "CompactAndRefine.asynthesize",
                                   "RetrieverQueryEngine.aquery"])
    assert instrumented.span("RetrieverQueryEngine.aquery")["attributes"]["traceglass.output"] == "Hello there!"


def test_a_stream_closed_early_ends_the_query_once(streaming_engine, instrumented, no_detach_errors):
    response = streaming_engine.query("weather in Paris?")
    first = next(response.response_gen)
    response.response_gen.close()
    spans = instrumented.spans()
    names = [s["name"] for s in spans]
    assert sorted(names) == sorted(name for _, name, _ in QUERY_TREE)
    assert tree(spans) == QUERY_TREE
    # What was read is the query's output; nothing is an error (the application chose to stop).
    assert instrumented.span("RetrieverQueryEngine.query")["attributes"]["traceglass.output"] == first
    assert {s["status"] for s in spans} == {"UNSET"}


class _Boom(RuntimeError):
    pass


class BrokenStreamLLM(HttpLLM):
    """Streams one chunk, then fails (a connection dropped mid-answer)."""

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text="Hello", delta="Hello")
            raise _Boom("connection lost")

        return gen()


@pytest.fixture
def broken_engine(server):
    embed = HttpEmbedding(base_url=server.base_url)
    return VectorStoreIndex.from_documents(DOCS, embed_model=embed).as_query_engine(
        llm=BrokenStreamLLM(base_url=server.base_url), embed_model=embed, similarity_top_k=1, streaming=True)


def test_a_stream_failing_midway_fails_the_query_and_the_error_passes(broken_engine, instrumented, no_detach_errors):
    response = broken_engine.query("weather in Paris?")
    read = []
    with pytest.raises(_Boom, match="connection lost"):
        for piece in response.response_gen:
            read.append(piece)
    assert read == ["Hello"]
    spans = instrumented.spans()
    assert tree(spans) == QUERY_TREE
    status = {s["name"]: (s["status"], s["attributes"].get("error.type")) for s in spans}
    assert status == {
        "RetrieverQueryEngine.query": ("ERROR", "_Boom"),
        "CompactAndRefine.synthesize": ("ERROR", "_Boom"),
        "text_completion gpt-4o-mini": ("ERROR", "_Boom"),
        "retrieval VectorIndexRetriever": ("UNSET", None),
        "embeddings text-embedding-3-small": ("UNSET", None),
    }
