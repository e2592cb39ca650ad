"""A LlamaIndex LLM and embedding model that call the real ``openai`` SDK against the local fake.

llama-index-llms-openai would downgrade the venv's openai (it needs openai<3), so these two small
classes stand in for it: real LlamaIndex components (``CustomLLM``, ``BaseEmbedding``) whose calls
go over HTTP to ``tests/openai/_fake_api.py`` on 127.0.0.1, so our OpenAI instrumentor's spans nest
under LlamaIndex's exactly as they would under the real integration.
"""

from __future__ import annotations

from typing import Any

import openai
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import PrivateAttr

API_KEY = "sk-test-llamaindex"


class HttpLLM(CustomLLM):
    model: str = "gpt-4o-mini"
    base_url: str = ""
    _client: Any = PrivateAttr(default=None)

    def _openai(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(base_url=self.base_url, api_key=API_KEY, max_retries=0)
        return self._client

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raw = self._openai().chat.completions.create(model=self.model, messages=[{"role": "user", "content": prompt}])
        return CompletionResponse(text=raw.choices[0].message.content or "", raw=raw)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        stream = self._openai().chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": prompt}], stream=True,
            stream_options={"include_usage": True})

        def gen() -> CompletionResponseGen:
            text = ""
            usage = None
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.choices and chunk.choices[0].delta.content:
                    delta = chunk.choices[0].delta.content
                    text += delta
                    yield CompletionResponse(text=text, delta=delta, raw={"usage": usage, "model": chunk.model})
            yield CompletionResponse(text=text, delta="", raw={"usage": usage, "model": self.model})

        return gen()


class HttpEmbedding(BaseEmbedding):
    model_name: str = "text-embedding-3-small"
    base_url: str = ""
    _client: Any = PrivateAttr(default=None)

    def _openai(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(base_url=self.base_url, api_key=API_KEY, max_retries=0)
        return self._client

    def _embed(self, texts: list[str]) -> list[list[float]]:
        result = self._openai().embeddings.create(model=self.model_name, input=texts)
        return [list(d.embedding) for d in result.data]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
