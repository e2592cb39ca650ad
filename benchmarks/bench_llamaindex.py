"""Cost per LlamaIndex query: traceglass against OpenInference, OpenLLMetry and OpenLIT.

Workload: ``index.as_query_engine(...).query(...)`` over a two-document ``VectorStoreIndex`` with
LlamaIndex's own ``MockLLM`` and ``MockEmbedding`` (in-process: no HTTP), so what is measured is
llama-index-core plus the instrumentation. A query dispatches a query, a retrieval with its query
embedding, a synthesis and an LLM completion (and a dozen helper spans: text splitters, templates).

Setups: traceglass's LlamaIndex instrumentor (content on, content off); the peers' LlamaIndex
instrumentors, each in its own virtualenv with the same llama-index-core as ours:

    python -m venv /tmp/li-oi && /tmp/li-oi/bin/pip install llama-index-core==0.14.25 opentelemetry-sdk \\
        openinference-instrumentation-llama-index
    python -m venv /tmp/li-ollm && /tmp/li-ollm/bin/pip install llama-index-core==0.14.25 opentelemetry-sdk \\
        opentelemetry-instrumentation-llamaindex
    python -m venv /tmp/li-lit && /tmp/li-lit/bin/pip install llama-index-core==0.14.25 opentelemetry-sdk openlit
    /tmp/li-ollm/bin/pip install llama-index-llms-openai  # OpenLLMetry's imports llama_index.llms

Run: python benchmarks/bench_llamaindex.py [--rounds 7] [--runs 200] [--count-runs 10]
     [--peer openinference=/path/to/python] [--no-instructions]
Writes benchmarks/results/llamaindex.txt (see _peer_harness.py for how each figure is made).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer_harness import Bench, Peer, main

OURS = ("traceglass", "traceglass, content off")
# Peers (openlit would not install or import: pass --peer openlit=PYTHON to measure it anyway).
PEERS = {
    "openinference": Peer("openinference-instrumentation-llama-index", "/tmp/li-oi/bin/python",
                          ("openinference.instrumentation.llama_index", "LlamaIndexInstrumentor")),
    "openllmetry": Peer("opentelemetry-instrumentation-llamaindex", "/tmp/li-ollm/bin/python",
                        ("opentelemetry.instrumentation.llamaindex", "LlamaIndexInstrumentor")),
    "openlit": Peer("openlit", note="pip resolves openlit 1.34.43 beside llama-index-core 0.14.25 (newer ones pin "
                    "other packages' versions), and it fails to import with opentelemetry 1.45 (no "
                    "opentelemetry._events)"),
}


def make_run() -> Callable[[], None]:
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    embed = MockEmbedding(embed_dim=8)
    index = VectorStoreIndex.from_documents(
        [Document(text="Paris is sunny.", id_="paris"), Document(text="Rome is rainy.", id_="rome")],
        embed_model=embed)
    engine = index.as_query_engine(llm=MockLLM(max_tokens=8), embed_model=embed, similarity_top_k=1)

    def run() -> None:
        engine.query("What is the weather in Paris?")

    return run


def instrument(setup: str, tracer_provider: Any) -> None:
    if setup.startswith("traceglass"):
        from traceglass.instrumentors.llamaindex import LlamaIndexInstrumentor

        LlamaIndexInstrumentor().instrument()
    elif setup == "openlit":
        import importlib.metadata

        from openlit.instrumentation.llamaindex import LlamaIndexInstrumentor as OpenLIT

        # It reads the version of the `llama-index` meta-package; llama-index-core is the one installed.
        real_version = importlib.metadata.version
        importlib.metadata.version = lambda name: real_version("llama-index-core" if name == "llama-index" else name)
        try:
            OpenLIT().instrument(environment="bench", application_name="bench", tracer=tracer_provider.get_tracer("openlit"),
                                 pricing_info={}, capture_message_content=True, disable_metrics=True, metrics_dict=None,
                                 detailed_tracing=False)
        finally:
            importlib.metadata.version = real_version
    else:
        raise SystemExit(f"unknown setup {setup!r}")


BENCH = Bench(
    title="LlamaIndex query cost: VectorStoreIndex query engine, MockLLM and MockEmbedding (in-process)",
    out_name="llamaindex.txt", make_run=make_run, instrument=instrument, dists=("llama-index-core",), ours=OURS,
    peers=PEERS,
    notes=(("spans/run: traceglass shows query, retrieval, embeddings, synthesize, the LLM call (the dispatcher's "
            "helper spans are hidden); peers map the dispatcher's spans their own way"),),
)

if __name__ == "__main__":
    main(BENCH, __file__)
