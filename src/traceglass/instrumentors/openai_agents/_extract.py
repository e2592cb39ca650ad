"""Pure mapping: the Agents SDK's traces and span data -> invocation fields.

Nothing here touches a span or imports the SDK: span data is read by attribute (``getattr``
with a default), so a field a release lacks loses that field, not the span. Tested with
openai-agents 0.24 (span data types ``agent``, ``response``, ``generation``, ``function``,
``handoff``, ``guardrail``, ``custom``, ``mcp_tools``; ``task`` and ``turn`` are hidden).
"""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.trace import SpanKind

from traceglass import semconv
from traceglass._handler import (
    AgentInvocation,
    Invocation,
    LLMInvocation,
    StepInvocation,
    ToolInvocation,
)
from traceglass._handler._messages import message, messages_from_value, text_part
from traceglass._handler._providers import provider_for_model
from traceglass._handler._usage import apply_usage
from traceglass.instrumentors.openai._extract import apply_responses_api, chat_message, input_items

Op = semconv.GenAIOperation
# The SDK's bookkeeping spans: a run (``task``) and one loop iteration (``turn``). Their children
# go to the nearest shown ancestor, so a trace reads workflow -> agent -> model call / tool.
HIDDEN = frozenset({"task", "turn"})
_PARAMS = (("temperature", "temperature"), ("top_p", "top_p"), ("max_tokens", "max_tokens"),
           ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty"))


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def workflow(trace: Any) -> StepInvocation:
    """The SDK's trace (one ``Runner.run``, or the user's ``with trace(...)``) as the root step."""
    name = _text(getattr(trace, "name", None)) or "Agent workflow"
    inv = StepInvocation(span_type=semconv.SpanType.CHAIN.value, operation=Op.INVOKE_WORKFLOW,
                         name=f"{Op.INVOKE_WORKFLOW} {name}")
    inv.attributes[semconv.GEN_AI_WORKFLOW_NAME] = name
    group = _text(getattr(trace, "group_id", None))  # the SDK's "chat thread id"
    if group:
        inv.attributes[semconv.GEN_AI_CONVERSATION_ID] = group
    return inv


def begin(data: Any) -> tuple[Invocation, SpanKind]:
    """An invocation for a span that starts (its data holds what is known at the start)."""
    kind = getattr(data, "type", None)
    if kind == "agent":
        return AgentInvocation(operation=Op.INVOKE_AGENT, agent_name=_text(_get(data, "name"))), SpanKind.INTERNAL
    if kind == "function":
        name = _text(_get(data, "name"))
        return ToolInvocation(operation=Op.EXECUTE_TOOL, tool_name=name, tool_type="function"), SpanKind.INTERNAL
    if kind == "response":
        # The model is learned from the response (the span is renamed "chat {model}" then).
        inv = LLMInvocation(operation=Op.CHAT, provider=semconv.GenAIProvider.OPENAI,
                            api_type=semconv.OpenAIApiType.RESPONSES, name=Op.CHAT)
        return inv, SpanKind.CLIENT
    if kind == "generation":
        model = _text(_get(data, "model"))
        inv = LLMInvocation(operation=Op.CHAT, request_model=model, provider=provider_for_model(model))
        config = _get(data, "model_config")
        if isinstance(config, dict):
            for key, field_name in _PARAMS:
                value = config.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    setattr(inv, field_name, value)
        return inv, SpanKind.CLIENT
    if kind == "handoff":
        return StepInvocation(span_type=semconv.SPAN_TYPE_HANDOFF, name="handoff"), SpanKind.INTERNAL
    if kind == "guardrail":
        name = _text(_get(data, "name")) or "guardrail"
        return StepInvocation(span_type=semconv.SPAN_TYPE_GUARDRAIL, name=f"guardrail {name}"), SpanKind.INTERNAL
    if kind == "custom":
        name = _text(_get(data, "name")) or "custom"
        return StepInvocation(span_type=semconv.SpanType.CUSTOM.value, name=name), SpanKind.INTERNAL
    if kind == "mcp_tools":
        server = _text(_get(data, "server"))
        return StepInvocation(span_type=semconv.SpanType.TOOL.value,
                              name=f"mcp_list_tools {server}" if server else "mcp_list_tools"), SpanKind.INTERNAL
    # transcription, speech, speech_group and types of later releases: a step named by its type.
    return StepInvocation(span_type=semconv.SpanType.CUSTOM.value, name=str(kind or "agents_span")), SpanKind.INTERNAL


def finish(inv: Invocation, data: Any, capture: bool) -> str | None:
    """Fill what the span's data knows at its end; returns a new span name, if it has one."""
    kind = getattr(data, "type", None)
    if kind == "agent" and isinstance(inv, AgentInvocation):
        tools, handoffs = _get(data, "tools"), _get(data, "handoffs")
        inv.available_tools = [str(t) for t in tools] if isinstance(tools, list) and tools else None
        inv.handoff_agents = [str(h) for h in handoffs] if isinstance(handoffs, list) and handoffs else None
    elif kind == "function":
        arguments, output = _get(data, "input"), _get(data, "output")
        if arguments is not None:
            inv.input_value = arguments
        if output is not None:
            inv.output_value = output if isinstance(output, (str, int, float, bool, list, dict)) else str(output)
        mcp = _get(data, "mcp_data")
        if isinstance(mcp, dict) and isinstance(inv, ToolInvocation):
            inv.tool_type = "extension"  # a tool of an MCP server, not a function of the app
            inv.attributes[semconv.GEN_AI_TOOL_TYPE] = "extension"
    elif kind == "response" and isinstance(inv, LLMInvocation):
        return _finish_response(inv, data, capture)
    elif kind == "generation" and isinstance(inv, LLMInvocation):
        _finish_generation(inv, data, capture)
    elif kind == "handoff":
        source, target = _text(_get(data, "from_agent")), _text(_get(data, "to_agent"))
        if source:
            inv.attributes[semconv.HANDOFF_FROM_AGENT] = source
        if target:
            inv.attributes[semconv.HANDOFF_TO_AGENT] = target
            return f"handoff {target}"
    elif kind == "guardrail":
        inv.attributes[semconv.GUARDRAIL_TRIGGERED] = bool(_get(data, "triggered"))
    elif kind == "custom":
        bag = _get(data, "data")
        if isinstance(bag, dict) and bag:
            inv.output_value = bag
    elif kind == "mcp_tools":
        result = _get(data, "result")
        if isinstance(result, list):
            inv.output_value = result
    return None


def _finish_response(inv: LLMInvocation, data: Any, capture: bool) -> str | None:
    response = _get(data, "response")
    if capture:
        raw = _get(data, "input")
        if isinstance(raw, str):
            inv.input_messages = [message("user", [text_part(raw)])]
        elif isinstance(raw, list):
            inv.input_messages = input_items(raw)
        instructions = _get(response, "instructions") if response is not None else None
        if isinstance(instructions, str) and instructions:
            inv.system_instructions = [text_part(instructions)]
    if response is None:
        usage = _get(data, "usage")  # a failed call: the SDK may still know the usage
        if isinstance(usage, dict):
            apply_usage(inv, usage)
        return None
    apply_responses_api(inv, response, capture)
    model = inv.response_model
    return f"{Op.CHAT} {model}" if model else None


def _finish_generation(inv: LLMInvocation, data: Any, capture: bool) -> None:
    usage = _get(data, "usage")
    if isinstance(usage, dict):
        apply_usage(inv, usage)
    if not capture:
        return
    raw = _get(data, "input")
    if isinstance(raw, list):
        inv.input_messages = [chat_message(m) for m in raw if isinstance(m, dict)]
    output = _get(data, "output")
    if isinstance(output, list):
        inv.output_messages = [chat_message(m) for m in output if isinstance(m, dict)]
    elif output is not None:
        inv.output_messages = messages_from_value(output, "assistant")


def tool_calls(data: Any) -> list[tuple[str, str]]:
    """``(tool's trace name, call id)`` of each function call a model call's output asked for, in order.

    The SDK's function span carries only the tool's name; the id the model gave the call is in
    the output of the ``response``/``generation`` span before it (present when the SDK records
    data, its default). The name is the SDK's trace name (``namespace.name`` for a namespaced tool).
    """
    kind = getattr(data, "type", None)
    if kind == "response":
        items = _get(_get(data, "response"), "output")
    elif kind == "generation":
        items = _get(data, "output")
    else:
        return []
    calls: list[tuple[str, str]] = []
    for item in items if isinstance(items, list) else ():
        if _get(item, "type") == "function_call":  # a Responses output item (also a streamed chat model's)
            _add_call(calls, _get(item, "name"), _get(item, "call_id"), _get(item, "namespace"))
        elif isinstance(item, dict) and item.get("object") == "response":  # a Response dumped whole
            calls.extend(tool_calls(_ResponseData(item)))
        else:  # a Chat Completions message
            for call in _get(item, "tool_calls") or ():
                _add_call(calls, _get(_get(call, "function"), "name"), _get(call, "id"), None)
    return calls


class _ResponseData:
    type = "response"

    def __init__(self, response: Any) -> None:
        self.response = response


def _add_call(calls: list[tuple[str, str]], name: Any, call_id: Any, namespace: Any) -> None:
    name, call_id = _text(name), _text(call_id)
    if name and call_id:
        calls.append((f"{namespace}.{name}" if _text(namespace) else name, call_id))


def error_of(error: Any) -> tuple[str, str | None] | None:
    """``(error.type, message)`` of a span the SDK marked failed (``span.error``), else None.

    The SDK's messages are short fixed phrases ("Error running tool", "Max turns exceeded",
    "Guardrail tripwire triggered"): low-cardinality enough for ``error.type``; the details
    (``data.error``, the exception text) become the status message.
    """
    if not isinstance(error, dict):
        return None
    text = _text(error.get("message")) or "error"
    details = error.get("data")
    detail = details.get("error") if isinstance(details, dict) else None
    if detail is None and details:
        try:
            detail = json.dumps(details, default=str)
        except (TypeError, ValueError):
            detail = None
    return text, (str(detail) if detail is not None else text)


__all__ = ["HIDDEN", "begin", "error_of", "finish", "tool_calls", "workflow"]
