"""``TracedAnthropic`` / ``TracedAsyncAnthropic``: clients that trace their own calls.

They take the SDK's own arguments (plus optional ``tracer_provider``/``meter_provider``) and trace
every call made through them, whether or not ``AnthropicInstrumentor`` is on. They share the
instrumentor's patches: creating one installs them (idempotently), and a call is traced when global
instrumentation is on or its client is traced.
"""

from __future__ import annotations

from typing import Any

import anthropic

from traceglass.instrumentors.anthropic import _targets
from traceglass.instrumentors.anthropic._wrappers import STATE, Options


def _setup(client: Any, tracer_provider: Any, meter_provider: Any) -> None:
    client._traceglass_options = Options(tracer_provider=tracer_provider, meter_provider=meter_provider)
    STATE.clients_made = True
    _targets.install()


class _KeepsTracing:
    """``copy()`` / ``with_options()`` give a client that traces the same way (the SDK builds the
    copy through ``__init__``, which would otherwise fall back to the default options)."""

    _traceglass_options: Options

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        copied = super().copy(*args, **kwargs)  # type: ignore[misc]
        copied._traceglass_options = self._traceglass_options
        return copied

    with_options = copy


class TracedAnthropic(_KeepsTracing, anthropic.Anthropic):
    """``anthropic.Anthropic`` whose calls are always traced."""

    def __init__(self, *args: Any, tracer_provider: Any = None, meter_provider: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _setup(self, tracer_provider, meter_provider)


class TracedAsyncAnthropic(_KeepsTracing, anthropic.AsyncAnthropic):
    """``anthropic.AsyncAnthropic`` whose calls are always traced."""

    def __init__(self, *args: Any, tracer_provider: Any = None, meter_provider: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _setup(self, tracer_provider, meter_provider)
