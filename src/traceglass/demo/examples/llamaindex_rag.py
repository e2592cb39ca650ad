"""A LlamaIndex RAG app traced by traceglass: an index, a query, a streamed query and a tool.

What it shows:
- `configure()` turns on the LlamaIndex instrumentor (LlamaIndex's own instrumentation dispatcher):
  `RetrieverQueryEngine.query` > `retrieval VectorIndexRetriever` (the documents, with scores) >
  `embeddings`, and `CompactAndRefine.synthesize` > `text_completion gpt-4o-mini`;
- the OpenAI client span nests under LlamaIndex's model step and its tokens count once;
- a streamed query: the model call LlamaIndex makes while the app reads the answer still nests
  under the query, which ends with the stream;
- a LlamaIndex tool call as `execute_tool get_weather`.

The model and embeddings go through two small LlamaIndex classes over the `openai` SDK (below), so
the example needs only llama-index-core; llama-index-llms-openai's `OpenAI` traces the same way.
Runs against the bundled OpenAI-compatible server unless OPENAI_API_KEY is set.
Needs: pip install 'traceglass[llamaindex]'   Run: python examples/llamaindex_rag.py
"""

from __future__ import annotations

from typing import Any

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.tools import FunctionTool
from pydantic import PrivateAttr

import traceglass
from traceglass.demo import openai_endpoint

DOCUMENTS = [
    Document(text="Lisbon in May is warm; trams run every ten minutes.", id_="lisbon"),
    Document(text="Oslo in winter is cold; the Opera roof is open all year.", id_="oslo"),
    Document(text="Porto is three hours from Lisbon by train.", id_="porto"),
]


class ChatModel(CustomLLM):
    """A LlamaIndex LLM over the OpenAI Chat Completions API (plain and streamed)."""

    model: str = "gpt-4o-mini"
    _client: Any = PrivateAttr(default=None)

    def __init__(self, client: Any, **data: Any) -> None:
        super().__init__(**data)
        self._client = client

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raw = self._client.chat.completions.create(model=self.model, messages=[{"role": "user", "content": prompt}])
        return CompletionResponse(text=raw.choices[0].message.content or "", raw=raw)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        stream = self._client.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}], stream=True,
            stream_options={"include_usage": True})

        def chunks() -> CompletionResponseGen:
            text = ""
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
                    yield CompletionResponse(text=text, delta=chunk.choices[0].delta.content)

        return chunks()


class Embeddings(BaseEmbedding):
    """LlamaIndex embeddings over the OpenAI Embeddings API."""

    model_name: str = "text-embedding-3-small"
    _client: Any = PrivateAttr(default=None)

    def __init__(self, client: Any, **data: Any) -> None:
        super().__init__(**data)
        self._client = client

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        result = self._client.embeddings.create(model=self.model_name, input=texts, dimensions=256)
        return [list(item.embedding) for item in result.data]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embeddings([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return {"lisbon": "sunny, 24°C", "oslo": "snow, -3°C"}.get(city.lower(), f"mild and dry in {city}")


def main() -> None:
    traceglass.configure(service_name="llamaindex-rag")
    with openai_endpoint() as endpoint:
        client = endpoint.client(max_retries=0)
        embed, llm = Embeddings(client), ChatModel(client)
        index = VectorStoreIndex.from_documents(DOCUMENTS, embed_model=embed)
        with traceglass.session("llamaindex-demo", user_id="demo-user"):
            engine = index.as_query_engine(llm=llm, embed_model=embed, similarity_top_k=2)
            print("Query:", engine.query("What is Lisbon like in May?"))
            streaming = index.as_query_engine(llm=llm, embed_model=embed, similarity_top_k=1, streaming=True)
            answer = streaming.query("How far is Porto from Lisbon?")
            print("Streamed:", "".join(answer.response_gen))
            print("Tool:", FunctionTool.from_defaults(fn=get_weather).call(city="Oslo").content)
    traceglass.flush()


if __name__ == "__main__":
    main()
