"""Pure functions: Anthropic Messages API keyword arguments and responses -> invocation fields.

Nothing here touches a span. Request values are what users pass (dicts, or SDK objects such as a
previous response's ``content`` passed back in), so reads go through ``_get``; the SDK's ``omit`` /
``NOT_GIVEN`` sentinels count as absent. Image and document bytes are never kept: a base64 source
becomes a ``blob`` part with its modality and MIME type but no ``content``.
"""

from __future__ import annotations

import json
from typing import Any

from traceglass import semconv
from traceglass._handler import LLMInvocation
from traceglass._handler._messages import (
    message,
    reasoning_part,
    text_part,
    tool_call_part,
    tool_call_response_part,
    uri_part,
)
from traceglass._handler._values import integer, number

_SENTINEL_NAMES = frozenset({"NotGiven", "Omit"})
_DEFAULT_PORTS = {"https": 443, "http": 80}
# stop_reason -> the output-message schema's finish_reason (other strings pass through).
_FINISH = {
    "end_turn": semconv.GenAIFinishReason.STOP,
    "stop_sequence": semconv.GenAIFinishReason.STOP,
    "max_tokens": semconv.GenAIFinishReason.LENGTH,
    "model_context_window_exceeded": semconv.GenAIFinishReason.LENGTH,
    "tool_use": semconv.GenAIFinishReason.TOOL_CALL,
    "refusal": semconv.GenAIFinishReason.CONTENT_FILTER,
}


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    if value is not None and type(value).__name__ in _SENTINEL_NAMES:
        return None
    return value


# --- where the call goes ------------------------------------------------------------------
# Memo of a pure function (the client's class decides its provider): nothing needs resetting it.
_PROVIDER_BY_CLASS: dict[type, str] = {}


def _provider_of(cls: type) -> str:
    provider = _PROVIDER_BY_CLASS.get(cls)
    if provider is None:
        # By class name, not import: anthropic.lib.bedrock pulls in boto3 helpers we must not import.
        names = {k.__name__ for k in cls.__mro__}
        if names & {"BaseBedrockClient", "AnthropicBedrock", "AsyncAnthropicBedrock", "AnthropicBedrockMantle",
                    "AsyncAnthropicBedrockMantle"}:
            provider = semconv.GenAIProvider.AWS_BEDROCK
        elif names & {"BaseVertexClient", "AnthropicVertex", "AsyncAnthropicVertex"}:
            provider = semconv.GenAIProvider.GCP_VERTEX_AI
        else:
            provider = semconv.GenAIProvider.ANTHROPIC
        _PROVIDER_BY_CLASS[cls] = provider
    return provider


def endpoint(client: Any) -> tuple[str, str | None, int | None]:
    """``(provider, server.address, server.port)`` from the client's class and ``base_url``."""
    provider = _PROVIDER_BY_CLASS.get(type(client)) or _provider_of(type(client))
    url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    host = getattr(url, "host", None) or None
    if host is None:
        return provider, None, None
    port = getattr(url, "port", None) or _DEFAULT_PORTS.get(getattr(url, "scheme", ""), None)
    return provider, host, port


# --- request ----------------------------------------------------------------------------------
def _float(inv: LLMInvocation, name: str, value: Any) -> None:
    found = number(value)
    if found is not None:
        setattr(inv, name, found)


def new_invocation(operation: str, kwargs: dict[str, Any], client: Any) -> LLMInvocation:
    provider, address, port = endpoint(client)
    model = kwargs.get("model")  # an SDK sentinel is not a str either
    return LLMInvocation.new(operation=operation, provider=provider,
                             request_model=model if isinstance(model, str) else None,
                             server_address=address, server_port=port)


def messages_invocation(kwargs: dict[str, Any], client: Any, capture: bool, streaming: bool = False) -> LLMInvocation:
    """A ``messages.create`` / ``messages.stream`` request as an invocation (``streaming``: the helper)."""
    inv = new_invocation(semconv.GenAIOperation.CHAT, kwargs, client)
    get = kwargs.get
    inv.max_tokens = integer(get("max_tokens"))
    # anthropic 2.x dropped temperature/top_p/top_k from the method's signature: they travel in
    # extra_body (the SDK's way to send any body field); older SDKs take them as keywords.
    extra = get("extra_body")
    sampling = {**extra, **kwargs} if isinstance(extra, dict) else kwargs
    for name in ("temperature", "top_p", "top_k"):
        if name in sampling:
            _float(inv, name, sampling[name])
    stop = get("stop_sequences")
    if isinstance(stop, (list, tuple)) and stop:
        inv.stop_sequences = [str(s) for s in stop]
    if streaming or get("stream") is True:
        inv.streaming = True
    thinking = get("thinking")
    if isinstance(thinking, dict):
        kind = thinking.get("type")
        if isinstance(kind, str):
            inv.attributes[semconv.ANTHROPIC_THINKING_TYPE] = kind
        budget = integer(thinking.get("budget_tokens"))
        if budget is not None:
            inv.attributes[semconv.ANTHROPIC_THINKING_BUDGET_TOKENS] = budget
    if capture:
        system = _get(kwargs, "system")
        if isinstance(system, str):
            inv.system_instructions = [text_part(system)] if system else []
        elif system is not None:
            inv.system_instructions = content_parts(system)
        messages = _get(kwargs, "messages")
        if messages is not None:
            inv.input_messages = [input_message(m) for m in messages]
        tools = _get(kwargs, "tools")
        if tools:
            inv.tool_definitions = tool_definitions(tools)
    return inv


def input_message(msg: Any) -> dict[str, Any]:
    """One ``MessageParam`` (dict or SDK object) in the spec's parts shape."""
    role = _get(msg, "role")
    return message(role if isinstance(role, str) else "user", content_parts(_get(msg, "content")))


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Parts of a message ``content``: a string, or a list of content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)] if content else []
    return [block_part(block) for block in content]


def block_part(block: Any) -> dict[str, Any]:
    """One content block (request or response) as a part."""
    kind = _get(block, "type")
    if kind == "text":
        return text_part(str(_get(block, "text")))
    if kind in ("tool_use", "server_tool_use"):
        return tool_call_part(_get(block, "id"), str(_get(block, "name")), _get(block, "input"))
    if kind == "tool_result":
        return tool_call_response_part(_get(block, "tool_use_id"), _tool_result(_get(block, "content")))
    if kind == "thinking":
        return reasoning_part(str(_get(block, "thinking")))
    if kind in ("image", "document"):
        return _source_part("image" if kind == "image" else "document", _get(block, "source"))
    return {"type": str(kind)}  # redacted_thinking, web search results, ...: the kind, not the payload


def _tool_result(content: Any) -> Any:
    """A tool result's ``content``: its text when it is text only, else its parts."""
    if content is None or isinstance(content, str):
        return content
    parts = [block_part(b) for b in content]
    if parts and all(p["type"] == "text" for p in parts):
        return "".join(p["content"] for p in parts)
    return parts


def _source_part(modality: str, source: Any) -> dict[str, Any]:
    kind = _get(source, "type")
    if kind == "url":
        return uri_part(modality, str(_get(source, "url")))
    if kind == "file":
        return {"type": "file", "modality": modality, "file_id": _get(source, "file_id")}
    if kind in ("base64", "text"):
        # The bytes stay out of telemetry (they would dwarf every other attribute).
        part: dict[str, Any] = {"type": "blob", "modality": modality}
        mime = _get(source, "media_type")
        if isinstance(mime, str):
            part["mime_type"] = mime
        return part
    return {"type": modality}


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """Client tools (``name``, ``description``, ``input_schema``) and server tools (``type``, ``name``)."""
    out = []
    for tool in tools:
        kind = _get(tool, "type")
        name = _get(tool, "name")
        definition: dict[str, Any] = {"type": "function" if kind in (None, "custom") else str(kind),
                                      "name": str(name) if name is not None else str(kind)}
        description = _get(tool, "description")
        if description is not None:
            definition["description"] = description
        schema = _get(tool, "input_schema")
        if schema is not None:
            definition["parameters"] = schema
        out.append(definition)
    return out


# --- response ---------------------------------------------------------------------------------
def finish_reason(reason: Any) -> str:
    return _FINISH.get(reason, reason) if isinstance(reason, str) else semconv.GenAIFinishReason.ERROR


def apply_usage(inv: LLMInvocation, usage: Any) -> None:
    """Anthropic's usage onto ``inv``. Its ``input_tokens`` leaves the cached tokens out; the spec's
    ``gen_ai.usage.input_tokens`` counts them in, so the three are summed."""
    if usage is None:
        return
    read = integer(_get(usage, "cache_read_input_tokens"))
    created = integer(_get(usage, "cache_creation_input_tokens"))
    uncached = integer(_get(usage, "input_tokens"))
    if uncached is not None:
        inv.input_tokens = uncached + (read or 0) + (created or 0)
    output = integer(_get(usage, "output_tokens"))
    if output is not None:
        inv.output_tokens = output
    if read is not None:
        inv.cache_read_tokens = read
    if created is not None:
        inv.cache_creation_tokens = created
    details = _get(usage, "output_tokens_details")  # newer SDKs: thinking tokens among the output
    if details is not None:
        thinking = integer(_get(details, "thinking_tokens"))
        if thinking is not None:
            inv.reasoning_tokens = thinking
    tier = _get(usage, "service_tier")
    if isinstance(tier, str):
        inv.attributes[semconv.ANTHROPIC_RESPONSE_SERVICE_TIER] = tier


def apply_message(inv: LLMInvocation, response: Any, capture: bool) -> None:
    """A ``Message``: id, model, stop reason, usage and (capturing) the output message."""
    response_id = _get(response, "id")
    if isinstance(response_id, str):
        inv.response_id = response_id
    model = _get(response, "model")
    if isinstance(model, str):
        inv.response_model = model
    reason = _get(response, "stop_reason")
    if isinstance(reason, str):
        inv.finish_reasons = [reason]
    apply_usage(inv, _get(response, "usage"))
    if capture:
        parts = content_parts(_get(response, "content"))
        role = _get(response, "role")
        inv.output_messages = [message(role if isinstance(role, str) else "assistant", parts, finish_reason(reason))]


def error_type(error: BaseException) -> str:
    """The API's error type (``rate_limit_error``, ``overloaded_error``, ...) when it sent one, else the
    HTTP status, else the exception's type."""
    try:  # any exception may come through here, with properties that raise
        body = getattr(error, "body", None)
        kind = _get(_get(body, "error"), "type") if isinstance(body, dict) else None
        if isinstance(kind, str) and kind:
            return kind
        status = getattr(error, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            return str(status)
    except Exception:  # noqa: BLE001 - the user's exception is broken, not our code
        pass
    return type(error).__qualname__


# --- count_tokens and batches ----------------------------------------------------------------
def count_tokens_invocation(kwargs: dict[str, Any], client: Any, capture: bool) -> LLMInvocation:
    """``messages.count_tokens``: the request as a chat's, under the operation ``count_tokens`` (free:
    its count is not usage, so nothing prices it)."""
    inv = messages_invocation(kwargs, client, capture)
    inv.operation = "count_tokens"
    return inv


def apply_count(inv: LLMInvocation, response: Any, capture: bool) -> None:
    count = integer(_get(response, "input_tokens"))
    if count is not None:
        inv.attributes[semconv.ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS] = count


def batch_invocation(kwargs: dict[str, Any], client: Any, capture: bool) -> LLMInvocation:
    """``messages.batches.create``: one span for the submission (none per request; the batch is priced when
    its results are read, not here); the model when every request names the same."""
    requests = _get(kwargs, "requests") or ()
    models = {_get(_get(r, "params"), "model") for r in requests}
    model = models.pop() if len(models) == 1 else None
    inv = new_invocation("batch", {"model": model}, client)
    return inv


def apply_batch(inv: LLMInvocation, response: Any, capture: bool) -> None:
    batch_id = _get(response, "id")
    if isinstance(batch_id, str):
        inv.response_id = batch_id


def json_or_text(text: str) -> Any:
    """Streamed tool input arrives as JSON text in pieces; the spec wants the object when it parses."""
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text
