"""Read token usage, model and id off OpenAI-style response objects (or their dicts).

Covers Chat Completions (``prompt_tokens``/``completion_tokens`` with ``*_details``), the
Responses API (``input_tokens``/``output_tokens`` with ``*_details``) and embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traceglass._handler._values import integer


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


@dataclass
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None


def usage_of(usage: Any) -> Usage | None:
    """A :class:`Usage` from an OpenAI ``usage`` object or dict, or None when there is none."""
    if usage is None:
        return None
    input_tokens = integer(_get(usage, "prompt_tokens"))
    if input_tokens is None:
        input_tokens = integer(_get(usage, "input_tokens"))
    output_tokens = integer(_get(usage, "completion_tokens"))
    if output_tokens is None:
        output_tokens = integer(_get(usage, "output_tokens"))
    if input_tokens is None and output_tokens is None:
        return None
    input_details = _get(usage, "prompt_tokens_details") or _get(usage, "input_tokens_details")
    output_details = _get(usage, "completion_tokens_details") or _get(usage, "output_tokens_details")
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=integer(_get(input_details, "cached_tokens")),
        cache_creation_tokens=integer(_get(input_details, "cache_creation_tokens")),
        reasoning_tokens=integer(_get(output_details, "reasoning_tokens")),
    )


def looks_like_model_response(value: Any) -> bool:
    """True for an object that carries ``usage`` and ``model`` like an OpenAI response."""
    return _get(value, "model") is not None and _get(value, "usage") is not None


def apply_response(invocation: Any, response: Any) -> None:
    """Copy response model, id and usage of an OpenAI-style response onto an invocation."""
    model = _get(response, "model")
    if isinstance(model, str) and hasattr(invocation, "response_model"):
        invocation.response_model = model
    response_id = _get(response, "id")
    if isinstance(response_id, str) and hasattr(invocation, "response_id"):
        invocation.response_id = response_id
    usage = usage_of(_get(response, "usage"))
    if usage is None:
        return
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens"):
        value = getattr(usage, name)
        if value is not None and hasattr(invocation, name):
            setattr(invocation, name, value)
