"""A streamed query's answer generator, wrapped so its model call nests under the query.

A streamed query (``streaming=True``) returns a ``StreamingResponse`` at once; LlamaIndex makes the
model call only when the application reads ``response_gen``, in the application's context, where
LlamaIndex's ``active_span_id`` is no longer the query's, so the call's dispatcher span had no
parent. The wrapper sets ``active_span_id`` to the step the generator came from around each read
(and resets it before handing the chunk over: nothing stays attached), and calls ``on_end`` once
when the stream ends (exhausted, failed, or closed early), so the query's spans end with it.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import Any

_MAX_TEXT = 1_000_000  # characters of answer kept for the spans' output


class Stream:
    """One streamed answer: the dispatcher span it runs under, the steps held open until it ends."""

    __slots__ = ("ended", "held", "on_end", "pieces", "size", "span_id")

    def __init__(self, span_id: str, on_end: Callable[[Stream, BaseException | None], None]) -> None:
        self.span_id = span_id
        self.held: list[Any] = []  # the tracker's entries that end with the stream, innermost first
        self.pieces: list[str] = []
        self.size = 0
        self.on_end = on_end
        self.ended = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def add(self, item: Any) -> None:
        if isinstance(item, str) and self.size < _MAX_TEXT:
            self.pieces.append(item)
            self.size += len(item)

    def end(self, error: BaseException | None) -> None:
        if not self.ended:
            self.ended = True
            self.on_end(self, error)


# Our wrappers -> their stream (weak: a response the application drops takes its entry with it).
_STREAMS: weakref.WeakKeyDictionary[Any, Stream] = weakref.WeakKeyDictionary()


def _sync(inner: Iterator[Any], stream: Stream, var: ContextVar[Any]) -> Iterator[Any]:
    error: BaseException | None = None
    try:
        while True:
            token = var.set(stream.span_id)
            try:
                item = next(inner)
            except StopIteration:
                return
            finally:
                var.reset(token)
            stream.add(item)
            yield item
    except GeneratorExit:  # closed before its end (the application stopped reading, or dropped it)
        close = getattr(inner, "close", None)
        if close is not None:
            close()
        raise
    except BaseException as failure:
        error = failure
        raise
    finally:
        stream.end(error)


async def _async(inner: AsyncIterator[Any], stream: Stream, var: ContextVar[Any]) -> AsyncIterator[Any]:
    error: BaseException | None = None
    try:
        while True:
            token = var.set(stream.span_id)
            try:
                item = await inner.__anext__()
            except StopAsyncIteration:
                return
            finally:
                var.reset(token)
            stream.add(item)
            yield item
    except GeneratorExit:
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()
        raise
    except BaseException as failure:
        error = failure
        raise
    finally:
        stream.end(error)


def stream_of(generator: Any) -> Stream | None:
    """The stream of a ``response_gen`` we already wrapped (an outer step returns the same response)."""
    try:
        return _STREAMS.get(generator)
    except TypeError:  # not weak-referenceable: not one of ours
        return None


def wrap(generator: Any, stream: Stream, var: ContextVar[Any]) -> Any:
    """``generator`` wrapped (a generator again, sync or async), or None when it is neither."""
    if hasattr(generator, "__anext__"):
        wrapped: Any = _async(generator, stream, var)
    elif hasattr(generator, "__next__"):
        wrapped = _sync(generator, stream, var)
    else:
        return None
    _STREAMS[wrapped] = stream
    return wrapped
