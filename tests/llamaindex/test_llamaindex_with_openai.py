"""LlamaIndex over the openai SDK with both instrumentors on: the SDK span nests under LlamaIndex's
model step, and the store's trace totals count each call once (the innermost usage counts)."""

from __future__ import annotations

import pytest
from llama_index.core import VectorStoreIndex
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from traceglass.exporters.sqlite import SQLiteSpanExporter
from traceglass.instrumentors.llamaindex import LlamaIndexInstrumentor
from traceglass.instrumentors.openai import OpenAIInstrumentor
from traceglass.processors.cost import CostSpanProcessor
from traceglass.store import TraceStore

from ._li_support import HttpEmbedding, HttpLLM
from .test_llamaindex import DOCS


def test_each_call_counted_once(server, tmp_path):
    db = tmp_path / "traces.db"
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(SQLiteSpanExporter(db))))
    embed = HttpEmbedding(base_url=server.base_url)
    index = VectorStoreIndex.from_documents(DOCS, embed_model=embed)  # before tracing: not stored
    llamaindex, openai_instrumentor = LlamaIndexInstrumentor(), OpenAIInstrumentor()
    llamaindex.instrument(tracer_provider=provider)
    openai_instrumentor.instrument(tracer_provider=provider)
    try:
        index.as_query_engine(llm=HttpLLM(base_url=server.base_url), embed_model=embed).query("weather?")
    finally:
        openai_instrumentor.uninstrument()
        llamaindex.uninstrument()
    provider.force_flush()
    store = TraceStore(db)
    (summary,) = store.list_traces().traces
    spans = store.get_trace(summary.trace_id).spans
    by_id = {s.span_id: s for s in spans}
    pairs = sorted((s.name, by_id[s.parent_id].name if s.parent_id in by_id else None) for s in spans)
    assert pairs == sorted([
        ("RetrieverQueryEngine.query", None),
        ("retrieval VectorIndexRetriever", "RetrieverQueryEngine.query"),
        ("embeddings text-embedding-3-small", "retrieval VectorIndexRetriever"),
        ("embeddings text-embedding-3-small", "embeddings text-embedding-3-small"),  # the SDK's, under LlamaIndex's
        ("CompactAndRefine.synthesize", "RetrieverQueryEngine.query"),
        ("text_completion gpt-4o-mini", "CompactAndRefine.synthesize"),
        ("chat gpt-4o-mini", "text_completion gpt-4o-mini"),
    ])
    # One chat call (20 in, 5 out) and one embedding call (3 in), each counted once.
    assert (summary.input_tokens, summary.output_tokens) == (23, 5)
    priced = [s for s in spans if s.cost_usd]
    assert sorted(s.name for s in priced) == ["chat gpt-4o-mini", "embeddings text-embedding-3-small"]
    assert all(by_id[s.parent_id].cost_usd is None for s in priced)
    assert summary.cost_usd == pytest.approx(sum(s.cost_usd for s in priced))
