"""``OpenAIAgentsInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` for the OpenAI Agents SDK."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from traceglass._handler import TelemetryHandler, add_parent_resolver, remove_parent_resolver
from traceglass._runtime import handler_for
from traceglass.instrumentors._deferred import Pending, when_imported

logger = logging.getLogger("traceglass")

# The oldest release tested (see docs/agents.md): TracingProcessor, add_trace_processor and
# the span data types as read by _extract.
OLDEST_SUPPORTED = "openai-agents >= 0.2"


class _State:
    """What instrument() asked for; read when the SDK is imported (see _deferred)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.telemetry: TelemetryHandler | None = None
        self.exclusive = False
        self.registered = False  # our processor is in the SDK's list (it stays there, switched off)


STATE = _State()


def _register() -> None:
    """Switch our processor on and add it to the SDK's processors (once per process)."""
    import agents

    from traceglass.instrumentors.openai_agents import _processor

    processor = _processor.shared()
    with STATE.lock:
        processor.telemetry = STATE.telemetry
        processor.enabled = True
        if STATE.exclusive:
            # Ours alone: the SDK's default exporter (OpenAI's tracing backend) is dropped.
            agents.set_trace_processors([processor])
        elif not STATE.registered:
            agents.add_trace_processor(processor)
        STATE.registered = True
    add_parent_resolver(processor.current_step)


class OpenAIAgentsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace the OpenAI Agents SDK: workflows, agents, model calls, tools, handoffs, guardrails.

    Registers a tracing processor with the SDK (``agents.add_trace_processor``), so the SDK's
    own trace of a run becomes OTel spans: ``invoke_workflow {workflow}`` > ``invoke_agent
    {agent}`` > ``chat {model}`` / ``execute_tool {tool}`` / ``handoff {agent}`` /
    ``guardrail {name}``. The SDK's default exporter to OpenAI's tracing backend keeps running
    unless ``exclusive=True`` (then ours is the only processor).

    ``instrument(tracer_provider=..., meter_provider=..., exclusive=False)``. Idempotent;
    ``uninstrument()`` switches the processor off (the SDK cannot remove one).
    """

    _pending: Pending | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return (OLDEST_SUPPORTED,)

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        with STATE.lock:
            STATE.telemetry = (None if tracer_provider is None and meter_provider is None
                               else handler_for(tracer_provider, meter_provider))
            STATE.exclusive = bool(kwargs.get("exclusive", False))
        # Registered when the application imports the SDK, not imported by us (instrumentors/_deferred.py).
        self._pending = when_imported("agents", _register)

    def _uninstrument(self, **kwargs: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        if STATE.registered:
            from traceglass.instrumentors.openai_agents import _processor

            processor = _processor.shared()
            processor.enabled = False
            remove_parent_resolver(processor.current_step)
