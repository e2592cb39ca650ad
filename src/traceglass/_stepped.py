"""Iterators that run each step of another inside a context set just before it and reset just after.

A generator's or a stream's steps run in the consumer's frames. A context (a span, a session) set
for the whole iteration would stay current in the consumer's loop body and be reset from whatever
context the consumer is in at the end; set and reset around each step, it is current only while
the producer runs, and every reset happens in the context its set was made in. The decorators'
generator wrappers (``_wrapping``) step the user's generator through these; LangChain model streams
(``instrumentors.langchain._activate``) and ``trace_graph``'s ``stream``/``astream`` step theirs.

``enter()`` returns a token and ``leave(token)`` undoes it; ``leave`` runs even when the step
raises (``StopIteration`` included), before the exception reaches the caller.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Iterator


class Stepped:
    """``next``, ``send``, ``throw`` and ``close`` of ``iterator``, each between ``enter()`` and
    ``leave(its token)`` (``send``/``throw`` need a generator)."""

    __slots__ = ("_iterator", "_enter", "_leave")

    def __init__(self, iterator: Iterator[Any], enter: Callable[[], Any], leave: Callable[[Any], None]) -> None:
        self._iterator = iterator
        self._enter = enter
        self._leave = leave

    def __iter__(self) -> "Stepped":
        return self

    def __next__(self) -> Any:
        token = self._enter()
        try:
            return next(self._iterator)
        finally:
            self._leave(token)

    def send(self, value: Any) -> Any:
        token = self._enter()
        try:
            return self._iterator.send(value)  # type: ignore[attr-defined]
        finally:
            self._leave(token)

    def throw(self, error: BaseException) -> Any:
        token = self._enter()
        try:
            return self._iterator.throw(error)  # type: ignore[attr-defined]
        finally:
            self._leave(token)

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            token = self._enter()
            try:
                close()
            finally:
                self._leave(token)

    def __enter__(self) -> "Stepped":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncStepped:
    """``__anext__``, ``asend``, ``athrow`` and ``aclose`` of ``iterator``, each between
    ``enter()`` and ``leave(its token)`` (``asend``/``athrow`` need an async generator)."""

    __slots__ = ("_iterator", "_enter", "_leave")

    def __init__(self, iterator: AsyncIterator[Any], enter: Callable[[], Any],
                 leave: Callable[[Any], None]) -> None:
        self._iterator = iterator
        self._enter = enter
        self._leave = leave

    def __aiter__(self) -> "AsyncStepped":
        return self

    async def __anext__(self) -> Any:
        token = self._enter()
        try:
            return await self._iterator.__anext__()
        finally:
            self._leave(token)

    async def asend(self, value: Any) -> Any:
        token = self._enter()
        try:
            return await self._iterator.asend(value)  # type: ignore[attr-defined]
        finally:
            self._leave(token)

    async def athrow(self, error: BaseException) -> Any:
        token = self._enter()
        try:
            return await self._iterator.athrow(error)  # type: ignore[attr-defined]
        finally:
            self._leave(token)

    async def aclose(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            token = self._enter()
            try:
                await aclose()
            finally:
                self._leave(token)

    async def __aenter__(self) -> "AsyncStepped":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
