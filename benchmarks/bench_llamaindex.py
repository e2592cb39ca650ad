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
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from collections.abc import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peer_harness import Bench, main

OURS = ("traceglass", "traceglass, content off")
PEERS = {"openinference": "/tmp/li-oi/bin/python", "openllmetry": "/tmp/li-ollm/bin/python"}
PEER_DISTS = {"openinference": "openinference-instrumentation-llama-index",
              "openllmetry": "opentelemetry-instrumentation-llamaindex", "openlit": "openlit"}
# Peers that would not install or import (pass --peer openlit=PYTHON to measure one anyway).
PEER_NOTES = {"openlit": "pip resolves openlit 1.34.43 beside llama-index-core 0.14.25 (newer ones pin other "
                         "packages' versions), and it fails to import with opentelemetry 1.45 (no "
                         "opentelemetry._events)"}


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
        from traceglass import _config, _runtime
        from traceglass.instrumentors.llamaindex import LlamaIndexInstrumentor

        settings = _config.Settings.from_env({}, capture_content=setup != "traceglass, content off")
        _runtime.install(_runtime.Runtime.build(settings, tracer_provider))
        LlamaIndexInstrumentor().instrument()
    elif setup == "openinference":
        from openinference.instrumentation.llama_index import (
            LlamaIndexInstrumentor as Peer,
        )

        Peer().instrument(tracer_provider=tracer_provider)
    elif setup == "openllmetry":
        from opentelemetry.instrumentation.llamaindex import (
            LlamaIndexInstrumentor as Peer,
        )

        Peer().instrument(tracer_provider=tracer_provider)
    elif setup == "openlit":
        import importlib.metadata

        from openlit.instrumentation.llamaindex import LlamaIndexInstrumentor as Peer

        # It reads the version of the `llama-index` meta-package; llama-index-core is the one installed.
        real_version = importlib.metadata.version
        importlib.metadata.version = lambda name: real_version("llama-index-core" if name == "llama-index" else name)
        try:
            Peer().instrument(environment="bench", application_name="bench", tracer=tracer_provider.get_tracer("openlit"),
                              pricing_info={}, capture_message_content=True, disable_metrics=True, metrics_dict=None,
                              detailed_tracing=False)
        finally:
            importlib.metadata.version = real_version
    else:
        raise SystemExit(f"unknown setup {setup!r}")


def versions(setup: str) -> dict[str, str]:
    out = {}
    for dist in ("llama-index-core", PEER_DISTS.get(setup, "traceglass")):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "?"
    return out


BENCH = Bench(
    title="LlamaIndex query cost: VectorStoreIndex query engine, MockLLM and MockEmbedding (in-process)",
    out_name="llamaindex.txt", make_run=make_run, instrument=instrument, versions=versions, ours=OURS,
    peers=PEERS, peer_notes=PEER_NOTES,
    notes=("spans/run: traceglass shows query, retrieval, embeddings, synthesize, the LLM call (the dispatcher's "
           "helper spans are hidden); peers map the dispatcher's spans their own way",),
)

if __name__ == "__main__":
    main(BENCH, __file__)
