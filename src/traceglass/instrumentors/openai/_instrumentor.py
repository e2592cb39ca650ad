"""``OpenAIInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` for the ``openai`` SDK."""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from traceglass import _runtime
from traceglass.instrumentors._deferred import Pending, when_imported
from traceglass.instrumentors.openai import _targets
from traceglass.instrumentors.openai._wrappers import STATE, Options

logger = logging.getLogger("traceglass")

# The oldest release tested (see docs/openai.md): `openai.resources.*` as wrapped here.
OLDEST_SUPPORTED = "openai >= 1.40"
# Peers that patch the same methods, by the module that holds their instrumentor.
_PEERS = (
    "opentelemetry.instrumentation.openai_v2",  # official contrib
    "opentelemetry.instrumentation.openai",  # OpenLLMetry
    "openinference.instrumentation.openai",  # OpenInference
)
# The key of the "another OpenAI instrumentation is active" warning, given once per runtime
# (configure() carries what was reported over; testing.capture() starts afresh).
PEERS_WARNING = "openai.peers"


def _other_instrumentors() -> list[str]:
    found = []
    for module_name in _PEERS:
        module = sys.modules.get(module_name)  # a peer that is active has been imported
        peer = getattr(module, "OpenAIInstrumentor", None) if module is not None else None
        try:
            if peer is not None and peer().is_instrumented_by_opentelemetry:
                found.append(module_name)
        except Exception:
            logger.debug("traceglass: could not ask %s whether it is active", module_name, exc_info=True)
    found.extend(_targets.foreign_wrappers())
    return found


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _patch() -> None:
    """Wrap the SDK's methods, saying first if another instrumentation already wraps them."""
    others = _other_instrumentors()
    if others and _runtime.current().first_time(PEERS_WARNING):
        logger.warning(
            "traceglass: another OpenAI instrumentation is active (%s); each call may produce two "
            "spans. Disable one of them (e.g. OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai).",
            ", ".join(others),
        )
    _targets.install()


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace the ``openai`` SDK: chat, completions, embeddings, Responses; sync, async, streams.

    ``instrument(tracer_provider=..., meter_provider=..., capture_usage_in_stream=None,
    estimate_tokens=False)``. Streams report exact tokens by default: a streamed chat or completions
    request that does not set ``stream_options.include_usage`` is sent asking for it, and the extra
    usage chunk is hidden from the caller. ``capture_usage_in_stream=False`` turns that off (None:
    the ``openai_stream_usage`` setting of ``configure()`` / ``TRACEGLASS_OPENAI_STREAM_USAGE``,
    on by default). ``estimate_tokens=True`` counts tokens offline when a stream reported none and
    marks the span ``traceglass.usage.estimated``. ``instrument()``/``uninstrument()`` are idempotent.
    """

    _pending: Pending | None = None  # this instrumentor's patch, until the library's import

    def instrumentation_dependencies(self) -> Collection[str]:
        return (OLDEST_SUPPORTED,)

    def _instrument(self, **kwargs: Any) -> None:
        STATE.options = Options(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            capture_usage_in_stream=_optional_bool(kwargs.get("capture_usage_in_stream")),
            estimate_tokens=bool(kwargs.get("estimate_tokens", False)),
        )
        # Patched when the application imports openai, not imported by us (see instrumentors/_deferred.py).
        self._pending = when_imported("openai", _patch)

    def _uninstrument(self, **kwargs: Any) -> None:
        STATE.options = None
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        # TracedOpenAI clients need the patches even with global instrumentation off.
        if not STATE.clients_made and "openai" in sys.modules:  # never imported: nothing was patched
            _targets.uninstall()
