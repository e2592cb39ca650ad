"""Pure mapping of LangChain callback payloads onto traceglass invocation fields.

Nothing here starts spans or touches OpenTelemetry: the callback handler calls these with what
LangChain passed it (serialized dicts, messages, ``LLMResult``s, documents) and copies the results
onto invocations. Messages become the GenAI conventions' parts shape via ``_handler._messages``.
LangChain objects are read by duck typing (``type``, ``content``, ``tool_calls``...), so this
module imports nothing from LangChain and tolerates payloads from older and newer releases.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

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

# LangChain's ``ls_provider`` metadata -> the spec's gen_ai.provider.name values.
_PROVIDERS = {
    "openai": semconv.GenAIProvider.OPENAI,
    "azure": semconv.GenAIProvider.AZURE_AI_OPENAI,
    "azure_openai": semconv.GenAIProvider.AZURE_AI_OPENAI,
    "anthropic": semconv.GenAIProvider.ANTHROPIC,
    "amazon_bedrock": semconv.GenAIProvider.AWS_BEDROCK,
    "bedrock": semconv.GenAIProvider.AWS_BEDROCK,
    "bedrock_converse": semconv.GenAIProvider.AWS_BEDROCK,
    "google_vertexai": semconv.GenAIProvider.GCP_VERTEX_AI,
    "google_genai": semconv.GenAIProvider.GCP_GEN_AI,
    "google_gemini": semconv.GenAIProvider.GCP_GEMINI,
    "cohere": semconv.GenAIProvider.COHERE,
    "deepseek": semconv.GenAIProvider.DEEPSEEK,
    "groq": semconv.GenAIProvider.GROQ,
    "mistralai": semconv.GenAIProvider.MISTRAL_AI,
    "mistral": semconv.GenAIProvider.MISTRAL_AI,
    "perplexity": semconv.GenAIProvider.PERPLEXITY,
    "xai": semconv.GenAIProvider.X_AI,
    "ibm": semconv.GenAIProvider.IBM_WATSONX_AI,
}
# LangChain message ``type`` -> GenAI role.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def run_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    """The run's name as LangChain shows it: ``name=`` if given, else the serialized class name."""
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if serialized:
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ids = serialized.get("id")
        if isinstance(ids, list) and ids and isinstance(ids[-1], str):
            return ids[-1]
    return default


def provider_of(serialized: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None) -> str | None:
    """``gen_ai.provider.name`` from ``ls_provider`` metadata, else from the model's module path."""
    raw = (metadata or {}).get("ls_provider")
    if not isinstance(raw, str) or not raw:
        ids = (serialized or {}).get("id")
        # e.g. ["langchain", "chat_models", "openai", "ChatOpenAI"]: the integration package name.
        raw = ids[-2] if isinstance(ids, list) and len(ids) >= 3 and isinstance(ids[-2], str) else None
    if not raw:
        return None
    return _PROVIDERS.get(raw.lower(), raw.lower())


def model_of(metadata: Mapping[str, Any] | None, params: Mapping[str, Any]) -> str | None:
    for value in ((metadata or {}).get("ls_model_name"), params.get("model"), params.get("model_name"),
                  params.get("model_id"), params.get("deployment_name")):
        if isinstance(value, str) and value:
            return value
    return None




def apply_request(inv: LLMInvocation, params: Mapping[str, Any], metadata: Mapping[str, Any] | None) -> None:
    """Request parameters from ``invocation_params`` (falling back to ``ls_*`` metadata)."""
    meta = metadata or {}
    inv.temperature = number(params.get("temperature", meta.get("ls_temperature")))
    inv.top_p = number(params.get("top_p"))
    inv.top_k = number(params.get("top_k"))
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens", "max_tokens_to_sample"):
        if integer(params.get(key)) is not None:
            inv.max_tokens = params[key]
            break
    else:
        inv.max_tokens = integer(meta.get("ls_max_tokens"))
    stop = params.get("stop") or params.get("stop_sequences") or meta.get("ls_stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, (list, tuple)) and stop:
        inv.stop_sequences = [str(s) for s in stop]
    inv.seed = integer(params.get("seed"))
    inv.frequency_penalty = number(params.get("frequency_penalty"))
    inv.presence_penalty = number(params.get("presence_penalty"))
    count = integer(params.get("n"))
    inv.choice_count = count if count is not None and count != 1 else None
    if params.get("stream") is True:
        inv.streaming = True
    tools = params.get("tools")
    if isinstance(tools, (list, tuple)) and tools:
        inv.tool_definitions = [tool_definition(t) for t in tools]


def tool_definition(tool: Any) -> Any:
    """One tool as the spec's ``{type, name, description, parameters}`` (OpenAI format unwrapped)."""
    if isinstance(tool, Mapping):
        function = tool.get("function")
        if isinstance(function, Mapping):
            out = {"type": tool.get("type", "function"), "name": function.get("name")}
            if function.get("description"):
                out["description"] = function["description"]
            if function.get("parameters") is not None:
                out["parameters"] = function["parameters"]
            return out
    return tool


# --- messages ----------------------------------------------------------------------------
def input_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """LangChain ``BaseMessage``s as GenAI input messages (tool calls and results included)."""
    return [_message(m) for m in messages]


def prompt_messages(prompts: Iterable[str]) -> list[dict[str, Any]]:
    """Text-completion prompts as user messages."""
    return [message("user", [text_part(p)]) for p in prompts]


def _message(msg: Any) -> dict[str, Any]:
    kind = getattr(msg, "type", None)
    role = _ROLES.get(kind or "", None) or getattr(msg, "role", None) or kind or "user"
    if kind in ("tool", "function"):
        call_id = getattr(msg, "tool_call_id", None) or getattr(msg, "name", None)
        return message("tool", [tool_call_response_part(call_id, _content_value(getattr(msg, "content", None)))])
    parts = content_parts(getattr(msg, "content", None))
    parts.extend(_tool_call_parts(msg))
    return message(str(role), parts)


def _content_value(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts = content_parts(content)
    if len(parts) == 1 and parts[0]["type"] == "text":
        return parts[0]["content"]
    return parts


def content_parts(content: Any) -> list[dict[str, Any]]:
    """A message's ``content`` (a string or a list of content blocks) as parts."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [text_part(content)]
    if not isinstance(content, (list, tuple)):
        return [text_part(str(content))]
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append(text_part(block))
        elif isinstance(block, Mapping):
            part = _block_part(block)
            if part is not None:
                parts.append(part)
    return parts


def _block_part(block: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        return text_part(str(block.get("text", "")))
    if kind in ("reasoning", "thinking"):
        text = block.get("reasoning") or block.get("thinking") or block.get("text") or ""
        return reasoning_part(str(text))
    if kind == "image_url":
        url = block.get("image_url")
        url = url.get("url") if isinstance(url, Mapping) else url
        return uri_part("image", str(url)) if url else None
    if kind in ("image", "audio", "video", "file") and block.get("url"):
        return uri_part(str(kind), str(block["url"]), block.get("mime_type"))
    if kind in ("tool_use", "tool_call"):
        return None  # also present in ``tool_calls``, which is where we read them
    return {**block, "type": str(kind or "unknown")}  # the spec's generic part: kept as given


def _tool_call_parts(msg: Any) -> list[dict[str, Any]]:
    parts = []
    for call in getattr(msg, "tool_calls", None) or ():
        if isinstance(call, Mapping):
            parts.append(tool_call_part(call.get("id"), str(call.get("name")), call.get("args")))
    return parts


# --- results -----------------------------------------------------------------------------
def apply_result(inv: LLMInvocation, response: Any) -> None:
    """Output messages, finish reasons, response id/model and usage from an ``LLMResult``."""
    generations = getattr(response, "generations", None) or []
    first = generations[0] if generations else []
    outputs: list[dict[str, Any]] = []
    reasons: list[str] = []
    for generation in first:
        msg = getattr(generation, "message", None)
        info = getattr(generation, "generation_info", None) or {}
        meta = getattr(msg, "response_metadata", None) or {}
        reason = info.get("finish_reason") or meta.get("finish_reason") or meta.get("stop_reason")
        if msg is not None:
            parts = content_parts(getattr(msg, "content", None)) + _tool_call_parts(msg)
            if reason is None:
                reason = semconv.GenAIFinishReason.TOOL_CALL if getattr(msg, "tool_calls", None) else None
            _apply_usage_metadata(inv, getattr(msg, "usage_metadata", None))
            _apply_response_metadata(inv, meta)
        else:
            parts = [text_part(str(getattr(generation, "text", "")))]
        if reason is not None:
            reasons.append(str(reason))
        outputs.append(message("assistant", parts, str(reason) if reason else semconv.GenAIFinishReason.STOP))
    if outputs:
        inv.output_messages = outputs
    if reasons:
        inv.finish_reasons = reasons
    llm_output = getattr(response, "llm_output", None) or {}
    if isinstance(llm_output, Mapping):
        _apply_response_metadata(inv, llm_output)
        if inv.input_tokens is None and inv.output_tokens is None:
            _apply_token_usage(inv, llm_output.get("token_usage") or llm_output.get("usage"))


def _apply_response_metadata(inv: LLMInvocation, meta: Mapping[str, Any]) -> None:
    model = meta.get("model_name") or meta.get("model")
    if isinstance(model, str) and model and inv.response_model is None:
        inv.response_model = model
    response_id = meta.get("id")
    if isinstance(response_id, str) and response_id and inv.response_id is None:
        inv.response_id = response_id
    fingerprint = meta.get("system_fingerprint")
    if isinstance(fingerprint, str) and fingerprint and inv.system_fingerprint is None:
        inv.system_fingerprint = fingerprint
    tier = meta.get("service_tier")
    if isinstance(tier, str) and tier and inv.response_service_tier is None:
        inv.response_service_tier = tier


def _apply_usage_metadata(inv: LLMInvocation, usage: Any) -> None:
    """LangChain's standard ``usage_metadata``, from the first generation that has it.

    With ``n > 1`` integrations put the whole call's usage on every choice's message, so it is
    read once, never summed.
    """
    if not isinstance(usage, Mapping) or inv.input_tokens is not None or inv.output_tokens is not None:
        return
    inv.input_tokens = integer(usage.get("input_tokens"))
    inv.output_tokens = integer(usage.get("output_tokens"))
    details = usage.get("input_token_details") or {}
    inv.cache_read_tokens = integer(details.get("cache_read"))
    inv.cache_creation_tokens = integer(details.get("cache_creation"))
    out_details = usage.get("output_token_details") or {}
    inv.reasoning_tokens = integer(out_details.get("reasoning"))


def _apply_token_usage(inv: LLMInvocation, usage: Any) -> None:
    """Provider-style ``llm_output["token_usage"]`` (OpenAI and Anthropic key names)."""
    if not isinstance(usage, Mapping):
        return
    from traceglass._handler._usage import usage_of

    parsed = usage_of(usage)
    if parsed is None:
        return
    inv.input_tokens = parsed.input_tokens
    inv.output_tokens = parsed.output_tokens
    inv.cache_read_tokens = parsed.cache_read_tokens
    inv.cache_creation_tokens = parsed.cache_creation_tokens
    inv.reasoning_tokens = parsed.reasoning_tokens


# --- tools, retrievers -------------------------------------------------------------------
def tool_output(output: Any) -> Any:
    """A tool's result: a ``ToolMessage``'s content, else the value itself."""
    if getattr(output, "type", None) == "tool" and hasattr(output, "content"):
        return _content_value(output.content)
    return output


def documents(docs: Iterable[Any]) -> list[dict[str, Any]]:
    """Retrieved ``Document``s as ``{id, content, metadata, score}`` objects."""
    out = []
    for doc in docs:
        item: dict[str, Any] = {}
        doc_id = getattr(doc, "id", None)
        if doc_id is not None:
            item["id"] = str(doc_id)
        item["content"] = getattr(doc, "page_content", None) if hasattr(doc, "page_content") else str(doc)
        metadata = getattr(doc, "metadata", None)
        if metadata:
            score = metadata.get("score") if isinstance(metadata, Mapping) else None
            if isinstance(score, (int, float)):
                item["score"] = float(score)
            item["metadata"] = dict(metadata)
        out.append(item)
    return out
