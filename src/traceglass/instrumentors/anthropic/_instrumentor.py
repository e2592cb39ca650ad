"""``AnthropicInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` for the ``anthropic`` SDK."""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from traceglass import _runtime
from traceglass.instrumentors._deferred import Pending, when_imported
from traceglass.instrumentors.anthropic import _targets
from traceglass.instrumentors.anthropic._wrappers import STATE, Options

logger = logging.getLogger("traceglass")

# The oldest release tested (see docs/anthropic.md): `anthropic.resources.messages.*` as wrapped here.
OLDEST_SUPPORTED = "anthropic >= 0.40"
# Peers that patch the same methods, by the module that holds their instrumentor.
_PEERS = (
    "opentelemetry.instrumentation.anthropic",  # OpenLLMetry
    "openinference.instrumentation.anthropic",  # OpenInference
)
# The key of the "another Anthropic instrumentation is active" warning, given once per runtime.
PEERS_WARNING = "anthropic.peers"


def _other_instrumentors() -> list[str]:
    found = []
    for module_name in _PEERS:
        module = sys.modules.get(module_name)  # a peer that is active has been imported
        peer = getattr(module, "AnthropicInstrumentor", None) if module is not None else None
        try:
            if peer is not None and peer().is_instrumented_by_opentelemetry:
                found.append(module_name)
        except Exception:
            logger.debug("traceglass: could not ask %s whether it is active", module_name, exc_info=True)
    found.extend(_targets.foreign_wrappers())
    return found


def _patch() -> None:
    """Wrap the SDK's methods, saying first if another instrumentation already wraps them."""
    others = _other_instrumentors()
    if others and _runtime.current().first_time(PEERS_WARNING):
        logger.warning(
            "traceglass: another Anthropic instrumentation is active (%s); each call may produce two "
            "spans. Disable one of them (e.g. OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=anthropic).",
            ", ".join(others),
        )
    _targets.install()


class AnthropicInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Trace the ``anthropic`` SDK: ``messages.create`` / ``stream`` / ``parse`` / ``count_tokens`` and
    ``messages.batches.create`` (and their ``beta`` twins); sync, async, streams; Anthropic, Bedrock
    and Vertex clients.

    ``instrument(tracer_provider=..., meter_provider=...)``; ``instrument()``/``uninstrument()`` are
    idempotent. While a call is traced the SDK's own span for it is not made (one span per call).
    """

    _pending: Pending | None = None  # this instrumentor's patch, until the library's import

    def instrumentation_dependencies(self) -> Collection[str]:
        return (OLDEST_SUPPORTED,)

    def _instrument(self, **kwargs: Any) -> None:
        STATE.options = Options(tracer_provider=kwargs.get("tracer_provider"),
                                meter_provider=kwargs.get("meter_provider"))
        # Patched when the application imports anthropic, not imported by us (see instrumentors/_deferred.py).
        self._pending = when_imported("anthropic", _patch)

    def _uninstrument(self, **kwargs: Any) -> None:
        STATE.options = None
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        # TracedAnthropic clients need the patches even with global instrumentation off.
        if not STATE.clients_made and "anthropic" in sys.modules:  # never imported: nothing was patched
            _targets.uninstall()
