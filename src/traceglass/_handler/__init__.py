"""Invocations, the telemetry handler, and the process-wide default handler."""

from __future__ import annotations

from typing import Any

from traceglass._handler._invocations import (
    UNSET,
    AgentInvocation,
    EmbeddingInvocation,
    Invocation,
    LLMInvocation,
    RetrievalInvocation,
    StepInvocation,
    ToolInvocation,
)
from traceglass._handler._telemetry import TelemetryHandler, current_invocation

_default: TelemetryHandler | None = None


def get_handler() -> TelemetryHandler:
    """The handler the decorators use: bound to the global providers unless one was installed."""
    global _default
    if _default is None:
        _default = TelemetryHandler()
    return _default


def set_handler(handler: TelemetryHandler | None) -> None:
    """Install ``handler`` as the default (None: back to the global providers)."""
    global _default
    _default = handler


def handler_for(tracer_provider: Any = None, meter_provider: Any = None) -> TelemetryHandler:
    """A handler for explicit providers, or the default one when none is given."""
    if tracer_provider is None and meter_provider is None:
        return get_handler()
    return TelemetryHandler(tracer_provider=tracer_provider, meter_provider=meter_provider)


__all__ = [
    "UNSET",
    "AgentInvocation",
    "EmbeddingInvocation",
    "Invocation",
    "LLMInvocation",
    "RetrievalInvocation",
    "StepInvocation",
    "TelemetryHandler",
    "ToolInvocation",
    "current_invocation",
    "get_handler",
    "handler_for",
    "set_handler",
]
