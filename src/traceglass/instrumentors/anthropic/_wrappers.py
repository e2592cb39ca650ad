"""One core for every wrapped Anthropic method; the sync and async shells differ only by ``await``.

Per call: ``_begin`` decides whether to trace (suppression, instrumentation on for this client, a
recording tracer), opens the span and makes it current; the user's call runs in a narrow ``try``;
``_Call.finish`` (or ``fail``) makes the span no longer current, then reads the response, or hands a
stream to a proxy that ends the span later. ``messages.stream(...)`` makes no request until its
manager is entered, so its wrapper returns a manager proxy that begins the call then. All of our own
work is guarded; the user's exceptions pass unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from traceglass import _config
from traceglass._guard import report
from traceglass._handler import TelemetryHandler
from traceglass._runtime import get_handler, handler_for
from traceglass.instrumentors._provider_call import ProviderCall
from traceglass.instrumentors.anthropic import _extract
from traceglass.instrumentors.anthropic._stream import (
    MessageAccumulator,
    TracedAsyncStream,
    TracedStream,
    TracedStreamManager,
)

_NO_DICT: dict[str, Any] = {}
# True while a traced Anthropic method runs: the SDK's own span for the same call is not made
# (see _targets.native_span_off), and a wrapped method called from another belongs to the outer span.
IN_CALL: ContextVar[bool] = ContextVar("traceglass_anthropic_in_call", default=False)


@dataclass
class Options:
    """How calls are traced: the providers (None: the runtime's handler, looked up per call)."""

    tracer_provider: Any = None
    meter_provider: Any = None
    handler: TelemetryHandler | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.tracer_provider is not None or self.meter_provider is not None:
            self.handler = handler_for(self.tracer_provider, self.meter_provider)


class _State:
    """Process-wide: the options of global instrumentation (None: off)."""

    options: Options | None = None
    clients_made = False  # a TracedAnthropic exists: keep the patches when uninstrumenting


STATE = _State()


@dataclass(frozen=True)
class Operation:
    """How one kind of call maps onto an invocation."""

    name: str
    begin: Callable[[dict[str, Any], Any, bool], Any]
    apply: Callable[[Any, Any, bool], None]
    streams: bool = False


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("messages", _extract.messages_invocation, _extract.apply_message, streams=True),
        Operation("count_tokens", _extract.count_tokens_invocation, _extract.apply_count),
        Operation("batch", _extract.batch_invocation, _extract.apply_batch),
    )
}


class _Call(ProviderCall):
    """One traced Anthropic call (see ``ProviderCall``)."""

    __slots__ = ()
    in_call = IN_CALL
    fault = "anthropic"
    error_type = staticmethod(_extract.error_type)

    def finish(self, result: Any) -> Any:
        """Read a response and end the span, or hand a stream to its proxy."""
        self.deactivate()
        try:
            if self.streaming:
                accumulator = MessageAccumulator(self.capture)
                if hasattr(result, "__anext__"):
                    return TracedAsyncStream(result, self, accumulator)
                if hasattr(result, "__next__"):
                    return TracedStream(result, self, accumulator)
            self.op.apply(self.inv, result, self.capture)
        except Exception as exc:  # noqa: BLE001
            report("anthropic.finish", exc)
        self.stop()
        return result

    def attach(self, message_stream: Any, is_async: bool) -> Any:
        """``messages.stream()``: give the SDK's ``MessageStream`` a traced raw stream to read."""
        self.deactivate()
        try:
            raw = message_stream._raw_stream
            proxy = TracedAsyncStream if is_async else TracedStream
            message_stream._raw_stream = proxy(raw, self, MessageAccumulator(self.capture))
        except Exception as exc:  # noqa: BLE001 - an SDK without _raw_stream: the span ends now
            report("anthropic.attach", exc)
            self.stop()
        return message_stream

    # --- what stream proxies call (and ProviderCall's first_chunk, fail_stream) ---------------------
    def end_stream(self, accumulator: MessageAccumulator, end_time_ns: int | None = None) -> None:
        try:
            accumulator.apply(self.inv, self.capture)
        except Exception as exc:  # noqa: BLE001
            report("anthropic.stream.end", exc)
        self.stop(end_time_ns=end_time_ns)


def _begin(op: Operation, instance: Any, kwargs: dict[str, Any], helper_stream: bool = False) -> _Call | None:
    """The call's span, open and current; None when this call is not traced."""
    if IN_CALL.get() or not is_instrumentation_enabled():
        return None
    client = getattr(instance, "_client", None)
    # A TracedAnthropic carries its own options; a dict lookup avoids getattr's AttributeError cost.
    options = getattr(client, "__dict__", _NO_DICT).get("_traceglass_options") or STATE.options
    if options is None:
        return None
    handler = options.handler or get_handler()  # configure() may swap the default handler
    if not handler.enabled:
        return None
    try:
        capture = handler.settings.capture_content is not _config.ContentCapture.NO_CONTENT
        inv = op.begin(kwargs, client, capture)
        streaming = helper_stream or (op.streams and kwargs.get("stream") is True)
        if helper_stream:
            inv.streaming = True
        handler.start(inv, kind=SpanKind.CLIENT, activate=False)
        call = _Call(handler, op, inv, capture, streaming)
    except Exception as exc:  # noqa: BLE001
        report("anthropic.begin", exc)
        return None
    try:
        call.tokens = (handler.activate(inv), IN_CALL.set(True))
    except Exception as exc:  # noqa: BLE001 - the span still ends; it just is not current
        report("anthropic.activate", exc)
    return call


def sync_wrapper(op: Operation) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(op, instance, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.finish(result)

    return wrapper


def async_wrapper(op: Operation) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(op, instance, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.finish(result)

    return wrapper


def stream_helper_wrapper(op: Operation) -> Callable[..., Any]:
    """``messages.stream(...)`` (sync and async alike return a manager without a request)."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if IN_CALL.get() or STATE.options is None and "_traceglass_options" not in getattr(
                getattr(instance, "_client", None), "__dict__", _NO_DICT):
            return manager
        return TracedStreamManager(manager, lambda: _begin(op, instance, kwargs, helper_stream=True))

    return wrapper
