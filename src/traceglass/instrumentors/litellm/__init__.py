"""LiteLLM auto-instrumentation: ``LiteLLMInstrumentor``.

Importable without ``litellm`` installed (``opentelemetry-instrument`` loads entry points before
checking libraries); ``litellm`` is imported only when the instrumentor is turned on.
"""

from __future__ import annotations

from traceglass.instrumentors.litellm._instrumentor import LiteLLMInstrumentor

__all__ = ["LiteLLMInstrumentor"]
