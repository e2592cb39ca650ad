"""The LangChain instrumentor: our callback handler in every LangChain callback manager.

Every runnable, model, tool, retriever and LangGraph node gets its callback manager from
``CallbackManager.configure``/``AsyncCallbackManager.configure``, which both build it in the
module function ``_configure`` (langchain-core 1.7, tested); child managers inherit its handlers.
Adding our handler there reaches every run with no change to the user's code, once per runnable
call. OpenInference and OpenLLMetry wrap ``BaseCallbackManager.__init__`` instead, which also
runs for every child manager and copy (about 25 times per four-step chain run): we use it only
where ``_configure`` does not exist.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from traceglass._guard import guard
from traceglass._runtime import handler_for
from traceglass.instrumentors._deferred import Pending, when_imported
from traceglass.instrumentors.langchain._ours import has_ours

if TYPE_CHECKING:
    from traceglass.instrumentors.langchain._callback import TraceglassCallbackHandler

_PACKAGE = "langchain_core"
_MODULE = "langchain_core.callbacks.manager"
_CONFIGURE = "_configure"
_INIT = "BaseCallbackManager.__init__"

_default_lock = threading.Lock()
_default: TraceglassCallbackHandler | None = None


def _callback_class() -> Any:
    # Imported on first use: this module (the entry point's target) must import without
    # langchain-core, so that `opentelemetry-instrument` can check the dependency first.
    from traceglass.instrumentors.langchain._callback import TraceglassCallbackHandler

    return TraceglassCallbackHandler


def default_callback() -> TraceglassCallbackHandler:
    """The process-wide handler bound to traceglass's default telemetry handler."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = _callback_class()()
    return _default  # type: ignore[return-value]


def with_callback(config: Any, callback: TraceglassCallbackHandler | None = None) -> dict[str, Any]:
    """A copy of a ``RunnableConfig`` with our handler added to its callbacks (once)."""
    callback = callback or default_callback()
    out = dict(config or {})
    callbacks = out.get("callbacks")
    if callbacks is None:
        out["callbacks"] = [callback]
    elif isinstance(callbacks, (list, tuple)):
        if not has_ours(callbacks):
            out["callbacks"] = [*callbacks, callback]
    elif not (has_ours(callbacks.handlers) or has_ours(callbacks.inheritable_handlers)):
        manager = callbacks.copy()  # a BaseCallbackManager: never mutate the caller's
        manager.add_handler(callback, inherit=True)
        out["callbacks"] = manager
    return out


def _add(callback: TraceglassCallbackHandler, manager: Any) -> None:
    inheritable = manager.inheritable_handlers
    # The common case, our handler inherited from the parent, is one list lookup.
    if callback in inheritable or has_ours(inheritable) or has_ours(manager.handlers):
        return
    manager.add_handler(callback, inherit=True)


class _AddToConfigured:
    """``_configure`` wrapper: add our handler to the manager it returns."""

    def __init__(self, callback: TraceglassCallbackHandler) -> None:
        self.callback = callback

    def __call__(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        manager = wrapped(*args, **kwargs)
        with guard("langchain.callback_manager"):
            _add(self.callback, manager)
        return manager


class _AddOnInit:
    """``BaseCallbackManager.__init__`` wrapper, for langchain-core without ``_configure``."""

    def __init__(self, callback: TraceglassCallbackHandler) -> None:
        self.callback = callback

    def __call__(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> None:
        wrapped(*args, **kwargs)
        with guard("langchain.callback_manager"):
            _add(self.callback, instance)


class LangChainInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces every LangChain / LangGraph run: ``LangChainInstrumentor().instrument()``.

    ``tracer_provider=`` and ``meter_provider=`` bind the spans to explicit providers; by
    default they go through traceglass's default handler (the global providers, or
    ``traceglass.configure()``'s).
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("langchain-core >= 0.3",)

    _pending: Pending | None = None  # the patch, until the application imports LangChain

    def _instrument(self, **kwargs: Any) -> None:
        tracer_provider = kwargs.get("tracer_provider")
        meter_provider = kwargs.get("meter_provider")
        # Patched when the application imports LangChain, not imported by us: langchain-core takes a
        # quarter of a second to import (see instrumentors/_deferred.py). The hook is on the package,
        # which loads nothing else itself: one on the callback managers ran while the app's import of a
        # parser or a runnable was halfway through (``run_in_executor`` not defined yet), and failed.
        self._pending = when_imported(_PACKAGE, lambda: self._install(tracer_provider, meter_provider))

    def _install(self, tracer_provider: Any, meter_provider: Any) -> None:
        if tracer_provider is None and meter_provider is None:
            callback = default_callback()
        else:
            callback = _callback_class()(handler_for(tracer_provider, meter_provider))
        self._callback = callback
        from traceglass.instrumentors.langchain._embeddings import EmbeddingsPatch

        self._embeddings = EmbeddingsPatch(callback.telemetry)
        self._embeddings.apply()
        import langchain_core.callbacks.manager as manager_module

        if hasattr(manager_module, _CONFIGURE):
            wrap_function_wrapper(_MODULE, _CONFIGURE, _AddToConfigured(callback))
        else:
            wrap_function_wrapper(_MODULE, _INIT, _AddOnInit(callback))

    def _uninstrument(self, **kwargs: Any) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            if not pending.installed:  # LangChain never imported: nothing was patched
                return
        import langchain_core.callbacks.manager as manager_module

        if hasattr(getattr(manager_module, _CONFIGURE, None), "__wrapped__"):
            unwrap(manager_module, _CONFIGURE)
        if hasattr(manager_module.BaseCallbackManager.__init__, "__wrapped__"):
            unwrap(manager_module.BaseCallbackManager, "__init__")
        embeddings = getattr(self, "_embeddings", None)
        if embeddings is not None:
            embeddings.remove()
            self._embeddings = None
        self._callback = None

    @property
    def callback(self) -> TraceglassCallbackHandler | None:
        """The handler added to every callback manager while instrumented."""
        return getattr(self, "_callback", None)
