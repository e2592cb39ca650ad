"""Make a LangChain run's span current while the run's own code executes, and only then.

Spans that other code starts inside a run (the OpenAI client span under a chat model, a
``@observe`` function or the user's own span inside a ``RunnableLambda`` or a tool) find their
parent in the OpenTelemetry context. Callbacks cannot provide it safely: async end callbacks run
in a copied context, so a context attached at start can never be detached at end. Instead:

- runnable bodies (chains, lambdas, tools, LangGraph nodes): LangChain and LangGraph run them in
  a private copy of the context prepared by ``_set_config_context`` (the hook LangSmith uses for
  the same purpose). We make the run's span current in that copy; the copy is thrown away when
  the body ends, so nothing is ever detached.
- model calls: ``_generate_with_cache``/``_agenerate_with_cache`` (chat models) and
  ``_generate_helper``/``_agenerate_helper`` (LLMs) get the run's span attached and detached
  around them, in one frame.
- model streams: ``stream``/``astream`` get it around each step of the stream, so it is never
  current in the consumer's loop body.

All targets are LangChain/LangGraph internals, written against langchain-core 1.7 and langgraph
1.2 (the versions tested; older langgraph kept ``_set_config_context`` in ``langgraph.utils.runnable``).
Each is wrapped only where it exists; a missing one loses only the nesting of spans that other
code starts inside a run, and every wrapper falls back to the plain call.
"""

from __future__ import annotations

import functools
import importlib
import threading
from contextvars import ContextVar
from typing import Any

from wrapt import wrap_function_wrapper

from traceglass._stepped import AsyncStepped, Stepped
from traceglass._guard import guard
from traceglass._handler import Invocation, TelemetryHandler
from traceglass.instrumentors.langchain._ours import find_ours

# (module, attribute path, wrapper name)
_TARGETS = (
    ("langchain_core.runnables.config", "_set_config_context", "_in_config_context"),
    ("langgraph._internal._runnable", "_set_config_context", "_in_config_context"),
    ("langgraph.utils.runnable", "_set_config_context", "_in_config_context"),  # langgraph < 0.6
    ("langchain_core.language_models.chat_models", "BaseChatModel._generate_with_cache", "_model_call"),
    ("langchain_core.language_models.chat_models", "BaseChatModel._agenerate_with_cache", "_amodel_call"),
    ("langchain_core.language_models.llms", "BaseLLM._generate_helper", "_llm_call"),
    ("langchain_core.language_models.llms", "BaseLLM._agenerate_helper", "_allm_call"),
    ("langchain_core.language_models.chat_models", "BaseChatModel.stream", "_stream"),
    ("langchain_core.language_models.chat_models", "BaseChatModel.astream", "_astream"),
    ("langchain_core.language_models.llms", "BaseLLM.stream", "_stream"),
    ("langchain_core.language_models.llms", "BaseLLM.astream", "_astream"),
)

_installed = False
_lock = threading.Lock()


def install() -> None:
    """Wrap the targets once per process (they do nothing for runs that are not ours)."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        _installed = True
        for module_name, path, wrapper in _TARGETS:
            with guard("langchain.activate_install"):
                try:
                    module = importlib.import_module(module_name)
                except ImportError:
                    continue
                owner = module
                *parents, attr = path.split(".")
                for name in parents:
                    owner = getattr(owner, name, None)
                if owner is None or not hasattr(owner, attr):
                    continue
                wrap_function_wrapper(module, path, globals()[wrapper])


def _invocation_of(manager: Any) -> tuple[Invocation | None, TelemetryHandler | None]:
    """Our open invocation for a run manager (``run_id``) or child manager (``parent_run_id``)."""
    handler = find_ours(getattr(manager, "handlers", None))
    if handler is None:
        return None, None
    run_id = getattr(manager, "run_id", None) or getattr(manager, "parent_run_id", None)
    inv = handler.invocation_for(run_id)
    if inv is None or inv.span is None:
        return None, None
    return inv, handler.telemetry()


# --- runnable bodies: a private context, never detached -----------------------------------
def _in_config_context(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    result = wrapped(*args, **kwargs)
    with guard("langchain.config_context"):
        config = args[0] if args else kwargs.get("config")
        callbacks = config.get("callbacks") if isinstance(config, dict) else None
        if callbacks is not None and getattr(callbacks, "parent_run_id", None) is not None:
            inv, telemetry = _invocation_of(callbacks)
            if inv is not None:
                # Runs inside ``ctx.run`` on a copy made for this body alone: nothing to undo.
                telemetry.activate(inv)  # type: ignore[union-attr]
    return result


# --- model calls: attach and detach in one frame -------------------------------------------
def _activate_for(manager: Any) -> Any:
    with guard("langchain.model_activate"):
        inv, telemetry = _invocation_of(manager)
        if inv is not None:
            return telemetry.activate(inv)  # type: ignore[union-attr]
    return None


def _deactivate(tokens: Any) -> None:
    """Reset tokens from ``TelemetryHandler.activate``, quietly skipping a foreign context.

    Both are ``contextvars.Token``s (our invocation variable, and opentelemetry-api's contextvars
    runtime context). Resetting them directly, instead of ``context.detach``, means a token that
    was set in a copied context (a callback run inside ``Context.run``) is skipped without the
    "Failed to detach context" log; that copy is discarded anyway.
    """
    if tokens is None:
        return
    invocation_token, otel_token = tokens
    with guard("langchain.deactivate"):
        reset = getattr(getattr(otel_token, "var", None), "reset", None)
        if reset is None:  # a non-contextvars runtime context (OTEL_PYTHON_CONTEXT)
            TelemetryHandler.deactivate(tokens)
            return
        try:
            reset(otel_token)
            invocation_token.var.reset(invocation_token)
        except (ValueError, RuntimeError):
            pass


def _model_call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    tokens = _activate_for(kwargs.get("run_manager") or (args[2] if len(args) > 2 else None))
    try:
        return wrapped(*args, **kwargs)
    finally:
        _deactivate(tokens)


async def _amodel_call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    tokens = _activate_for(kwargs.get("run_manager") or (args[2] if len(args) > 2 else None))
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _deactivate(tokens)


def _single_manager(args: Any, kwargs: Any) -> Any:
    managers = kwargs.get("run_managers") or (args[2] if len(args) > 2 else None)
    # With several prompts, their calls share this frame: no single run owns it.
    return managers[0] if isinstance(managers, list) and len(managers) == 1 else None


def _llm_call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    tokens = _activate_for(_single_manager(args, kwargs))
    try:
        return wrapped(*args, **kwargs)
    finally:
        _deactivate(tokens)


async def _allm_call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    tokens = _activate_for(_single_manager(args, kwargs))
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _deactivate(tokens)


# --- model streams: attach around each step ------------------------------------------------
class _Slot:
    """Ties a model stream to the run it starts (claimed by the run's start callback)."""

    __slots__ = ("invocation", "telemetry", "pending")

    def __init__(self) -> None:
        self.invocation: Invocation | None = None
        self.telemetry: TelemetryHandler | None = None
        self.pending: Any = None


_stream_slot: ContextVar[_Slot | None] = ContextVar("traceglass_langchain_stream", default=None)


def claim_stream(telemetry: TelemetryHandler, inv: Invocation, single: bool) -> None:
    """Called by a model run's start callback: if a stream step is running, the run is its own.

    The run starts inside the stream's first step, before the model's HTTP call in that same
    step, so its span is made current right away; the stream wrapper undoes it after the step.
    """
    slot = _stream_slot.get()
    if slot is None or slot.invocation is not None or inv.span is None or not single:
        return
    slot.invocation = inv
    slot.telemetry = telemetry
    slot.pending = telemetry.activate(inv)


class _Step:
    """Set up one stream step (slot + span) and tear it down in the same frame."""

    __slots__ = ("slot", "slot_token", "tokens")

    def __init__(self, slot: _Slot) -> None:
        self.slot = slot
        self.slot_token = _stream_slot.set(slot)
        self.tokens = None
        if slot.invocation is not None and slot.telemetry is not None:
            with guard("langchain.stream_activate"):
                self.tokens = slot.telemetry.activate(slot.invocation)

    def end(self) -> None:
        pending, self.slot.pending = self.slot.pending, None
        _deactivate(pending)  # claimed during this step: most recent first
        _deactivate(self.tokens)
        _stream_slot.reset(self.slot_token)


def _stream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return Stepped(wrapped(*args, **kwargs), functools.partial(_Step, _Slot()), _Step.end)


def _astream(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return AsyncStepped(wrapped(*args, **kwargs), functools.partial(_Step, _Slot()), _Step.end)


__all__ = ["claim_stream", "install"]
