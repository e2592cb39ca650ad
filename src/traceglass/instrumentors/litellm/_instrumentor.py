"""``LiteLLMInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` for ``litellm``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

# The oldest release tested (see docs/litellm.md).
OLDEST_SUPPORTED = "litellm >= 1.60"


class LiteLLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace ``litellm``: ``completion``/``acompletion`` (streams too), ``text_completion``,
    ``embedding``/``aembedding``, ``responses``/``aresponses``, and the ``Router`` calls that run
    through them. One ``CLIENT`` span per call, GenAI semantic conventions, LiteLLM's own
    ``response_cost`` kept as ``traceglass.cost.provider_reported_usd``.

    ``instrument(tracer_provider=..., meter_provider=..., capture_usage_in_stream=True)``: a
    stream whose caller did not set ``stream_options`` is sent asking for usage, and the extra
    usage chunk is hidden from the caller (``False``: send streams exactly as written).
    ``instrument()``/``uninstrument()`` are idempotent; uninstrument restores the originals.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return (OLDEST_SUPPORTED,)

    def _instrument(self, **kwargs: Any) -> None:
        # Imported here: ``litellm`` takes seconds to import, and only when turned on.
        from traceglass.instrumentors.litellm import _targets
        from traceglass.instrumentors.litellm._wrappers import STATE, Options

        usage = kwargs.get("capture_usage_in_stream")
        STATE.options = Options(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            capture_usage_in_stream=True if usage is None else bool(usage),
        )
        _targets.install()

    def _uninstrument(self, **kwargs: Any) -> None:
        from traceglass.instrumentors.litellm import _targets
        from traceglass.instrumentors.litellm._wrappers import STATE

        STATE.options = None
        _targets.uninstall()
