"""The span types users pick from, and their ``gen_ai.operation.name`` where one exists."""

from __future__ import annotations

from enum import Enum

from traceglass.semconv.gen_ai import GenAIOperation


class SpanType(str, Enum):
    """Known values of ``traceglass.span.type``; any other string is a custom type kept as given."""

    LLM = "llm"
    CHAT_MODEL = "chat_model"
    CHAIN = "chain"
    TOOL = "tool"
    AGENT = "agent"
    AGENT_ACTION = "agent_action"
    EMBEDDING = "embedding"
    RETRIEVER = "retriever"
    GRAPH_NODE = "graph_node"
    SESSION = "session"
    CUSTOM = "custom"

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


OPERATION_FOR_SPAN_TYPE: dict[str, str] = {
    SpanType.LLM.value: GenAIOperation.CHAT,
    SpanType.CHAT_MODEL.value: GenAIOperation.CHAT,
    SpanType.EMBEDDING.value: GenAIOperation.EMBEDDINGS,
    SpanType.RETRIEVER.value: GenAIOperation.RETRIEVAL,
    SpanType.TOOL.value: GenAIOperation.EXECUTE_TOOL,
    SpanType.AGENT.value: GenAIOperation.INVOKE_AGENT,
}


def operation_for(span_type: str) -> str | None:
    """The ``gen_ai.operation.name`` a span type maps to, or None (chain, custom, ...)."""
    return OPERATION_FOR_SPAN_TYPE.get(span_type)
