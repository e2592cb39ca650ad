"""LangChain embeddings: one `embedding` span per call, on classes defined before and after instrument()."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import Embeddings

from traceglass.demo import FakeOpenAIServer
from traceglass.instrumentors.openai import OpenAIInstrumentor

from ._lc_support import tree


class DefinedBefore(Embeddings):
    model = "local-embedder"

    def embed_documents(self, texts):
        return [[0.5, 0.5, 0.5, 0.5] for _ in texts]

    def embed_query(self, text):
        return self.embed_documents([text])[0]  # must not make a second span


def test_documents_and_query_make_one_span_each(instrumented, no_detach_errors):
    embedder = DefinedBefore()
    assert embedder.embed_documents(["first", "second"]) == [[0.5] * 4, [0.5] * 4]
    assert embedder.embed_query("third") == [0.5] * 4
    spans = instrumented.spans()
    assert [s["name"] for s in spans] == ["embeddings local-embedder", "embeddings local-embedder"]
    assert spans[0]["kind"] == "INTERNAL"
    assert spans[0]["attributes"] == {
        "traceglass.span.type": "embedding",
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "local-embedder",
        "gen_ai.embeddings.dimension.count": 4,
        "traceglass.embeddings.input_count": 2,
        "traceglass.embedder": "DefinedBefore",
        "traceglass.input": '["first","second"]',
    }
    assert spans[1]["attributes"]["traceglass.input"] == '["third"]'


async def test_class_defined_after_instrument_and_async_defaults(instrumented, no_detach_errors):
    class DefinedAfter(Embeddings):
        def embed_documents(self, texts):
            return [[1.0, 2.0] for _ in texts]

        def embed_query(self, text):
            return [1.0, 2.0]

    # the async defaults run the sync methods in an executor: still one span per call
    assert await DefinedAfter().aembed_documents(["x", "y", "z"]) == [[1.0, 2.0]] * 3
    assert await DefinedAfter().aembed_query("q") == [1.0, 2.0]
    spans = instrumented.spans()
    assert [(s["name"], s["attributes"]["traceglass.embeddings.input_count"]) for s in spans] == [
        ("embeddings", 3), ("embeddings", 1)]


def test_errors_are_recorded_and_reraised(instrumented):
    class Broken(Embeddings):
        def embed_documents(self, texts):
            raise ConnectionError("embedding service down")

        def embed_query(self, text):
            raise ConnectionError("embedding service down")

    with pytest.raises(ConnectionError, match="service down"):
        Broken().embed_query("q")
    (span,) = instrumented.spans()
    assert span["status"] == "ERROR"
    assert span["attributes"]["error.type"] == "ConnectionError"


def test_uninstrument_removes_the_wrappers(captured):
    from traceglass.instrumentors.langchain import LangChainInstrumentor

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    instrumentor.uninstrument()

    class Later(Embeddings):
        def embed_documents(self, texts):
            return []

        def embed_query(self, text):
            return []

    DefinedBefore().embed_query("q")
    Later().embed_query("q")
    assert captured.spans() == []


def test_content_off_keeps_counts_only():
    from traceglass.instrumentors.langchain import LangChainInstrumentor
    from traceglass.testing import capture

    with capture(capture_content=False) as captured:
        instrumentor = LangChainInstrumentor()
        instrumentor.instrument()
        try:
            DefinedBefore().embed_documents(["secret"])
        finally:
            instrumentor.uninstrument()
    (span,) = captured.spans()
    assert "traceglass.input" not in span["attributes"]
    assert span["attributes"]["traceglass.embeddings.input_count"] == 1


def test_openai_embeddings_nest_the_client_span_and_count_once(instrumented, no_detach_errors):
    from langchain_openai import OpenAIEmbeddings

    openai_instrumentor = OpenAIInstrumentor()
    openai_instrumentor.instrument()
    try:
        with FakeOpenAIServer() as server:
            embedder = OpenAIEmbeddings(model="text-embedding-3-small", base_url=server.base_url, api_key="sk-test",
                                        max_retries=0, check_embedding_ctx_length=False, dimensions=8)
            vectors = embedder.embed_documents(["alpha", "beta"])
    finally:
        openai_instrumentor.uninstrument()
    assert [len(v) for v in vectors] == [8, 8]
    spans = instrumented.spans()
    assert tree(spans) == [
        (0, "embeddings text-embedding-3-small", "embedding"),
        (1, "embeddings text-embedding-3-small", "embedding"),
    ]
    outer = next(s for s in spans if s["parent_id"] is None)
    assert outer["attributes"]["gen_ai.provider.name"] == "openai"
    assert outer["attributes"]["gen_ai.embeddings.dimension.count"] == 8
    # one call, one operation: the duration metric comes from the OpenAI client layer only
    (duration,) = instrumented.metrics()["gen_ai.client.operation.duration"]
    assert duration["count"] == 1
    assert duration["attributes"]["server.address"] == "127.0.0.1"
