"""The one reader of OpenAI-style token usage, off SDK response objects or their dicts.

Covers Chat Completions and legacy Completions (``prompt_tokens``/``completion_tokens`` with
``*_details``), the Responses API (``input_tokens``/``output_tokens`` with ``*_details``) and
embeddings (``prompt_tokens`` only, :func:`embedding_input_tokens`). The OpenAI instrumentor, the
decorators (a function that returns such a response) and LangChain's provider-style
``token_usage`` all read usage here.
A finished *span's* usage, in any dialect, is read by :mod:`traceglass._span_usage`.
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


# The two families of names: Chat Completions (and legacy Completions), the Responses API.
_CHAT = ("completion_tokens", "prompt_tokens_details", "completion_tokens_details")
_RESPONSES = ("output_tokens", "input_tokens_details", "output_tokens_details")


class _Fields:
    """Attribute reads over a dict (``usage`` as users and LangChain pass it): the SDK objects'
    path stays plain ``getattr``, the cheapest read there is (this runs for every model call)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        return self._values.get(name)


def apply_usage(target: Any, usage: Any) -> bool:
    """Write the counts an OpenAI ``usage`` (object or dict) reports onto ``target``'s fields of the
    same names as :class:`Usage`'s (an ``LLMInvocation`` has them all). Returns False, writing
    nothing, when ``usage`` reports neither input nor output tokens."""
    if usage is None:
        return False
    if isinstance(usage, dict):
        chat = "prompt_tokens" in usage or "completion_tokens" in usage
        usage = _Fields(usage)
    else:
        chat = None
    # One family of names, never both: reading a field an SDK model lacks costs pydantic ~7 us (it
    # raises AttributeError inside __getattr__).
    input_tokens = getattr(usage, "prompt_tokens", None)
    if input_tokens is not None or chat:
        output_key, input_details_key, output_details_key = _CHAT
    else:
        input_tokens = getattr(usage, "input_tokens", None)
        output_key, input_details_key, output_details_key = _RESPONSES
    output_tokens = getattr(usage, output_key, None)
    if input_tokens.__class__ is not int:  # integer() only off the common path
        input_tokens = integer(input_tokens)
    if output_tokens.__class__ is not int:
        output_tokens = integer(output_tokens)
    if input_tokens is None and output_tokens is None:
        return False
    # Only what is reported is written: a count the target already holds stays otherwise.
    if input_tokens is not None:
        target.input_tokens = input_tokens
    if output_tokens is not None:
        target.output_tokens = output_tokens
    # An SDK older than a details field keeps it as an extra, i.e. a plain dict (openai 1.40).
    details = getattr(usage, input_details_key, None)
    if details is not None:
        if isinstance(details, dict):
            # Not an OpenAI field (some OpenAI-style servers send it): read from dicts only, as an
            # SDK model lacks it and the miss would cost every call.
            created = integer(details.get("cache_creation_tokens"))
            if created is not None:
                target.cache_creation_tokens = created
            details = _Fields(details)
        cached = getattr(details, "cached_tokens", None)
        if cached.__class__ is not int:  # integer() only off the common path
            cached = integer(cached)
        if cached is not None:
            target.cache_read_tokens = cached
    details = getattr(usage, output_details_key, None)
    if details is not None:
        if isinstance(details, dict):
            details = _Fields(details)
        reasoning = getattr(details, "reasoning_tokens", None)
        if reasoning.__class__ is not int:
            reasoning = integer(reasoning)
        if reasoning is not None:
            target.reasoning_tokens = reasoning
    return True


def embedding_input_tokens(usage: Any) -> int | None:
    """The input count of an embeddings ``usage``: it reports ``prompt_tokens`` (and a total) only."""
    tokens = getattr(usage, "prompt_tokens", None)  # an SDK model: a plain read
    if tokens is None and isinstance(usage, dict):
        tokens = usage.get("prompt_tokens")
    return tokens if tokens.__class__ is int else integer(tokens)


def usage_of(usage: Any) -> Usage | None:
    """A :class:`Usage` from an OpenAI ``usage`` object or dict, or None when there is none."""
    found = Usage()
    return found if apply_usage(found, usage) else None


def looks_like_model_response(value: Any) -> bool:
    """True for an object that carries ``usage`` and ``model`` like an OpenAI response."""
    return _get(value, "model") is not None and _get(value, "usage") is not None


def apply_model_response(invocation: Any, response: Any) -> None:
    """Copy the model, id and usage of any OpenAI-style response (object or dict) onto an
    ``LLMInvocation`` (what ``@trace_llm`` does with a function's return value)."""
    model = _get(response, "model")
    if isinstance(model, str):
        invocation.response_model = model
    response_id = _get(response, "id")
    if isinstance(response_id, str):
        invocation.response_id = response_id
    apply_usage(invocation, _get(response, "usage"))
