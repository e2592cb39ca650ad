"""``update_current_span_attributes``: fill in what a traced function learned while it ran."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Union

from traceglass._guard import guarded
from traceglass._handler import LLMInvocation, RetrievalInvocation, current_invocation
from traceglass._handler._messages import messages_from_value
from traceglass.semconv import GenAIFinishReason

logger = logging.getLogger("traceglass")


@dataclass
class LlmAttributes:
    """Prompt, completion and token counts of an ``llm`` span."""

    input: Any
    output: Any
    input_token_count: int | None = None
    output_token_count: int | None = None


@dataclass
class RetrieverAttributes:
    """The query embedded and the context retrieved by a ``retriever`` span."""

    embedding_input: Any
    retrieval_context: list[Any]


@dataclass
class ToolAttributes:
    """Input parameters and output of a ``tool`` span (default: the function's own)."""

    input_parameters: Any = None
    output: Any = None


@dataclass
class AgentAttributes:
    """Input and output of an ``agent`` span (default: the function's own)."""

    input: Any = None
    output: Any = None


SpanAttributes = Union[LlmAttributes, RetrieverAttributes, ToolAttributes, AgentAttributes]


_KINDS = (LlmAttributes, RetrieverAttributes, ToolAttributes, AgentAttributes)


def update_current_span_attributes(attributes: SpanAttributes) -> None:
    """Update the nearest span opened by ``trace_llm``/``observe``/``span`` in this context.

    Raises ``TypeError`` for anything but the four attribute classes: a programmer's error, so it
    is raised, not swallowed by the guard that keeps traceglass's own faults from the app.
    """
    if not isinstance(attributes, _KINDS):
        raise TypeError(f"expected LlmAttributes, RetrieverAttributes, ToolAttributes or AgentAttributes, "
                        f"got {type(attributes).__name__}")
    _update(attributes)


@guarded("update_current_span_attributes")
def _update(attributes: SpanAttributes) -> None:
    invocation = current_invocation()
    if invocation is None:
        logger.debug("update_current_span_attributes called with no traceglass span open")
        return
    if isinstance(attributes, LlmAttributes):
        _set(invocation, attributes.input, attributes.output)
        if isinstance(invocation, LLMInvocation):
            if attributes.input is not None:
                invocation.input_messages = messages_from_value(attributes.input, "user")
            if attributes.output is not None:
                invocation.output_messages = [
                    {**m, "finish_reason": GenAIFinishReason.STOP}
                    for m in messages_from_value(attributes.output, "assistant")
                ]
            if attributes.input_token_count is not None:
                invocation.input_tokens = attributes.input_token_count
            if attributes.output_token_count is not None:
                invocation.output_tokens = attributes.output_token_count
    elif isinstance(attributes, RetrieverAttributes):
        _set(invocation, attributes.embedding_input, attributes.retrieval_context)
        if isinstance(invocation, RetrievalInvocation):
            invocation.query = attributes.embedding_input
            invocation.documents = list(attributes.retrieval_context)
    elif isinstance(attributes, ToolAttributes):
        _set(invocation, attributes.input_parameters, attributes.output)
    else:
        _set(invocation, attributes.input, attributes.output)


def _set(invocation: Any, input_value: Any, output_value: Any) -> None:
    if input_value is not None:
        invocation.input_value = input_value
    if output_value is not None:
        invocation.output_value = output_value


__all__ = [
    "AgentAttributes",
    "LlmAttributes",
    "RetrieverAttributes",
    "SpanAttributes",
    "ToolAttributes",
    "update_current_span_attributes",
]
