"""Invocations and the telemetry handler (the one in force is the runtime's: ``traceglass._runtime``)."""

from __future__ import annotations

from traceglass._handler._invocations import (
    MODEL_CALLS,
    UNSET,
    AgentInvocation,
    EmbeddingInvocation,
    Invocation,
    LLMInvocation,
    RetrievalInvocation,
    StepInvocation,
    ToolInvocation,
)
from traceglass._handler._telemetry import (
    TelemetryHandler,
    add_parent_resolver,
    current_invocation,
    remove_parent_resolver,
)

__all__ = [
    "MODEL_CALLS",
    "UNSET",
    "AgentInvocation",
    "EmbeddingInvocation",
    "Invocation",
    "LLMInvocation",
    "RetrievalInvocation",
    "StepInvocation",
    "TelemetryHandler",
    "ToolInvocation",
    "add_parent_resolver",
    "current_invocation",
    "remove_parent_resolver",
]
