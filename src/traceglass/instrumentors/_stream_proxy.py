"""The stream proxy every provider instrumentor shares: the span covers the whole stream, ends once.

A ``wrapt.ObjectProxy`` (so ``isinstance(stream, openai.Stream)``, ``.response`` and every other
attribute of the SDK's stream still work) with three hooks: a chunk arrived, the stream ended, the
stream failed. State lives in ``_self_`` names, so nothing lands on the user's object. The span ends
on exhaustion, ``close()``, context-manager exit, an error midway, or when the proxy is collected.

Each provider keeps its own per-chunk loop (``__iter__`` / ``__next__`` / ``__anext__``: the hot path,
tuned per SDK) and takes the rest from here: the hooks, and the context-manager and ``close`` shells.
Chunks reach the accumulator either at once (``_self_on_chunk``) or through ``_self_pending``, folded
into it when the stream ends or fails, or when a provider's loop decides (``_self_fold``).

Given a ``defer`` (``traceglass._deferred_end``: the span's one processor is ``configure()``'s
hand-off), the folds and the span's end are queued for the hand-off thread instead: the traced
call's thread only keeps the chunks, and the accumulator is then only ever touched by that thread,
in order. The span ends at the time the stream did (taken here), not when the task runs.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Protocol

import wrapt

from traceglass._guard import report


class SpanCall(Protocol):
    """What a proxy needs from the call that opened the span (each provider's ``_wrappers._Call``)."""

    def first_chunk(self) -> None: ...

    def end_stream(self, accumulator: Any, end_time_ns: int | None = None) -> None: ...

    def fail_stream(self, accumulator: Any, error: BaseException, end_time_ns: int | None = None) -> None: ...


class StreamProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """State in ``_self_`` names, the three hooks, end-exactly-once, end on collection."""

    _self_fault = "stream.chunk"  # where a fault folding the kept chunks is reported

    def __init__(self, wrapped: Any, call: SpanCall, accumulator: Any, hide_usage: bool = False,
                 defer: Any = None) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_accumulator = accumulator
        self._self_done = False
        # traceglass asked for the usage chunk: it feeds the span, the caller never sees it.
        self._self_hide_usage = hide_usage
        self._self_started = False  # the first chunk has arrived (and set the time to it)
        self._self_pending: list[Any] = []
        self._self_defer = defer  # queues the folds and the end on the hand-off thread (see the module)

    def _self_first(self) -> None:
        self._self_started = True
        self._self_call.first_chunk()

    def _self_on_chunk(self, chunk: Any) -> None:
        if not self._self_started:
            self._self_first()
        self._self_accumulator.add(chunk)

    def _self_taken(self) -> list[Any]:
        """The kept chunks, taken (the same list is emptied: a running iteration appends to it)."""
        pending = self._self_pending
        chunks = pending[:]
        pending.clear()
        return chunks

    def _self_fold(self) -> None:
        if self._self_pending:
            chunks = self._self_taken()
            defer = self._self_defer
            if defer is not None:
                try:
                    if defer(partial(_fold, self._self_accumulator, self._self_fault, chunks)):
                        return
                except Exception as exc:  # noqa: BLE001 - not queued: folded here
                    report(self._self_fault, exc)
            _fold(self._self_accumulator, self._self_fault, chunks)

    def _self_on_end(self) -> None:
        if not self._self_done:
            self._self_done = True
            self._self_finish(None)

    def _self_on_error(self, error: BaseException) -> None:
        if not self._self_done:
            self._self_done = True
            self._self_finish(error)

    def _self_finish(self, error: BaseException | None) -> None:
        """Fold what is kept and end the span (failed with ``error``, if given): on the hand-off
        thread when there is a ``defer`` that takes it, else here. (The task holds the call and the
        accumulator, not this proxy: ending from ``__del__`` does not bring the proxy back.)"""
        finish = partial(_finish, self._self_call, self._self_accumulator, self._self_fault, self._self_taken(), error)
        defer = self._self_defer
        if defer is not None:
            finish = partial(finish, time.time_ns())
            try:
                if defer(finish):
                    return
            except Exception as exc:  # noqa: BLE001 - not queued: finished here
                report(self._self_fault, exc)
        finish()

    def __del__(self) -> None:
        # Abandoned without being exhausted or closed: end the span with what arrived.
        if not getattr(self, "_self_done", True):
            self._self_on_end()

    def __copy__(self) -> Any:  # pragma: no cover - a stream is not copyable
        raise TypeError("a traced stream cannot be copied")

    def __reduce_ex__(self, protocol: Any) -> Any:  # pragma: no cover
        raise TypeError("a traced stream cannot be pickled")


def _fold(accumulator: Any, fault: str, chunks: list[Any]) -> None:
    try:
        accumulator.fold(chunks)
    except Exception as exc:  # noqa: BLE001 - our fault: lose these chunks, never the span
        report(fault, exc)


def _finish(call: SpanCall, accumulator: Any, fault: str, chunks: list[Any], error: BaseException | None,
            end_time_ns: int | None = None) -> None:
    """Fold the last kept chunks, then end the stream's span (at ``end_time_ns``, else now)."""
    try:
        if chunks:
            _fold(accumulator, fault, chunks)
    finally:
        if error is None:
            call.end_stream(accumulator, end_time_ns=end_time_ns)
        else:
            call.fail_stream(accumulator, error, end_time_ns=end_time_ns)


class SyncStreamShell(StreamProxy):
    """``with stream:`` and ``stream.close()`` for a synchronous stream; both end the span.
    (The wrapped stream's own methods are used where it has them: LiteLLM's may lack them.)"""

    def __enter__(self) -> Any:
        enter = getattr(self.__wrapped__, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> Any:
        try:
            leave = getattr(self.__wrapped__, "__exit__", None)
            return leave(exc_type, exc, tb) if leave is not None else None
        finally:
            self._self_on_end()

    def close(self) -> None:
        try:
            close = getattr(self.__wrapped__, "close", None)
            if close is not None:
                close()
        finally:
            self._self_on_end()


class AsyncStreamShell(StreamProxy):
    """``async with stream:`` and ``await stream.close()`` for an asynchronous stream; both end the span."""

    def __aiter__(self) -> Any:
        return self

    async def __aenter__(self) -> Any:
        enter = getattr(self.__wrapped__, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> Any:
        try:
            leave = getattr(self.__wrapped__, "__aexit__", None)
            return await leave(exc_type, exc, tb) if leave is not None else None
        finally:
            self._self_on_end()

    async def close(self) -> None:
        try:
            close = getattr(self.__wrapped__, "close", None)
            if close is not None:
                await close()
        finally:
            self._self_on_end()
