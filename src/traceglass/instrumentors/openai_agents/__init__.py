"""OpenAI Agents SDK (``openai-agents``) auto-instrumentation: ``OpenAIAgentsInstrumentor``.

Importable without the SDK installed (``opentelemetry-instrument`` loads entry points before
checking libraries); the tracing processor loads when the application imports ``agents``.
"""

from __future__ import annotations

from traceglass.instrumentors.openai_agents._instrumentor import OpenAIAgentsInstrumentor

__all__ = ["OpenAIAgentsInstrumentor"]
