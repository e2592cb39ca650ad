"""One core for every wrapped LiteLLM function; the sync and async shells differ only by ``await``.

Per call: ``_begin`` decides whether to trace (suppression, instrumentation on, a recording tracer,
not already inside a traced LiteLLM call), opens the span and makes it current, so an SDK call
LiteLLM makes underneath (``text_completion`` goes through the ``openai`` SDK) becomes its child;
the user's call runs in a narrow ``try``; ``_Call.finish`` (or ``fail``) makes the span no longer
current, then reads the response, or hands a stream to a proxy that ends the span later.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from traceglass import _config
from traceglass._guard import report
from traceglass._handler import TelemetryHandler
from traceglass._runtime import get_handler
from traceglass.instrumentors._provider_call import ProviderCall
from traceglass.instrumentors.litellm import _extract
from traceglass.instrumentors.litellm._state import STATE
from traceglass.instrumentors.litellm._stream import ACCUMULATORS, TracedAsyncStream, TracedStream

# True while a traced LiteLLM function runs: LiteLLM calls its own entry points from inside
# (``acompletion`` runs ``completion``, ``text_completion`` and the Responses bridge call
# ``completion``); those belong to the outer call's span.
_IN_CALL: ContextVar[bool] = ContextVar("traceglass_litellm_in_call", default=False)


@dataclass(frozen=True)
class Operation:
    """How one kind of call maps onto an invocation."""

    name: str
    positional: tuple[str, ...]  # the names of the function's leading positional parameters
    begin: Callable[[dict[str, Any], bool], Any]
    apply: Callable[[Any, Any, bool], None]
    streams: bool = True
    stream_usage_option: bool = False  # accepts stream_options.include_usage


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("chat", ("model", "messages"), _extract.chat_invocation, _extract.apply_chat,
                  stream_usage_option=True),
        Operation("text_completion", ("prompt", "model"), _extract.text_completion_invocation,
                  _extract.apply_chat, stream_usage_option=True),
        Operation("embeddings", ("model", "input"), _extract.embedding_invocation, _extract.apply_embedding,
                  streams=False),
        Operation("responses", ("input", "model"), _extract.responses_invocation, _extract.apply_responses),
    )
}


class _Call(ProviderCall):
    """One traced LiteLLM call (see ``ProviderCall``), with the request as sent (the user's, or a copy
    asking for the stream's usage)."""

    __slots__ = ("hide_usage", "kwargs")
    in_call = _IN_CALL
    fault = "litellm"
    error_type = staticmethod(_extract.error_type)

    def __init__(self, handler: TelemetryHandler, op: Operation, inv: Any, capture: bool,
                 kwargs: dict[str, Any], streaming: bool) -> None:
        super().__init__(handler, op, inv, capture, streaming)
        self.kwargs = kwargs  # what is sent: the user's, or a copy asking for the stream's usage
        self.hide_usage = False

    def ask_for_usage(self) -> None:
        """Ask LiteLLM for the stream's usage (its last, choice-less chunk, hidden from the caller)
        when the caller did not say either way: without it a stream has no tokens and no cost."""
        if self.kwargs.get("stream_options") is None:
            self.kwargs = {**self.kwargs, "stream_options": {"include_usage": True}}
            self.hide_usage = True

    def finish(self, result: Any, is_async: bool) -> Any:
        """Read a response and end the span, or hand a stream to its proxy."""
        self.deactivate()
        try:
            if self.streaming and self.op.streams:
                accumulator = ACCUMULATORS[self.op.name]()
                if is_async and hasattr(result, "__anext__"):
                    return TracedAsyncStream(result, self, accumulator, self.hide_usage)
                if not is_async and hasattr(result, "__next__"):
                    return TracedStream(result, self, accumulator, self.hide_usage)
            self.op.apply(self.inv, result, self.capture)
            _extract.apply_hidden(self.inv, _extract.hidden_params(result))
        except Exception as exc:  # noqa: BLE001
            report("litellm.finish", exc)
        self.stop()
        return result

    # --- what stream proxies call (and ProviderCall's first_chunk, fail_stream) ---------------------
    def end_stream(self, accumulator: Any, end_time_ns: int | None = None) -> None:
        failed = None
        try:
            accumulator.apply(self.inv, self.capture)
            usage = getattr(accumulator, "usage", None)
            if usage is not None:
                _extract._cache_creation(self.inv, usage)
                # A stream's response_cost is not known when it is returned; LiteLLM puts it
                # on the usage chunk's ``usage.cost``.
                _extract.provider_reported(self.inv, getattr(usage, "cost", None))
            failed = accumulator.failure()
        except Exception as exc:  # noqa: BLE001
            report("litellm.stream.end", exc)
        self.stop(failed, end_time_ns)


def _begin(op: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Call | None:
    """The call's span, open and current; None when this call is not traced."""
    if _IN_CALL.get() or not is_instrumentation_enabled():
        return None
    options = STATE.options
    if options is None:
        return None
    handler = options.handler or get_handler()
    if not handler.enabled:
        return None
    try:
        capture = handler.settings.capture_content is not _config.ContentCapture.NO_CONTENT
        request = dict(zip(op.positional, args)) if args else {}
        request.update(kwargs)
        streaming = request.get("stream") is True
        inv = op.begin(request, capture)
        handler.start(inv, kind=SpanKind.CLIENT, activate=False)
        call = _Call(handler, op, inv, capture, kwargs, streaming)
        if streaming and op.stream_usage_option and options.capture_usage_in_stream \
                and "stream_options" not in request:
            call.ask_for_usage()
    except Exception as exc:  # noqa: BLE001
        report("litellm.begin", exc)
        return None
    try:
        call.tokens = (handler.activate(inv), _IN_CALL.set(True))
    except Exception as exc:  # noqa: BLE001 - the span still ends; it just is not current
        report("litellm.activate", exc)
    return call


def sync_wrapper(op: Operation) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(op, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **call.kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.finish(result, False)

    return wrapper


def async_wrapper(op: Operation) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(op, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **call.kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.finish(result, True)

    return wrapper
