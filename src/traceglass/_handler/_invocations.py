"""Typed invocations: what instrumentors and decorators know about one unit of work.

Provider code fills these; only the telemetry handler turns them into spans and metrics.
``UNSET`` marks a captured value nobody provided, so defaults (a function's arguments and
return value) can apply without confusing them with an explicit ``None``.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from traceglass.semconv import SpanType

if TYPE_CHECKING:
    from opentelemetry.trace import Span
    from typing_extensions import Self


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()
# Per invocation class: its fields' defaults, and the fields whose default is a factory.
_DEFAULTS: dict[type, tuple[dict[str, Any], tuple[tuple[str, Any], ...]]] = {}


def _defaults_of(cls: type) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    plain = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    factories = tuple((f.name, f.default_factory) for f in fields(cls) if f.default_factory is not MISSING)
    _DEFAULTS[cls] = found = (plain, factories)
    return found


@dataclass(eq=False)
class Invocation:
    """Fields common to every span traceglass makes."""

    span_type: str = SpanType.CUSTOM.value
    name: str | None = None
    operation: str | None = None
    provider: str | None = None
    request_model: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    input_value: Any = UNSET
    output_value: Any = UNSET
    # Per-span price overrides, USD per token (the cost processor reads them off the span).
    price_input_per_token: float | None = None
    price_output_per_token: float | None = None
    # Filled in by the handler.
    span: Span | None = field(default=None, repr=False)
    parent: Invocation | None = field(default=None, repr=False)
    start_time_ns: int = 0
    subtree_reported_usage: bool = False  # a model call below already reported token usage
    subtree_model_call: bool = False  # a model call below already recorded the operation metrics
    # error.type when a call fails, if the caller knows better than the exception's type name
    # (the provider's error code, the HTTP status).
    error_type: str | None = None

    def has_usage(self) -> bool:
        return False

    @classmethod
    def new(cls, **values: Any) -> Self:
        """``cls(**values)`` for per-call hot paths: copies the defaults in one step instead of
        running the generated ``__init__`` (an ``LLMInvocation`` has ~50 fields; 1.5 us -> 0.5 us).
        ``values`` must name fields: unlike ``__init__``, this does not check them."""
        plain, factories = _DEFAULTS.get(cls) or _defaults_of(cls)
        inv = object.__new__(cls)
        state = inv.__dict__
        state.update(plain)
        for name, factory in factories:
            state[name] = factory()
        state.update(values)
        return inv


@dataclass(eq=False)
class LLMInvocation(Invocation):
    """A call to a generative model (chat, text completion, Responses API)."""

    span_type: str = SpanType.LLM.value
    server_address: str | None = None
    server_port: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    max_tokens: int | None = None
    stop_sequences: list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    choice_count: int | None = None
    output_type: str | None = None
    conversation_id: str | None = None
    request_service_tier: str | None = None
    api_type: str | None = None
    streaming: bool | None = None  # True only for a streamed request (the spec: "if and only if")
    system_instructions: list[dict[str, Any]] | None = None
    input_messages: list[dict[str, Any]] | None = None
    tool_definitions: list[dict[str, Any]] | None = None
    output_messages: list[dict[str, Any]] | None = None
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] | None = None
    response_service_tier: str | None = None
    system_fingerprint: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    usage_estimated: bool = False
    time_to_first_token_s: float | None = None

    def has_usage(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


@dataclass(eq=False)
class EmbeddingInvocation(Invocation):
    """A call to an embeddings model. Vectors are never recorded: counts and dimensions only."""

    span_type: str = SpanType.EMBEDDING.value
    server_address: str | None = None
    server_port: int | None = None
    encoding_formats: list[str] | None = None
    dimension_count: int | None = None
    input_count: int | None = None
    inputs: list[str] | None = None
    embedder: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None

    def has_usage(self) -> bool:
        return self.input_tokens is not None


@dataclass(eq=False)
class ToolInvocation(Invocation):
    """One tool execution."""

    span_type: str = SpanType.TOOL.value
    tool_name: str | None = None
    tool_description: str | None = None
    tool_type: str | None = None
    call_id: str | None = None


@dataclass(eq=False)
class RetrievalInvocation(Invocation):
    """A retrieval: a query in, documents out."""

    span_type: str = SpanType.RETRIEVER.value
    query: Any = UNSET
    documents: Any = UNSET
    embedder: str | None = None
    data_source_id: str | None = None


@dataclass(eq=False)
class AgentInvocation(Invocation):
    """An agent run, with the tools it may call and the agents it may hand off to."""

    span_type: str = SpanType.AGENT.value
    agent_name: str | None = None
    agent_id: str | None = None
    agent_description: str | None = None
    available_tools: list[str] | None = None
    handoff_agents: list[str] | None = None


@dataclass(eq=False)
class StepInvocation(Invocation):
    """Any other step: chain, agent action, graph node, session, or a custom type."""

    span_type: str = SpanType.CHAIN.value
    graph_node: str | None = None
    graph_step: int | None = None


# The invocations that are one call to a model: they record the operation metrics, and a model call
# above another learns of it as it ends (the no-double-counting rule of traceglass.rollup).
MODEL_CALLS = (LLMInvocation, EmbeddingInvocation)
