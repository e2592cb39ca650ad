"""Pure functions: OpenAI request keyword arguments and responses -> invocation fields.

Nothing here touches a span. Values may be dicts (what users pass) or SDK objects (what the SDK
returns, or a previous response's message passed back in), so every read goes through ``_get``.
The SDK's ``omit``/``NOT_GIVEN`` sentinels (the stream helpers pass every parameter explicitly)
count as absent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from itertools import repeat
from typing import Any

from traceglass import semconv
from traceglass._handler import EmbeddingInvocation, LLMInvocation
from traceglass._handler._content import EncodedJson, encode_string, encode_strings, encode_text
from traceglass._handler._messages import (
    blob_part,
    message,
    reasoning_part,
    text_part,
    tool_call_part,
    tool_call_response_part,
    uri_part,
)
from traceglass._handler._usage import apply_usage, embedding_input_tokens  # the one OpenAI usage reader
from traceglass._handler._values import integer

_SENTINEL_NAMES = frozenset({"NotGiven", "Omit"})
_DEFAULT_PORTS = {"https": 443, "http": 80}
# OpenAI finish reasons -> the output-message schema's enum (other strings pass through).
_FINISH = {"tool_calls": semconv.GenAIFinishReason.TOOL_CALL, "function_call": semconv.GenAIFinishReason.TOOL_CALL}
_INCOMPLETE = {"max_output_tokens": semconv.GenAIFinishReason.LENGTH,
               "content_filter": semconv.GenAIFinishReason.CONTENT_FILTER}


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        value = obj.get(name)
    else:
        value = getattr(obj, name, None)
    if value is not None and type(value).__name__ in _SENTINEL_NAMES:
        return None
    return value


def given(kwargs: dict[str, Any], name: str) -> Any:
    """``kwargs[name]``, or None when absent or an SDK sentinel."""
    value = kwargs.get(name)
    if value is not None and type(value).__name__ in _SENTINEL_NAMES:
        return None
    return value




def _json_or_text(value: Any) -> Any:
    """Tool arguments arrive as JSON text; the spec wants the object when it parses."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- where the call goes ------------------------------------------------------------------
# Memos of pure functions (listed in traceglass._runtime): what they return never depends on them,
# so nothing needs resetting them.
_PROVIDER_BY_CLASS: dict[type, str] = {}


class _Endpoints:
    """(host, port) by base URL, and the last URL object seen: a process usually talks to one
    endpoint, and ``str(url)`` costs more than the rest of the lookup. Holding the URL keeps its
    id unique. Bounded: a handful of base URLs per process. ``last`` is one (url, endpoint) tuple,
    replaced whole, so threads never see one URL paired with another's endpoint."""

    __slots__ = ("by_url", "last")
    LIMIT = 256

    def __init__(self) -> None:
        self.by_url: dict[str, tuple[str | None, int | None]] = {}
        self.last: tuple[Any, tuple[str | None, int | None]] = (None, (None, None))


_ENDPOINTS = _Endpoints()


def _provider_of(cls: type) -> str:
    provider = _PROVIDER_BY_CLASS.get(cls)
    if provider is None:
        azure = any(k.__name__ == "BaseAzureClient" for k in cls.__mro__)
        provider = semconv.GenAIProvider.AZURE_AI_OPENAI if azure else semconv.GenAIProvider.OPENAI
        _PROVIDER_BY_CLASS[cls] = provider
    return provider


def endpoint(client: Any) -> tuple[str, str | None, int | None]:
    """``(provider, server.address, server.port)`` from the client's class and ``base_url``."""
    provider = _PROVIDER_BY_CLASS.get(type(client)) or _provider_of(type(client))
    # The SDK keeps the parsed URL in ``_base_url`` (1.x-3.x); ``base_url`` is a slower property.
    url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    if url is None:
        return provider, None, None
    memo = _ENDPOINTS
    last_url, found = memo.last
    if url is last_url:
        return provider, found[0], found[1]
    key = str(url)
    found = memo.by_url.get(key)  # type: ignore[assignment]
    if found is None:
        host = getattr(url, "host", None) or None
        port = getattr(url, "port", None) or _DEFAULT_PORTS.get(getattr(url, "scheme", ""), None)
        found = (host, port if host else None)
        if len(memo.by_url) < memo.LIMIT:
            memo.by_url[key] = found
    memo.last = (url, found)
    return provider, found[0], found[1]


# --- shared request fields ------------------------------------------------------------------
def _set_float(name: str) -> Any:
    def put(inv: LLMInvocation, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            setattr(inv, name, float(value))

    return put


def _set_int(name: str, only_if_unset: bool = False) -> Any:
    def put(inv: LLMInvocation, value: Any) -> None:
        valid = isinstance(value, int) and not isinstance(value, bool)
        if valid and not (only_if_unset and getattr(inv, name) is not None):
            setattr(inv, name, value)

    return put


def _set_stop(inv: LLMInvocation, stop: Any) -> None:
    if isinstance(stop, str):
        inv.stop_sequences = [stop]
    elif isinstance(stop, (list, tuple)) and stop:
        inv.stop_sequences = [str(s) for s in stop]


def _set_n(inv: LLMInvocation, n: Any) -> None:
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:  # the spec: "if ... in the request, and !=1"
        inv.choice_count = n


def _set_tier(inv: LLMInvocation, tier: Any) -> None:
    if isinstance(tier, str) and tier != "auto":  # the spec: only when not 'auto'
        inv.request_service_tier = tier


def _set_stream(inv: LLMInvocation, stream: Any) -> None:
    if stream is True:
        inv.streaming = True


def _set_max_tokens(inv: LLMInvocation, value: Any) -> None:
    # max_completion_tokens (chat) / max_output_tokens (responses) win over the older max_tokens.
    if isinstance(value, int) and not isinstance(value, bool):
        inv.max_tokens = value


# Request keyword -> setter; only keywords present in the call are visited.
_PARAMS: dict[str, Any] = {
    "temperature": _set_float("temperature"),
    "top_p": _set_float("top_p"),
    "frequency_penalty": _set_float("frequency_penalty"),
    "presence_penalty": _set_float("presence_penalty"),
    "seed": _set_int("seed"),
    "max_tokens": _set_int("max_tokens", only_if_unset=True),
    "max_completion_tokens": _set_max_tokens,
    "max_output_tokens": _set_max_tokens,
    "stop": _set_stop,
    "n": _set_n,
    "service_tier": _set_tier,
    "stream": _set_stream,
}


def _fill_llm_params(inv: LLMInvocation, kwargs: dict[str, Any]) -> None:
    for key, value in kwargs.items():
        setter = _PARAMS.get(key)
        if setter is not None and value is not None and type(value).__name__ not in _SENTINEL_NAMES:
            setter(inv, value)


def _output_type(response_format: Any) -> str | None:
    if response_format is None:
        return None
    if isinstance(response_format, type):  # a pydantic model given to .parse()
        return semconv.GenAIOutputType.JSON
    kind = _get(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return semconv.GenAIOutputType.JSON
    if kind == "text":
        return semconv.GenAIOutputType.TEXT
    return None


def _new_llm(operation: str, kwargs: dict[str, Any], client: Any, api_type: str | None = None) -> LLMInvocation:
    provider, address, port = endpoint(client)
    model = kwargs.get("model")  # an SDK sentinel is not a str either
    return LLMInvocation.new(
        operation=operation,
        provider=provider,
        request_model=model if isinstance(model, str) else None,
        server_address=address,
        server_port=port,
        api_type=api_type,
    )


# --- chat completions -------------------------------------------------------------------------
def chat_invocation(kwargs: dict[str, Any], client: Any, capture: bool) -> LLMInvocation:
    inv = _new_llm(semconv.GenAIOperation.CHAT, kwargs, client, semconv.OpenAIApiType.CHAT_COMPLETIONS)
    _fill_llm_params(inv, kwargs)
    if "response_format" in kwargs:
        inv.output_type = _output_type(given(kwargs, "response_format"))
    if capture:
        messages = given(kwargs, "messages")
        if messages is not None:
            inv.input_messages = encoded_text_messages(messages) or list(map(chat_message, messages))
        if "tools" in kwargs or "functions" in kwargs:
            tools = tool_definitions(given(kwargs, "tools"), given(kwargs, "functions"))
            if tools:
                inv.tool_definitions = tools
    return inv


# Roles and finish reasons as JSON string literals: a dict read instead of escaping the same few words.
_QUOTED = {word: encode_string(word) for word in (
    "system", "developer", "user", "assistant", "stop", "length", "tool_call", "content_filter", "error")}
_NO_REASON = object()  # an input message: no finish_reason key


def encoded_text_message(role: str, content: str | None, reason: Any = _NO_REASON) -> str:
    """One text-only message as the compact JSON text of ``message(role, [text_part(content)] or [],
    finish_reason(reason))`` (an empty or missing content: no part; no ``reason`` given: no finish_reason)."""
    text = '{"role":' + (_QUOTED.get(role) or encode_string(role))
    text += ',"parts":[{"type":"text","content":' + encode_text(content) + "}]" if content else ',"parts":[]'
    if reason is _NO_REASON:
        return text + "}"
    finish = finish_reason(reason)
    return text + ',"finish_reason":' + (_QUOTED.get(finish) or encode_string(finish)) + "}"


def encoded_array(items: Iterable[str]) -> EncodedJson:
    """A JSON array of already-encoded JSON texts (``encoded_text_message``'s), as ``compact_json`` writes it."""
    return EncodedJson("[" + ",".join(items) + "]")


def encoded_text_messages(messages: Any) -> EncodedJson | None:
    """The input messages' JSON text, written straight from the request when every message is a plain
    ``{"role": str, "content": str}`` dict (the common case; what ``chat_message`` makes of it, encoded
    as ``compact_json`` would), else None. Only a list or tuple: an iterator is read once, by the SDK."""
    if type(messages) is not list and type(messages) is not tuple:
        return None
    pieces = []
    for msg in messages:
        if type(msg) is not dict or "tool_calls" in msg or "function_call" in msg or "refusal" in msg:
            return None
        role = msg.get("role") or "user"
        content = msg.get("content")
        if type(role) is not str or type(content) is not str or role == "tool" or role == "function":
            return None
        pieces.append(encoded_text_message(role, content))
    return encoded_array(pieces)


def chat_message(msg: Any) -> dict[str, Any]:
    """One Chat Completions message (dict or SDK object) in the spec's parts shape."""
    if type(msg) is dict and "tool_calls" not in msg and "function_call" not in msg and "refusal" not in msg:
        # The common case, kept cheap: {"role": ..., "content": ...} from the user's code.
        role = msg.get("role") or "user"
        content = msg.get("content")
        if role != "tool" and role != "function":
            if type(content) is str:
                return {"role": role, "parts": [{"type": "text", "content": content}] if content else []}
            return {"role": role, "parts": content_parts(content)}
    role = str(_get(msg, "role") or "user")
    parts: list[dict[str, Any]] = []
    content = _get(msg, "content")
    if role == "tool":
        return message(role, [tool_call_response_part(_get(msg, "tool_call_id"), _content_text(content))])
    if role == "function":  # the deprecated functions API
        return message("tool", [tool_call_response_part(None, _content_text(content))])
    parts.extend(content_parts(content))
    refusal = _get(msg, "refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "content": refusal})
    for call in _get(msg, "tool_calls") or ():
        parts.append(_tool_call(call))
    function_call = _get(msg, "function_call")
    if function_call is not None:
        parts.append(tool_call_part(None, str(_get(function_call, "name")),
                                    _json_or_text(_get(function_call, "arguments"))))
    return message(role, parts)


def _response_message(msg: Any, finish: Any) -> dict[str, Any]:
    """An SDK ``ChatCompletionMessage`` as an output message (attribute access: no dicts here)."""
    parts: list[dict[str, Any]] = []
    content = msg.content
    if content:
        parts.append({"type": "text", "content": content})
    refusal = getattr(msg, "refusal", None)
    if refusal:
        parts.append({"type": "refusal", "content": refusal})
    for call in msg.tool_calls or ():
        parts.append(_tool_call(call))
    function_call = getattr(msg, "function_call", None)
    if function_call is not None:
        parts.append(tool_call_part(None, str(function_call.name), _json_or_text(function_call.arguments)))
    return {"role": msg.role or "assistant", "parts": parts, "finish_reason": finish_reason(finish)}


def _tool_call(call: Any) -> dict[str, Any]:
    function = _get(call, "function")
    if function is not None:
        return tool_call_part(_get(call, "id"), str(_get(function, "name")), _json_or_text(_get(function, "arguments")))
    custom = _get(call, "custom")  # custom tools (SDK >= 1.99)
    return tool_call_part(_get(call, "id"), str(_get(custom, "name")), _get(custom, "input"))


def _content_text(content: Any) -> Any:
    if content is None or isinstance(content, str):
        return content
    texts = [_get(p, "text") for p in content if isinstance(_get(p, "text"), str)]
    return "".join(texts) if texts else content


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Parts of a message ``content``: a string, or a list of typed content parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)] if content else []
    parts = []
    for item in content:
        kind = _get(item, "type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(text_part(str(_get(item, "text"))))
        elif kind == "refusal":
            parts.append({"type": "refusal", "content": str(_get(item, "refusal"))})
        elif kind in ("image_url", "input_image"):
            image = _get(item, "image_url")
            url = _get(image, "url") if not isinstance(image, str) else image
            parts.append(_uri_or_blob("image", url) if url else {"type": "file", "modality": "image",
                                                                   "file_id": _get(item, "file_id")})
        elif kind == "input_audio":
            audio = _get(item, "input_audio")
            parts.append(blob_part("audio", str(_get(audio, "data")), f"audio/{_get(audio, 'format')}"))
        elif kind in ("file", "input_file"):
            file = _get(item, "file") or item
            parts.append({"type": "file", "modality": "document", "file_id": _get(file, "file_id")})
        else:
            parts.append({"type": str(kind)})
    return parts


def _uri_or_blob(modality: str, url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:  # the spec: data URLs are blobs, not uris
        head, _, data = url.partition(";base64,")
        return blob_part(modality, data, head[5:] or None)
    return uri_part(modality, url)


def tool_definitions(tools: Any, functions: Any = None) -> list[dict[str, Any]]:
    """Chat (``{"type": "function", "function": {...}}``) and Responses (flat) tool definitions."""
    out = []
    for tool in tools or ():
        kind = str(_get(tool, "type") or "function")
        spec = _get(tool, "function") or _get(tool, "custom") or tool
        name = _get(spec, "name")
        definition: dict[str, Any] = {"type": kind, "name": str(name) if name is not None else kind}
        description = _get(spec, "description")
        if description is not None:
            definition["description"] = description
        parameters = _get(spec, "parameters")
        if parameters is not None:
            definition["parameters"] = parameters
        out.append(definition)
    for function in functions or ():
        definition = {"type": "function", "name": str(_get(function, "name"))}
        if _get(function, "description") is not None:
            definition["description"] = _get(function, "description")
        if _get(function, "parameters") is not None:
            definition["parameters"] = _get(function, "parameters")
        out.append(definition)
    return out


def finish_reason(reason: Any) -> str:
    return _FINISH.get(reason, reason) if isinstance(reason, str) else "error"


def apply_chat(inv: LLMInvocation, response: Any, capture: bool) -> None:
    """Response id, model, finish reasons, tier, fingerprint, usage and (capturing) output messages."""
    apply_common(inv, response)
    reasons = []
    chosen = []
    for choice in getattr(response, "choices", None) or ():
        reason = choice.finish_reason
        if reason is not None:
            reasons.append(reason)
        if capture:
            chosen.append((choice, reason))
    if reasons:
        inv.finish_reasons = reasons
    if capture:
        inv.output_messages = _encoded_outputs(chosen) or [_output_message(c, r) for c, r in chosen]


def _output_message(choice: Any, reason: Any) -> dict[str, Any]:
    msg = getattr(choice, "message", None)
    if msg is not None:
        return _response_message(msg, reason)
    text = getattr(choice, "text", None)  # legacy completions
    return message("assistant", [text_part(text)] if isinstance(text, str) else [], finish_reason(reason))


# SDK response classes whose instances keep every field in ``__dict__`` (pydantic models), by class.
_FIELDS_IN_DICT: dict[type, bool] = {}


def _fields(obj: Any) -> dict[str, Any] | None:
    """``obj.__dict__`` when ``obj`` is a pydantic model (every declared field is in it, defaults
    included: one read instead of one per field), else None."""
    cls = obj.__class__
    known = _FIELDS_IN_DICT.get(cls)
    if known is None:
        known = (isinstance(getattr(cls, "model_fields", None), dict)
                 and isinstance(getattr(obj, "__dict__", None), dict))
        if len(_FIELDS_IN_DICT) < 256:
            _FIELDS_IN_DICT[cls] = known
    return obj.__dict__ if known else None


def _encoded_outputs(chosen: list[tuple[Any, Any]]) -> EncodedJson | None:
    """The output messages' JSON text, written straight from the response when every choice's message
    is an SDK model holding text only (no tool call, function call or refusal), else None."""
    pieces = []
    for choice, reason in chosen:
        msg = getattr(choice, "message", None)
        fields = _fields(msg) if msg is not None else None
        if fields is None or fields.get("tool_calls") or fields.get("function_call") is not None \
                or fields.get("refusal"):
            return None
        role = fields.get("role") or "assistant"
        content = fields.get("content")
        if type(role) is not str or (content is not None and type(content) is not str):
            return None
        pieces.append(encoded_text_message(role, content, reason))
    return encoded_array(pieces)


def apply_common(inv: LLMInvocation, response: Any) -> None:
    # SDK response objects (pydantic models): plain attribute reads, absent fields read as None.
    response_id = getattr(response, "id", None)
    if isinstance(response_id, str):
        inv.response_id = response_id
    model = getattr(response, "model", None)
    if isinstance(model, str):
        inv.response_model = model
    tier = getattr(response, "service_tier", None)
    if isinstance(tier, str):
        inv.response_service_tier = tier
    fingerprint = getattr(response, "system_fingerprint", None)
    if isinstance(fingerprint, str):
        inv.system_fingerprint = fingerprint
    usage = getattr(response, "usage", None)
    if usage is not None:
        apply_usage(inv, usage)


# --- legacy completions -----------------------------------------------------------------------
def completion_invocation(kwargs: dict[str, Any], client: Any, capture: bool) -> LLMInvocation:
    inv = _new_llm(semconv.GenAIOperation.TEXT_COMPLETION, kwargs, client)
    _fill_llm_params(inv, kwargs)
    if capture:
        prompt = given(kwargs, "prompt")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt or ())
        inv.input_messages = [message("user", [text_part(p if isinstance(p, str) else json.dumps(p))])
                              for p in prompts]
    return inv


# --- embeddings -------------------------------------------------------------------------------
def embedding_invocation(kwargs: dict[str, Any], client: Any, capture: bool) -> EmbeddingInvocation:
    provider, address, port = endpoint(client)
    # Plain reads: an SDK sentinel (NotGiven, Omit) fails the type checks that follow anyway.
    model = kwargs.get("model")
    inv = EmbeddingInvocation.new(
        operation=semconv.GenAIOperation.EMBEDDINGS,
        provider=provider,
        request_model=model if isinstance(model, str) else None,
        server_address=address,
        server_port=port,
    )
    fill_embedding_request(inv, kwargs, capture)
    return inv


def fill_embedding_request(inv: EmbeddingInvocation, request: dict[str, Any], capture: bool) -> None:
    """What an OpenAI-style embeddings request says: encoding format, dimensions, the inputs (their count,
    and with ``capture`` the texts; a token array shows as its length)."""
    fmt = request.get("encoding_format")
    if isinstance(fmt, str):
        inv.encoding_formats = [fmt]
    inv.dimension_count = integer(request.get("dimensions"))
    raw = given(request, "input")
    # One string, one token array, or a list of either.
    if isinstance(raw, str) or (isinstance(raw, (list, tuple)) and raw and isinstance(raw[0], int)):
        items: list[Any] = [raw]
    else:
        items = list(raw or ())
    inv.input_count = len(items)
    if capture:
        if all(map(isinstance, items, repeat(str))):  # texts (the common case): their JSON, written here
            inv.inputs = EncodedJson(encode_strings(items))  # type: ignore[assignment]
        else:
            inv.inputs = [i if isinstance(i, str) else f"<{len(i)} tokens>" for i in items]


def _base64_size(text: str) -> int:
    """Bytes that base64 ``text`` decodes to, counted without decoding a whole vector."""
    if len(text) % 4:  # not plain padded base64 (whitespace?): decode to be sure
        return len(base64.b64decode(text))
    return len(text) // 4 * 3 - text[-2:].count("=")


def apply_embedding(inv: EmbeddingInvocation, response: Any, capture: bool = False) -> None:
    """Model, token count and the vectors' dimension; the vectors themselves are never kept
    (so ``capture`` changes nothing here)."""
    fields = getattr(response, "__dict__", None)
    if type(fields) is dict and "data" in fields:  # an SDK model: its fields by key, one read for all
        model, data, usage = fields.get("model"), fields["data"], fields.get("usage")
    else:  # a dict, or another shape
        model, data, usage = _get(response, "model"), _get(response, "data"), _get(response, "usage")
    if isinstance(model, str):
        inv.response_model = model
    if data:
        first = data[0]
        vector = getattr(first, "embedding", None)  # an SDK model
        if vector is None:
            vector = _get(first, "embedding")  # a dict (LiteLLM's items)
        if isinstance(vector, list):
            inv.dimension_count = len(vector)
        elif isinstance(vector, str):  # base64 of float32s
            inv.dimension_count = _base64_size(vector) // 4
    tokens = embedding_input_tokens(usage)
    if tokens is not None:
        inv.input_tokens = tokens


# --- Responses API ----------------------------------------------------------------------------
def responses_invocation(kwargs: dict[str, Any], client: Any, capture: bool) -> LLMInvocation:
    inv = _new_llm(semconv.GenAIOperation.CHAT, kwargs, client, semconv.OpenAIApiType.RESPONSES)
    _fill_llm_params(inv, kwargs)
    text = given(kwargs, "text")
    inv.output_type = _output_type(_get(text, "format")) or _output_type(given(kwargs, "text_format"))
    conversation = given(kwargs, "conversation")
    conversation_id = conversation if isinstance(conversation, str) else _get(conversation, "id")
    if isinstance(conversation_id, str):
        inv.conversation_id = conversation_id
    if capture:
        instructions = given(kwargs, "instructions")
        if isinstance(instructions, str):
            inv.system_instructions = [text_part(instructions)]
        raw = given(kwargs, "input")
        if isinstance(raw, str):
            inv.input_messages = [message("user", [text_part(raw)])]
        elif raw is not None:
            inv.input_messages = input_items(raw)
        tools = tool_definitions(given(kwargs, "tools"))
        if tools:
            inv.tool_definitions = tools
    return inv


def input_items(items: Any) -> list[dict[str, Any]]:
    """Responses ``input`` items as messages: consecutive tool items join one message."""
    out: list[dict[str, Any]] = []
    for item in items:
        kind = _get(item, "type")
        if kind == "function_call_output":
            out.append(message("tool", [tool_call_response_part(_get(item, "call_id"),
                                                                _json_or_text(_get(item, "output")))]))
        elif kind in ("function_call", "reasoning"):
            out.append(message("assistant", _output_item_parts(item)))
        elif kind in (None, "message"):
            out.append(message(str(_get(item, "role") or "user"), content_parts(_get(item, "content"))))
        else:
            out.append(message("user", [{"type": str(kind)}]))
    return out


def _output_item_parts(item: Any) -> list[dict[str, Any]]:
    kind = _get(item, "type")
    if kind == "message":
        return content_parts(_get(item, "content"))
    if kind == "function_call":
        return [tool_call_part(_get(item, "call_id"), str(_get(item, "name")), _json_or_text(_get(item, "arguments")))]
    if kind == "reasoning":
        texts = [_get(s, "text") for s in _get(item, "summary") or () if isinstance(_get(s, "text"), str)]
        return [reasoning_part("\n".join(texts))] if texts else []
    return [{"type": str(kind)}]


def response_failure(response: Any) -> tuple[str, str | None] | None:
    """``(error.type, message)`` of a Responses API response that reports it failed, else None."""
    if _get(response, "status") != "failed":
        return None
    error = _get(response, "error")
    code, text = _get(error, "code"), _get(error, "message")
    return (code if isinstance(code, str) and code else "failed"), (text if isinstance(text, str) else None)


def apply_responses_api(inv: LLMInvocation, response: Any, capture: bool) -> None:
    """A Responses API ``Response`` onto ``inv``: id, model, usage, finish reason and (capturing)
    one output message holding every output item's parts."""
    apply_common(inv, response)
    output = _get(response, "output") or ()
    status = _get(response, "status")
    if status == "incomplete":
        reason = _get(_get(response, "incomplete_details"), "reason")
        finish = _INCOMPLETE.get(reason, str(reason))
    elif status == "failed":
        finish = semconv.GenAIFinishReason.ERROR
    elif any(_get(item, "type") == "function_call" for item in output):
        finish = semconv.GenAIFinishReason.TOOL_CALL
    else:
        finish = semconv.GenAIFinishReason.STOP
    if status is not None:
        inv.finish_reasons = [finish]
    if capture:
        parts = [part for item in output for part in _output_item_parts(item)]
        inv.output_messages = [message("assistant", parts, finish)]
