"""``embedding_similarity``: the cosine between the output's and the expected output's embeddings.

Both texts go to the embeddings API of the judge client in one call, inside a ``judge`` span (so
its cost is visible and it is never evaluated itself). A failed call or a malformed response is
no score plus a warning.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

from traceglass.evals._code import _Options
from traceglass.evals._item import EvalItem
from traceglass.evals._judge_config import judge_config
from traceglass.evals._judges import DEFAULT_TIMEOUT, JudgeNotConfigured, _judge_span, _short, is_async
from traceglass.evals._scorer import ScoreResult
from traceglass.evals._text import as_text

logger = logging.getLogger("traceglass")


def cosine(a: Any, b: Any) -> float | None:
    """The cosine similarity of two equal-length vectors (None: not two such non-zero vectors)."""
    try:
        x, y = [float(v) for v in a], [float(v) for v in b]
    except (TypeError, ValueError):
        return None
    if not x or len(x) != len(y):
        return None
    dot = sum(p * q for p, q in zip(x, y))
    norm = math.sqrt(sum(p * p for p in x)) * math.sqrt(sum(q * q for q in y))
    if not math.isfinite(dot) or not math.isfinite(norm) or norm == 0:
        return None
    return max(-1.0, min(1.0, dot / norm))


@dataclass(frozen=True)
class EmbeddingSimilarity(_Options):
    """Cosine similarity (-1 to 1; 1: same direction) of the output and the expected output."""

    name: str = "embedding_similarity"
    judge: Any = None
    model: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT

    def _client(self) -> tuple[Any, str]:
        config = judge_config()
        client = self.judge if self.judge is not None else config.client
        if client is None:
            raise JudgeNotConfigured(
                f"{self.name!r} has no client: pass judge=openai.OpenAI(...) (and model=...), "
                "or call traceglass.evals.configure_judge(client, model, embedding_model=...)")
        return client, self.model or config.embedding_model

    def _texts(self, item: EvalItem) -> list[str] | None:
        if item.output is None or item.expected_output is None:
            return None
        texts = [as_text(item.output), as_text(item.expected_output)]
        return texts if all(t.strip() for t in texts) else None

    def _request(self, texts: list[str], model: str) -> dict[str, Any]:
        request: dict[str, Any] = {"model": model, "input": texts}
        if self.timeout is not None:
            request["timeout"] = self.timeout
        return request

    def _result(self, response: Any) -> ScoreResult | None:
        try:
            data = sorted(response.data, key=lambda d: d.index)
            value = cosine(data[0].embedding, data[1].embedding)
        except Exception as exc:  # a malformed response: no score
            value = None
            why = f"malformed embeddings response ({type(exc).__name__})"
        else:
            why = "the embeddings are not two comparable non-zero vectors"
        if value is None:
            logger.warning("traceglass: %r gave no score: %s", self.name, why)
            return None
        return ScoreResult(value)

    def score(self, item: EvalItem) -> ScoreResult | None:
        """The cosine of the two texts' embeddings (None: no score)."""
        client, model = self._client()
        create = client.embeddings.create
        if is_async(create):
            raise TypeError(f"{self.name!r} has an async client: call ascore(item)")
        texts = self._texts(item)
        if texts is None:
            return None
        with _judge_span(self.name):
            try:
                response = create(**self._request(texts, model))
            except Exception as exc:
                logger.warning("traceglass: %r gave no score: the embeddings call failed (%s: %s)", self.name,
                               type(exc).__name__, _short(exc))
                return None
            return self._result(response)

    async def ascore(self, item: EvalItem) -> ScoreResult | None:
        """:meth:`score` for an async client (a sync client runs in a worker thread)."""
        client, model = self._client()
        create = client.embeddings.create
        if not is_async(create):
            return await asyncio.to_thread(self.score, item)
        texts = self._texts(item)
        if texts is None:
            return None
        with _judge_span(self.name):
            try:
                response = await create(**self._request(texts, model))
            except Exception as exc:
                logger.warning("traceglass: %r gave no score: the embeddings call failed (%s: %s)", self.name,
                               type(exc).__name__, _short(exc))
                return None
            return self._result(response)


embedding_similarity = EmbeddingSimilarity()

__all__ = ["EmbeddingSimilarity", "cosine", "embedding_similarity"]
