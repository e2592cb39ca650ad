"""A LlamaIndex app with no tracing code: an index over two documents, a query, a streamed query
and a tool. Run it under ``opentelemetry-instrument`` (or call ``traceglass.configure()`` first)
and the ``traceglass_llamaindex`` entry point traces it through LlamaIndex's dispatcher:

    OTEL_TRACES_EXPORTER=traceglass_sqlite opentelemetry-instrument python examples/llamaindex_app.py

It uses LlamaIndex's own ``MockLLM`` and ``MockEmbedding``, so it needs no server and no key.
"""

from __future__ import annotations

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.tools import FunctionTool


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def main() -> None:
    embed = MockEmbedding(embed_dim=8)
    index = VectorStoreIndex.from_documents(
        [Document(text="Paris is sunny.", id_="paris"), Document(text="Rome is rainy.", id_="rome")], embed_model=embed)
    engine = index.as_query_engine(llm=MockLLM(max_tokens=4), embed_model=embed, similarity_top_k=1)
    print(f"query: {engine.query('weather in Paris?')}")
    streaming = index.as_query_engine(llm=MockLLM(max_tokens=3), embed_model=embed, streaming=True)
    print(f"stream: {''.join(streaming.query('weather?').response_gen)}")
    print(f"tool: {FunctionTool.from_defaults(fn=get_weather).call(city='Paris').content}")


if __name__ == "__main__":
    main()
