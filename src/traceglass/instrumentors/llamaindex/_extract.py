"""Pure mapping: LlamaIndex instrumentation events and span results -> invocation fields.

A LlamaIndex span is shown only when it is one of the steps below, known by the *start event* the
step dispatches inside its span (``QueryStartEvent`` in ``BaseQueryEngine.query``, ...) or, for
tools, by the instance (``BaseTool.call``/``acall``). Every other dispatcher span (private helpers,
text splitters, ``predict`` around ``complete``) is hidden: its children go to the nearest shown
ancestor. Events are read by class name and attribute, so nothing here imports llama-index.
Tested with llama-index-core 0.14.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from traceglass import semconv
from traceglass._handler import (
    UNSET,
    AgentInvocation,
    EmbeddingInvocation,
    Invocation,
    LLMInvocation,
    RetrievalInvocation,
    StepInvocation,
    ToolInvocation,
)
from traceglass._handler._messages import message, text_part, tool_call_part
from traceglass._handler._providers import provider_for_model
from traceglass._handler._usage import apply_usage

Op = semconv.GenAIOperation
# A model call's end events: its response; a streamed call (its span exited when it returned
# the generator) ends with them.
LLM_END_EVENTS = frozenset({"LLMChatEndEvent", "LLMCompletionEndEvent"})
TOOL_METHODS = frozenset({"call", "acall", "__call__"})
# The instrument tag llama-index-workflows puts on a step's span (and, inherited, on what runs in it).
STEP_TAG = "llamaindex.step.input_event"


def owner_of(span_id: str) -> tuple[str, str]:
    """``("RetrieverQueryEngine", "query")`` from a dispatcher span id ``Class.method-<uuid>``."""
    head = span_id.rsplit("-", 5)[0] if span_id.count("-") >= 5 else span_id
    owner, _, method = head.rpartition(".")
    return owner or head, method


def _query_text(query: Any) -> Any:
    text = getattr(query, "query_str", None)
    return text if isinstance(text, str) else (query if isinstance(query, str) else UNSET)


def _model(model_dict: Any) -> str | None:
    if isinstance(model_dict, dict):
        for key in ("model", "model_name"):
            value = model_dict.get(key)
            if isinstance(value, str) and value and value != "unknown":
                return value
    return None


def _chat_message(msg: Any) -> dict[str, Any]:
    role = getattr(getattr(msg, "role", None), "value", None) or str(getattr(msg, "role", "user"))
    content = getattr(msg, "content", None)
    parts = [text_part(content)] if isinstance(content, str) and content else []
    for block in getattr(msg, "blocks", None) or ():
        if getattr(block, "block_type", None) == "tool_call":  # llama-index-core 0.14's ToolCallBlock
            parts.append(tool_call_part(getattr(block, "tool_call_id", None), str(getattr(block, "tool_name", "")),
                                        getattr(block, "tool_kwargs", None)))
    return message(role, parts)


def begin(event: Any, span_id: str, capture: bool) -> tuple[Invocation, SpanKind] | None:
    """The invocation a start event makes its span into, or None (the span stays hidden)."""
    kind = type(event).__name__
    owner, method = owner_of(span_id)
    if kind == "QueryStartEvent":
        inv = StepInvocation(span_type=semconv.SpanType.CHAIN.value, name=f"{owner}.{method}")
        inv.input_value = _query_text(getattr(event, "query", None))
        return inv, SpanKind.INTERNAL
    if kind == "SynthesizeStartEvent":
        inv = StepInvocation(span_type=semconv.SpanType.CHAIN.value, name=f"{owner}.{method}")
        inv.input_value = _query_text(getattr(event, "query", None))
        return inv, SpanKind.INTERNAL
    if kind == "RetrievalStartEvent":
        query = _query_text(getattr(event, "str_or_query_bundle", None))
        return RetrievalInvocation(name=f"{Op.RETRIEVAL} {owner}", operation=Op.RETRIEVAL, query=query), \
            SpanKind.INTERNAL
    if kind == "EmbeddingStartEvent":
        model = _model(getattr(event, "model_dict", None))
        return EmbeddingInvocation(operation=Op.EMBEDDINGS, request_model=model, provider=provider_for_model(model),
                                   embedder=owner, name=None if model else f"{Op.EMBEDDINGS} {owner}"), \
            SpanKind.CLIENT
    if kind in ("LLMChatStartEvent", "LLMCompletionStartEvent"):
        chat = kind == "LLMChatStartEvent"
        model = _model(getattr(event, "model_dict", None))
        operation = Op.CHAT if chat else Op.TEXT_COMPLETION
        inv = LLMInvocation(operation=operation, request_model=model, provider=provider_for_model(model),
                            name=None if model else f"{operation} {owner}",
                            span_type=(semconv.SpanType.CHAT_MODEL if chat else semconv.SpanType.LLM).value)
        if method.startswith(("stream", "astream")):
            inv.streaming = True
        if capture:
            if chat:
                inv.input_messages = [_chat_message(m) for m in getattr(event, "messages", None) or ()]
            else:
                prompt = getattr(event, "prompt", None)
                inv.input_messages = [message("user", [text_part(prompt)])] if isinstance(prompt, str) else None
        return inv, SpanKind.CLIENT
    return None


def tool(instance: Any, bound_args: Any) -> ToolInvocation:
    """A ``BaseTool.call`` span: the tool's name and description, its arguments as given."""
    metadata = getattr(instance, "metadata", None)
    name = getattr(metadata, "name", None) or type(instance).__name__
    description = getattr(metadata, "description", None)
    inv = ToolInvocation(operation=Op.EXECUTE_TOOL, tool_name=str(name), tool_type="function",
                         tool_description=description if isinstance(description, str) and description else None)
    arguments = getattr(bound_args, "arguments", None)
    if isinstance(arguments, dict):
        values = {k: v for k, v in arguments.items() if k != "self"}
        inner = values.pop("kwargs", None)
        if isinstance(inner, dict):
            values.update(inner)
        args = values.pop("args", None)
        if args:
            values["args"] = list(args)
        inv.input_value = values
    return inv


def workflow_run(instance: Any, is_agent: bool) -> Invocation:
    """``Workflow.run``: an agent (``FunctionAgent``, ``ReActAgent``, ...) or a workflow."""
    cls = type(instance).__name__
    if is_agent:
        name = getattr(instance, "name", None)
        description = getattr(instance, "description", None)
        tools = [_tool_name(t) for t in getattr(instance, "tools", None) or ()]
        return AgentInvocation(operation=Op.INVOKE_AGENT, agent_name=name if isinstance(name, str) else cls,
                               agent_description=description if isinstance(description, str) and description else None,
                               available_tools=[t for t in tools if t] or None)
    inv = StepInvocation(span_type=semconv.SpanType.CHAIN.value, operation=Op.INVOKE_WORKFLOW,
                         name=f"{Op.INVOKE_WORKFLOW} {cls}")
    inv.attributes[semconv.GEN_AI_WORKFLOW_NAME] = cls
    return inv


def _tool_name(tool_: Any) -> str | None:
    name = getattr(getattr(tool_, "metadata", None), "name", None) or getattr(tool_, "__name__", None)
    return name if isinstance(name, str) else None


def workflow_step(span_id: str, tags: dict[str, Any]) -> StepInvocation:
    """One step of a workflow (a graph node: the step's name, its input event as input)."""
    owner, method = owner_of(span_id)
    inv = StepInvocation(span_type=semconv.SpanType.GRAPH_NODE.value, name=f"{owner}.{method}", graph_node=method)
    summary = tags.get("llamaindex.step.input_summary")
    if isinstance(summary, str):
        inv.input_value = summary
    return inv


def on_event(inv: Invocation, event: Any, capture: bool) -> None:
    """What an end event adds to its shown span."""
    kind = type(event).__name__
    if kind in ("QueryEndEvent", "SynthesizeEndEvent"):
        text = getattr(getattr(event, "response", None), "response", None)
        if isinstance(text, str):  # a StreamingResponse's text is not read: that would consume it
            inv.output_value = text
    elif kind == "RetrievalEndEvent" and isinstance(inv, RetrievalInvocation):
        inv.documents = [_document(n) for n in getattr(event, "nodes", None) or ()]
    elif kind == "EmbeddingEndEvent" and isinstance(inv, EmbeddingInvocation):
        chunks = getattr(event, "chunks", None) or []
        vectors = getattr(event, "embeddings", None) or []
        inv.input_count = len(chunks)
        if vectors and isinstance(vectors[0], list):
            inv.dimension_count = len(vectors[0])
        if capture:
            inv.inputs = [c for c in chunks if isinstance(c, str)]
    elif kind in LLM_END_EVENTS and isinstance(inv, LLMInvocation):
        _apply_response(inv, getattr(event, "response", None), capture, kind == "LLMChatEndEvent")


def _document(node_with_score: Any) -> dict[str, Any]:
    node = getattr(node_with_score, "node", node_with_score)
    out: dict[str, Any] = {}
    node_id = getattr(node, "node_id", None)
    if isinstance(node_id, str):
        out["id"] = node_id
    score = getattr(node_with_score, "score", None)
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        out["score"] = score
    get_content = getattr(node, "get_content", None)
    if callable(get_content):
        content = get_content()
        if isinstance(content, str):
            out["content"] = content
    return out


def _apply_response(inv: LLMInvocation, response: Any, capture: bool, chat: bool) -> None:
    if response is None:
        return
    raw = getattr(response, "raw", None)
    usage = raw.get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)
    if usage is not None:
        apply_usage(inv, usage)
    model = raw.get("model") if isinstance(raw, dict) else getattr(raw, "model", None)
    if isinstance(model, str):
        inv.response_model = model
    response_id = raw.get("id") if isinstance(raw, dict) else getattr(raw, "id", None)
    if isinstance(response_id, str):
        inv.response_id = response_id
    if capture:
        if chat:
            msg = getattr(response, "message", None)
            inv.output_messages = [_chat_message(msg)] if msg is not None else None
        else:
            text = getattr(response, "text", None)
            inv.output_messages = [message("assistant", [text_part(text)] if isinstance(text, str) else [])]


def apply_result(inv: Invocation, result: Any, capture: bool) -> None:
    """A non-streamed model call's result (its end event already came) or a tool's output."""
    if type(result).__name__ == "StopEvent":  # a workflow's or an agent's end
        value = getattr(result, "result", None)
        response = getattr(value, "response", None)  # an agent's AgentOutput
        content = getattr(response, "content", None) if response is not None else value
        if isinstance(content, (str, int, float, list, dict)):
            inv.output_value = content
        return
    if isinstance(inv, ToolInvocation):
        content = getattr(result, "content", None)
        inv.output_value = content if isinstance(content, str) else (result if isinstance(result, (str, int, float))
                                                                     else str(result))
        if getattr(result, "is_error", False):
            inv.attributes[semconv.ERROR_TYPE] = "tool_error"
