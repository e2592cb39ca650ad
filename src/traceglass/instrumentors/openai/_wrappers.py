"""One core for every wrapped OpenAI method; the sync and async shells differ only by ``await``.

Per call: ``_begin`` decides whether to trace (suppression, instrumentation on for this client, a
recording tracer), opens the span and makes it current; the user's call runs in a narrow ``try``;
``_Call.finish`` (or ``fail``) makes the span no longer current, then reads the response, or hands
a stream or raw response to a proxy that ends the span later. All of our own work is guarded (by
plain ``try``/``except``: this is every call's hot path); the user's exceptions pass unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from traceglass import _config
from traceglass._deferred_end import deferrer_for
from traceglass._guard import report
from traceglass._handler import MODEL_CALLS, TelemetryHandler
from traceglass._runtime import get_handler, handler_for
from traceglass.instrumentors._provider_call import ProviderCall
from traceglass.instrumentors.openai import _extract, _stream_usage, _tokens
from traceglass.instrumentors.openai._stream import (
    ChoicesAccumulator,
    CompletionAccumulator,
    ResponsesAccumulator,
    TracedAsyncStream,
    TracedStream,
)

_NO_DICT: dict[str, Any] = {}
# True while a traced OpenAI method runs: a wrapped method the SDK calls from another one
# (openai < 1.92's beta ``parse`` calls ``create``) belongs to the outer call's span.
_IN_CALL: ContextVar[bool] = ContextVar("traceglass_openai_in_call", default=False)
_RAW_RESPONSE_TYPES = frozenset({"LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"})


@dataclass
class Options:
    """How calls are traced: the providers, and what to do for a stream's token usage.

    ``capture_usage_in_stream``: ask for exact usage in streams (None: the ``openai_stream_usage``
    setting, on unless ``configure()`` or ``TRACEGLASS_OPENAI_STREAM_USAGE`` turned it off).
    """

    tracer_provider: Any = None
    meter_provider: Any = None
    capture_usage_in_stream: bool | None = None
    estimate_tokens: bool = False
    handler: TelemetryHandler | None = field(default=None, repr=False)
    # Base URLs of servers that answered 400 to stream_options (see _stream_usage).
    stream_options_rejected: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        if self.tracer_provider is not None or self.meter_provider is not None:
            self.handler = handler_for(self.tracer_provider, self.meter_provider)


class _State:
    """Process-wide: the options of global instrumentation (None: off)."""

    options: Options | None = None
    clients_made = False  # a TracedOpenAI exists: keep the patches when uninstrumenting


STATE = _State()


@dataclass(frozen=True)
class Operation:
    """How one kind of call maps onto an invocation."""

    name: str
    begin: Callable[[dict[str, Any], Any, bool], Any]
    apply: Callable[[Any, Any, bool], None]
    accumulator: Callable[[], Any] | None = None
    stream_usage_option: bool = False  # accepts stream_options.include_usage
    # A response that says it failed (rather than an HTTP error, which the SDK raises).
    failure: Callable[[Any], tuple[str, str | None] | None] | None = None


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("chat", _extract.chat_invocation, _extract.apply_chat, ChoicesAccumulator, True),
        Operation("text_completion", _extract.completion_invocation, _extract.apply_chat, CompletionAccumulator,
                  True),
        Operation("embeddings", _extract.embedding_invocation, _extract.apply_embedding),
        Operation("responses", _extract.responses_invocation, _extract.apply_responses_api, ResponsesAccumulator,
                  failure=_extract.response_failure),
    )
}


def error_type(error: BaseException) -> str:
    """The provider's error code when it sent one, else the HTTP status, else the exception type."""
    try:  # any exception may come through here, with properties that raise
        code = getattr(error, "code", None)
        if isinstance(code, str) and code:
            return code
        status = getattr(error, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            return str(status)
    except Exception:  # noqa: BLE001 - the user's exception is broken, not our code
        pass
    return type(error).__qualname__


class _Call(ProviderCall):
    """One traced OpenAI call (see ``ProviderCall``), with what a stream's usage needs: the request as
    sent (the user's, or a copy asking for the usage chunk), the options and the client."""

    __slots__ = ("client", "hide_usage", "kwargs", "options", "user_kwargs")
    in_call = _IN_CALL
    fault = "openai"
    error_type = staticmethod(error_type)

    def __init__(self, handler: TelemetryHandler, op: Operation, inv: Any, capture: bool,
                 kwargs: dict[str, Any], options: Options, client: Any) -> None:
        # Every field set here rather than through ProviderCall.__init__: this runs on every call.
        self.handler = handler
        self.op = op
        self.inv = inv
        self.capture = capture
        self.kwargs = kwargs  # what is sent: the user's, or a copy asking for the stream's usage
        self.user_kwargs = kwargs
        self.options = options
        self.client = client
        self.streaming = kwargs.get("stream") is True
        self.hide_usage = False  # we asked for the usage chunk: the caller must not see it
        self.tokens: Any = None

    def ask_for_usage(self) -> None:
        """Send a copy of the request that asks for the stream's usage, if the caller did not."""
        try:
            asking = _stream_usage.asking_for_usage(self.kwargs, self.client, self.options.stream_options_rejected)
        except Exception as exc:  # noqa: BLE001 - the call goes as the user made it
            report("openai.stream_usage", exc)
            return
        if asking is not None:
            self.kwargs, self.hide_usage = asking, True

    def retry_without_usage(self, error: BaseException) -> bool:
        """True, once, when the server rejected the ``stream_options`` we added: the call is to be
        sent again as the user made it (and this server is not asked again)."""
        if not self.hide_usage:
            return False
        try:
            if not _stream_usage.rejects_option(error):
                return False
            _stream_usage.remember_rejection(self.client, self.options.stream_options_rejected)
        except Exception as exc:  # noqa: BLE001
            report("openai.retry", exc)
            return False
        self.kwargs, self.hide_usage = self.user_kwargs, False
        return True

    def finish(self, result: Any) -> Any:
        """Read a response and end the span, or hand a stream/raw response to its proxy."""
        self.deactivate()
        try:
            if type(result).__name__ in _RAW_RESPONSE_TYPES:
                return RawResponseProxy(result, self)
            if self.streaming and self.op.accumulator is not None:
                proxy = (TracedAsyncStream if hasattr(result, "__anext__")
                         else TracedStream if hasattr(result, "__next__") else None)
                if proxy is not None:
                    accumulator = self.op.accumulator()
                    if not self.capture and not self.options.estimate_tokens:  # no text needed
                        accumulator.skip_content(self.kwargs.get("n"))
                    return proxy(result, self, accumulator, self.hide_usage, self.deferrer())
            self.op.apply(self.inv, result, self.capture)
            failed = self.op.failure(result) if self.op.failure is not None else None
        except Exception as exc:  # noqa: BLE001
            report("openai.finish", exc)
            failed = None
        self.stop(failed)
        return result

    def deferrer(self) -> Any:
        """Where the stream's folds and end may go off this thread (``traceglass._deferred_end``), or
        None. Not under a model call's span (a LangChain chat model over this client): that call's
        metrics skip the tokens and duration this one records, which it learns as this span ends."""
        parent = self.inv.parent
        while parent is not None:
            if isinstance(parent, MODEL_CALLS):
                return None
            parent = parent.parent
        return deferrer_for(self.inv.span)

    # --- what stream proxies call (and ProviderCall's first_chunk, fail_stream) ---------------------
    def end_stream(self, accumulator: Any, end_time_ns: int | None = None) -> None:
        failed = None
        try:
            accumulator.apply(self.inv, self.capture)
            if self.options.estimate_tokens and not self.inv.has_usage():
                _tokens.estimate(self.inv, self.kwargs, accumulator.output_text())
            failed = accumulator.failure()
        except Exception as exc:  # noqa: BLE001
            report("openai.stream.end", exc)
        self.stop(failed, end_time_ns)


class RawResponseProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """``with_raw_response``/``with_streaming_response``: the span ends when the user parses.

    Parsing is lazy (the body of a streaming response may be read another way); a response
    never parsed ends its span when collected. A parsed stream continues in a stream proxy.
    """

    def __init__(self, wrapped: Any, call: _Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_parsed: Any = None
        self._self_done = False

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if inspect.isawaitable(parsed):
            return self._self_parse_async(parsed)
        return self._self_take(parsed)

    async def _self_parse_async(self, awaitable: Any) -> Any:
        return self._self_take(await awaitable)

    def _self_take(self, parsed: Any) -> Any:
        if self._self_done:
            return self._self_parsed if self._self_parsed is not None else parsed
        self._self_done = True
        self._self_parsed = self._self_call.finish(parsed)
        return self._self_parsed

    def __del__(self) -> None:
        if not getattr(self, "_self_done", True):
            self._self_done = True
            self._self_call.stop()


def _begin(op: Operation, instance: Any, kwargs: dict[str, Any]) -> _Call | None:
    """The call's span, open and current; None when this call is not traced."""
    if _IN_CALL.get() or not is_instrumentation_enabled():
        return None
    client = getattr(instance, "_client", None)
    # A TracedOpenAI carries its own options; a dict lookup avoids getattr's AttributeError cost.
    options = getattr(client, "__dict__", _NO_DICT).get("_traceglass_options") or STATE.options
    if options is None:
        return None
    # No explicit providers: the default handler, looked up per call (configure() may swap it).
    handler = options.handler or get_handler()
    if not handler.enabled:
        return None
    try:
        settings = handler.settings  # the snapshot the handler applies (no global read)
        capture = settings.capture_content is not _config.ContentCapture.NO_CONTENT
        inv = op.begin(kwargs, client, capture)
        handler.start(inv, kind=SpanKind.CLIENT, activate=False)
        call = _Call(handler, op, inv, capture, kwargs, options, client)
        if op.stream_usage_option and call.streaming:
            ask = options.capture_usage_in_stream
            if ask if ask is not None else settings.openai_stream_usage:
                call.ask_for_usage()
    except Exception as exc:  # noqa: BLE001
        report("openai.begin", exc)
        return None
    try:
        call.tokens = (handler.activate(inv), _IN_CALL.set(True))
    except Exception as exc:  # noqa: BLE001 - the span still ends; it just is not current
        report("openai.activate", exc)
    return call


def sync_wrapper(op: Operation) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(op, instance, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        while True:
            try:
                result = wrapped(*args, **call.kwargs)
            except BaseException as exc:
                if call.retry_without_usage(exc):
                    continue
                call.fail(exc)
                raise
            return call.finish(result)

    return wrapper


def async_wrapper(op: Operation) -> Callable[..., Any]:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _begin(op, instance, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        while True:
            try:
                result = await wrapped(*args, **call.kwargs)
            except BaseException as exc:
                if call.retry_without_usage(exc):
                    continue
                call.fail(exc)
                raise
            return call.finish(result)

    return wrapper
