"""LlamaIndex (``llama-index-core``) auto-instrumentation: ``LlamaIndexInstrumentor``.

Importable without llama-index installed; the handlers load when the application imports it.
"""

from __future__ import annotations

from traceglass.instrumentors.llamaindex._instrumentor import LlamaIndexInstrumentor

__all__ = ["LlamaIndexInstrumentor"]
