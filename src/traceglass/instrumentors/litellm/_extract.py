"""Pure functions: LiteLLM call arguments and responses -> invocation fields.

LiteLLM speaks OpenAI's shapes on both sides (messages, tools, ``ModelResponse`` with ``choices``
and ``usage``, ``EmbeddingResponse``, ``ResponsesAPIResponse``), so the message, tool and usage
readers are the OpenAI instrumentor's (one copy); what is LiteLLM's own lives here: the provider
it resolves a model to, the endpoint, and the ``_hidden_params`` it attaches to every response
(the provider that answered, the base URL, its own ``response_cost``). Nothing here touches a span.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

import litellm

from traceglass import semconv
from traceglass._handler import EmbeddingInvocation, LLMInvocation
from traceglass._handler._messages import message, text_part
from traceglass._handler._values import integer
from traceglass.instrumentors.litellm._providers import semconv_provider
from traceglass.instrumentors.openai import _extract as _openai

_DEFAULT_PORTS = {"https": 443, "http": 80}


class Resolved:
    """Where a call goes: the model name the provider gets, the provider, the server."""

    __slots__ = ("address", "model", "port", "provider")

    def __init__(self, model: str | None, provider: str | None, address: str | None, port: int | None) -> None:
        self.model = model
        self.provider = provider
        self.address = address
        self.port = port


def server_of(api_base: Any) -> tuple[str | None, int | None]:
    """``(server.address, server.port)`` of a base URL string."""
    if not isinstance(api_base, str) or not api_base:
        return None, None
    try:
        parts = urlsplit(api_base)
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a malformed URL: no server, not an error
        return None, None
    return (host, port) if host else (None, None)


def resolve(request: dict[str, Any]) -> Resolved:
    """LiteLLM's own resolution of ``model`` (``"bedrock/anthropic.claude-..."`` -> model
    ``anthropic.claude-...``, provider ``aws.bedrock``), via ``litellm.get_llm_provider``.

    A model LiteLLM cannot place keeps its name and gets no provider here (the call then fails
    in LiteLLM itself, or the response's ``_hidden_params`` names the provider later).
    """
    model = request.get("model")
    if not isinstance(model, str) or not model:
        return Resolved(None, None, *server_of(request.get("api_base") or request.get("base_url")))
    api_base = request.get("api_base") or request.get("base_url")
    try:
        found_model, provider, _key, found_base = litellm.get_llm_provider(
            model=model, custom_llm_provider=request.get("custom_llm_provider"),
            api_base=api_base if isinstance(api_base, str) else None)
    except Exception:  # noqa: BLE001 - LiteLLM's own verdict on a model it cannot place, not our fault
        return Resolved(model, None, *server_of(api_base))
    # The key LiteLLM may return (``_key``) is never kept.
    return Resolved(found_model if isinstance(found_model, str) and found_model else model,
                    semconv_provider(provider), *server_of(api_base or found_base))


def _new_llm(operation: str, request: dict[str, Any]) -> LLMInvocation:
    where = resolve(request)
    return LLMInvocation.new(operation=operation, provider=where.provider, request_model=where.model,
                             server_address=where.address, server_port=where.port)


# --- requests -------------------------------------------------------------------------------
def chat_invocation(request: dict[str, Any], capture: bool) -> LLMInvocation:
    """``completion``/``acompletion``: OpenAI's Chat Completions parameters and messages."""
    inv = _new_llm(semconv.GenAIOperation.CHAT, request)
    _openai._fill_llm_params(inv, request)
    if request.get("response_format") is not None:
        inv.output_type = _openai._output_type(request["response_format"])
    top_k = request.get("top_k")
    if isinstance(top_k, (int, float)) and not isinstance(top_k, bool):
        inv.top_k = float(top_k)
    if capture:
        messages = request.get("messages")
        if messages:
            inv.input_messages = [_openai.chat_message(m) for m in messages]
        tools = _openai.tool_definitions(request.get("tools"), request.get("functions"))
        if tools:
            inv.tool_definitions = tools
    return inv


def text_completion_invocation(request: dict[str, Any], capture: bool) -> LLMInvocation:
    inv = _new_llm(semconv.GenAIOperation.TEXT_COMPLETION, request)
    _openai._fill_llm_params(inv, request)
    if capture:
        prompt = request.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt or ())
        inv.input_messages = [message("user", [text_part(p if isinstance(p, str) else str(p))]) for p in prompts]
    return inv


def embedding_invocation(request: dict[str, Any], capture: bool) -> EmbeddingInvocation:
    where = resolve(request)
    inv = EmbeddingInvocation.new(operation=semconv.GenAIOperation.EMBEDDINGS, provider=where.provider,
                                  request_model=where.model, server_address=where.address,
                                  server_port=where.port)
    _openai.fill_embedding_request(inv, request, capture)
    return inv


def responses_invocation(request: dict[str, Any], capture: bool) -> LLMInvocation:
    """``responses``/``aresponses``: OpenAI's Responses API parameters and input items."""
    inv = _new_llm(semconv.GenAIOperation.CHAT, request)
    _openai._fill_llm_params(inv, request)
    if capture:
        instructions = request.get("instructions")
        if isinstance(instructions, str):
            inv.system_instructions = [text_part(instructions)]
        raw = request.get("input")
        if isinstance(raw, str):
            inv.input_messages = [message("user", [text_part(raw)])]
        elif raw is not None:
            inv.input_messages = _openai.input_items(raw)
        tools = _openai.tool_definitions(request.get("tools"))
        if tools:
            inv.tool_definitions = tools
    return inv


# --- responses ------------------------------------------------------------------------------
def _cache_creation(inv: Any, usage: Any) -> None:
    """LiteLLM's ``Usage`` carries Anthropic's cache writes as ``cache_creation_input_tokens``
    (its ``prompt_tokens`` already include them, as the spec counts input)."""
    created = integer(getattr(usage, "cache_creation_input_tokens", None))
    if created:
        inv.cache_creation_tokens = created


def apply_chat(inv: LLMInvocation, response: Any, capture: bool) -> None:
    _openai.apply_chat(inv, response, capture)
    _cache_creation(inv, getattr(response, "usage", None))


def apply_embedding(inv: EmbeddingInvocation, response: Any, capture: bool) -> None:
    _openai.apply_embedding(inv, response, capture)


def apply_responses(inv: LLMInvocation, response: Any, capture: bool) -> None:
    _openai.apply_responses_api(inv, response, capture)


def hidden_params(response: Any) -> dict[str, Any]:
    """The ``_hidden_params`` LiteLLM attaches to a response (or a stream), else an empty dict."""
    try:
        params = getattr(response, "_hidden_params", None)
    except Exception:  # noqa: BLE001 - a response type whose property raises: nothing to read
        return {}
    return params if isinstance(params, dict) else {}


def apply_hidden(inv: Any, params: dict[str, Any]) -> None:
    """What LiteLLM learnt while calling: the provider that answered (Router fallbacks may pick
    another), the server, and its own ``response_cost`` (for comparison only: never summed)."""
    provider = semconv_provider(params.get("custom_llm_provider"))
    if provider and provider != inv.provider:
        inv.provider = provider
        inv.attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
    if getattr(inv, "server_address", None) is None:
        address, port = server_of(params.get("api_base"))
        if address:
            inv.server_address, inv.server_port = address, port
            inv.attributes[semconv.SERVER_ADDRESS] = address
            if port:
                inv.attributes[semconv.SERVER_PORT] = port
    provider_reported(inv, params.get("response_cost"))


def provider_reported(inv: Any, cost: Any) -> None:
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and math.isfinite(cost) and cost >= 0:
        inv.attributes[semconv.COST_PROVIDER_REPORTED] = float(cost)


def error_type(error: BaseException) -> str:
    """The HTTP status LiteLLM's exception carries (it maps every provider's errors onto OpenAI's
    classes), else a non-numeric error code, else the exception's type name."""
    try:  # any exception may come through here, with properties that raise
        status = getattr(error, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            return str(status)
        code = getattr(error, "code", None)
        if isinstance(code, str) and code:
            return code
    except Exception:  # noqa: BLE001 - the user's exception is broken, not our code
        pass
    return type(error).__qualname__
