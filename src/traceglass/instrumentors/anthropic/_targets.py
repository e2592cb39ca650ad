"""The one table of wrap targets: it drives both patching and unpatching.

Each target is wrapped on its own; a module or method an ``anthropic`` release lacks is skipped, so a
new or old SDK never disables the rest. Wrapping the resource classes covers every client built on
them: ``Anthropic``, ``AnthropicBedrock`` and ``AnthropicVertex`` all make ``messages`` from these
classes (the provider comes from the client's class), and ``with_raw_response`` binds these methods.
``stream`` is listed because it posts directly (``self._post``), not through ``create``.

One more patch, not a method: the SDK (anthropic >= 0.80) makes a span of its own per API call,
``anthropic.messages.create``, whenever a global tracer provider is set. Under a traced call that span
would be a second copy of ours, so while ours is open the client's ``_tracer`` property answers None,
the SDK's own way of saying "no span" (:func:`native_span_off`). Calls traceglass does not trace keep it.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from traceglass.instrumentors import _patching
from traceglass.instrumentors.anthropic._wrappers import (
    IN_CALL,
    OPERATIONS,
    async_wrapper,
    stream_helper_wrapper,
    sync_wrapper,
)

logger = logging.getLogger("traceglass")


@dataclass(frozen=True)
class Target:
    module: str
    cls: str
    method: str
    operation: str
    kind: str  # "sync", "async" or "stream" (the helper; sync and async alike)


_MESSAGES = "anthropic.resources.messages.messages"
_BATCHES = "anthropic.resources.messages.batches"
_BETA_MESSAGES = "anthropic.resources.beta.messages.messages"
_BETA_BATCHES = "anthropic.resources.beta.messages.batches"

TARGETS: tuple[Target, ...] = tuple(
    target
    for module, batches in ((_MESSAGES, _BATCHES), (_BETA_MESSAGES, _BETA_BATCHES))
    for target in (
        Target(module, "Messages", "create", "messages", "sync"),
        Target(module, "AsyncMessages", "create", "messages", "async"),
        Target(module, "Messages", "parse", "messages", "sync"),
        Target(module, "AsyncMessages", "parse", "messages", "async"),
        Target(module, "Messages", "stream", "messages", "stream"),
        Target(module, "AsyncMessages", "stream", "messages", "stream"),
        Target(module, "Messages", "count_tokens", "count_tokens", "sync"),
        Target(module, "AsyncMessages", "count_tokens", "count_tokens", "async"),
        Target(batches, "Batches", "create", "batch", "sync"),
        Target(batches, "AsyncBatches", "create", "batch", "async"),
    )
)
_WRAPPERS = {"sync": sync_wrapper, "async": async_wrapper, "stream": stream_helper_wrapper}
_CLIENT_MODULE = "anthropic._base_client"


class _NativeSpanOff(property):
    """The SDK client's ``_tracer`` property, answering None while a traced call is open."""

    _traceglass = True

    def __init__(self, original: property) -> None:
        getter = original.fget

        def tracer(client: Any) -> Any:
            return None if IN_CALL.get() else getter(client)  # type: ignore[misc]

        super().__init__(tracer, original.fset, original.fdel, original.__doc__)
        self.original = original


def native_span_off() -> bool:
    """Patch ``BaseClient._tracer`` (anthropic >= 0.80); False when this SDK has no native spans."""
    try:
        base = importlib.import_module(_CLIENT_MODULE).BaseClient
    except (ImportError, AttributeError):
        return False
    attr = vars(base).get("_tracer")
    if isinstance(attr, _NativeSpanOff):
        return True
    if not isinstance(attr, property) or attr.fget is None:
        return False
    base._tracer = _NativeSpanOff(attr)
    return True


def _native_span_on() -> None:
    try:
        base = importlib.import_module(_CLIENT_MODULE).BaseClient
    except (ImportError, AttributeError):
        return
    attr = vars(base).get("_tracer")
    if isinstance(attr, _NativeSpanOff):
        base._tracer = attr.original


_owner = _patching.owner  # the class a target lives on (None: not in this SDK release)


def foreign_wrappers() -> list[str]:
    """Targets some other instrumentation has already wrapped (a wrapt proxy we did not make)."""
    return _patching.foreign_wrappers(TARGETS)


def install() -> list[str]:
    """Wrap every target this SDK has; return the ``Class.method`` names wrapped."""
    wrapped = _patching.wrap(TARGETS, "anthropic", lambda t: _WRAPPERS[t.kind](OPERATIONS[t.operation]))
    done = [f"{t.module.rsplit('.', 2)[-2]}.{t.cls}.{t.method}" for t in wrapped]
    try:
        native_span_off()
    except Exception as exc:  # noqa: BLE001
        logger.warning("traceglass: could not keep anthropic's own span off traced calls: %s", exc)
    return done


def uninstall() -> None:
    """Restore every target whose outermost wrapper is ours, and the client's ``_tracer``."""
    _patching.unwrap(TARGETS)
    _native_span_on()
