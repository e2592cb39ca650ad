"""``LiteLLMInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` for ``litellm``."""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from traceglass.instrumentors._deferred import Pending, when_imported
from traceglass.instrumentors.litellm._state import STATE, Options

# The oldest release tested (see docs/litellm.md).
OLDEST_SUPPORTED = "litellm >= 1.60"


def _patch() -> None:
    # Imported here: the wrap table imports ``litellm``, which takes seconds.
    from traceglass.instrumentors.litellm import _targets

    _targets.install()


class LiteLLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace ``litellm``: ``completion``/``acompletion`` (streams too), ``text_completion``,
    ``embedding``/``aembedding``, ``responses``/``aresponses``, and the ``Router`` calls that run
    through them. One ``CLIENT`` span per call, GenAI semantic conventions, LiteLLM's own
    ``response_cost`` kept as ``traceglass.cost.provider_reported_usd``.

    ``instrument(tracer_provider=..., meter_provider=..., capture_usage_in_stream=True)``: a
    stream whose caller did not set ``stream_options`` is sent asking for usage, and the extra
    usage chunk is hidden from the caller (``False``: send streams exactly as written).
    ``instrument()``/``uninstrument()`` are idempotent; uninstrument restores the originals.
    ``litellm`` is patched when the application imports it (at once if it has), never imported here.
    """

    _pending: Pending | None = None  # this instrumentor's patch, until litellm's import

    def instrumentation_dependencies(self) -> Collection[str]:
        return (OLDEST_SUPPORTED,)

    def _instrument(self, **kwargs: Any) -> None:
        usage = kwargs.get("capture_usage_in_stream")
        STATE.options = Options(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            capture_usage_in_stream=True if usage is None else bool(usage),
        )
        self._pending = when_imported("litellm", _patch)  # see instrumentors/_deferred.py

    def _uninstrument(self, **kwargs: Any) -> None:
        STATE.options = None
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        if "litellm" in sys.modules:  # never imported: nothing was patched
            from traceglass.instrumentors.litellm import _targets

            _targets.uninstall()
