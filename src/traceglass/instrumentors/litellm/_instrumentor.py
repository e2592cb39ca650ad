"""``LiteLLMInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` for ``litellm``."""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import Any

import wrapt
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
        from traceglass.instrumentors.litellm._state import STATE, Options

        usage = kwargs.get("capture_usage_in_stream")
        STATE.options = Options(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            capture_usage_in_stream=True if usage is None else bool(usage),
        )
        # ``litellm`` takes seconds to import: patch it when the app imports it (at once if it has),
        # so configure() in an app that never uses it does not pay for it.
        if not STATE.hooked:
            STATE.hooked = True
            wrapt.register_post_import_hook(_patch, "litellm")
        elif "litellm" in sys.modules:
            _patch(sys.modules["litellm"])

    def _uninstrument(self, **kwargs: Any) -> None:
        from traceglass.instrumentors.litellm._state import STATE

        STATE.options = None
        if "litellm" in sys.modules:
            from traceglass.instrumentors.litellm import _targets

            _targets.uninstall()


def _patch(module: Any) -> None:
    """The post-import hook: wrap LiteLLM's entry points if instrumentation is (still) on."""
    from traceglass.instrumentors.litellm._state import STATE

    if STATE.options is not None:
        from traceglass.instrumentors.litellm import _targets

        _targets.install()
