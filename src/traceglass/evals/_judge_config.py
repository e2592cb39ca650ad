"""The judge client scorers use when none is passed: ``traceglass.evals.configure_judge()``.

Process-wide on purpose, like the instrumentors' patches: online metrics named on a decorator
run on a background worker, far from any call site that could hand them a client.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass(frozen=True)
class JudgeConfig:
    client: Any = None
    model: str = DEFAULT_MODEL
    embedding_model: str = DEFAULT_EMBEDDING_MODEL


_lock = threading.Lock()
_config = JudgeConfig()


def configure_judge(client: Any, model: str = DEFAULT_MODEL, *,
                    embedding_model: str = DEFAULT_EMBEDDING_MODEL) -> None:
    """Set the OpenAI-compatible client (``openai.OpenAI(...)`` or ``AsyncOpenAI``) and model that
    LLM judges and ``embedding_similarity`` use when not given ``judge=``/``model=`` — online
    metrics (``@observe(metrics=["relevance"])``) and ``get_scorer("relevance")`` rely on it.
    ``configure_judge(None)`` forgets the client."""
    global _config
    if client is not None and getattr(getattr(client, "chat", None), "completions", None) is None \
            and getattr(client, "embeddings", None) is None:
        raise ValueError("configure_judge needs an OpenAI-compatible client (with .chat.completions), "
                         f"got {type(client).__name__}")
    for label, value in (("model", model), ("embedding_model", embedding_model)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{label} must be a non-empty string, got {value!r}")
    with _lock:
        _config = JudgeConfig(client, model, embedding_model)


def judge_config() -> JudgeConfig:
    """The configured judge (``client`` None: none configured)."""
    return _config


__all__ = ["DEFAULT_EMBEDDING_MODEL", "DEFAULT_MODEL", "JudgeConfig", "configure_judge", "judge_config"]
