"""``TracedOpenAI`` / ``TracedAsyncOpenAI``: clients that trace their own calls.

They take the SDK's own arguments (plus optional ``tracer_provider``/``meter_provider`` and the
instrumentor's stream options: ``capture_usage_in_stream=False`` sends streams as the caller wrote
them, without asking for usage) and trace every call made through them, whether or not
``OpenAIInstrumentor`` is on. They share the instrumentor's patches: creating one installs them
(idempotently), and a call is traced when global instrumentation is on or its client is traced.
"""

from __future__ import annotations

from typing import Any

import openai

from traceglass.instrumentors.openai import _targets
from traceglass.instrumentors.openai._wrappers import STATE, Options


def _setup(client: Any, tracer_provider: Any, meter_provider: Any, capture_usage_in_stream: bool | None,
           estimate_tokens: bool) -> None:
    client._traceglass_options = Options(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_usage_in_stream=capture_usage_in_stream,
        estimate_tokens=estimate_tokens,
    )
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


class TracedOpenAI(_KeepsTracing, openai.OpenAI):
    """``openai.OpenAI`` whose calls are always traced."""

    def __init__(self, *args: Any, tracer_provider: Any = None, meter_provider: Any = None,
                 capture_usage_in_stream: bool | None = None, estimate_tokens: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _setup(self, tracer_provider, meter_provider, capture_usage_in_stream, estimate_tokens)


class TracedAsyncOpenAI(_KeepsTracing, openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` whose calls are always traced."""

    def __init__(self, *args: Any, tracer_provider: Any = None, meter_provider: Any = None,
                 capture_usage_in_stream: bool | None = None, estimate_tokens: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _setup(self, tracer_provider, meter_provider, capture_usage_in_stream, estimate_tokens)
