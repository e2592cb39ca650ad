"""Stream proxies over LiteLLM's stream wrappers (``CustomStreamWrapper``, the text-completion and
Responses iterators): the span covers the whole stream and ends exactly once.

They share every instrumentor's proxy base (``instrumentors/_stream_proxy``: state in ``_self_`` names, the three hooks,
end-exactly-once, end on collection). LiteLLM's wrappers differ from the SDK's streams where these
shells differ: one object is both the sync and the async iterator, the async close is ``aclose()``,
and a chunk has no ``usage`` attribute at all unless usage was asked for.
"""

from __future__ import annotations

from typing import Any

from traceglass._guard import report
from traceglass.instrumentors._stream_proxy import AsyncStreamShell, SyncStreamShell
from traceglass.instrumentors.openai._stream import (
    ChoicesAccumulator,
    CompletionAccumulator,
    ResponsesAccumulator,
)


class ChatAccumulator(ChoicesAccumulator):
    """``ModelResponseStream`` chunks: OpenAI's chunk shape, ``usage`` present only on the usage chunk.

    LiteLLM keeps a chunk's ``usage`` and its choices' and deltas' fields as pydantic *extra* fields,
    so each attribute read (and every miss: ``usage`` on all but the last chunk) goes through
    pydantic's ``__getattr__``, about 1 us (3 us for a miss) where a dict lookup costs 0.06 us.
    ``add`` reads those dicts (a field declared instead is read from ``__dict__``), and falls back to
    attribute reads, for the whole chunk, on anything else.
    """

    __slots__ = ()

    def add(self, chunk: Any) -> None:
        try:
            usage, choices = _chunk_fields(chunk)
        except (AttributeError, KeyError, TypeError):  # not LiteLLM's models (or not as they are today)
            self._add_attributes(chunk)
            return
        self.last = chunk
        if usage is not None:
            self.usage = usage
        for index, content, calls, reason in choices:
            if content:
                self.texts.setdefault(index, []).append(content)
            if calls:
                self._add_tool_calls(index, calls)
            if reason is not None:
                self.reasons[index] = reason

    def _add_attributes(self, chunk: Any) -> None:
        self.last = chunk
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if content:
                    self.texts.setdefault(choice.index, []).append(content)
                if delta.tool_calls:
                    self._add_tool_calls(choice.index, delta.tool_calls)
            reason = choice.finish_reason
            if reason is not None:
                self.reasons[choice.index] = reason


def _field(model: Any, name: str) -> Any:
    """A pydantic model's field, extra or declared, without ``__getattr__``; KeyError when it has none."""
    extra = model.__pydantic_extra__
    if extra and name in extra:
        return extra[name]
    return model.__dict__[name]


def _chunk_fields(chunk: Any) -> tuple[Any, list[tuple[Any, Any, Any, Any]]]:
    """A LiteLLM chunk's usage and, per choice, (index, content, tool-call deltas, finish reason):
    all read before any is kept, so a chunk that is not as expected is read again as a whole."""
    extra = chunk.__pydantic_extra__
    usage = extra.get("usage") if extra else None
    if usage is None:
        usage = chunk.__dict__.get("usage")
    choices = []
    for choice in chunk.__dict__["choices"]:
        delta = _field(choice, "delta")
        content = calls = None
        if delta is not None:
            content = _field(delta, "content")
            calls = _field(delta, "tool_calls")
        choices.append((_field(choice, "index"), content, calls, _field(choice, "finish_reason")))
    return usage, choices


class TextAccumulator(CompletionAccumulator):
    """Text-completion chunks (``choices[].text``); ``usage`` may be absent."""

    __slots__ = ()

    def add(self, chunk: Any) -> None:
        self.last = chunk
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in getattr(chunk, "choices", None) or ():
            text = getattr(choice, "text", None)
            if text:
                self.texts.setdefault(choice.index, []).append(text)
            reason = getattr(choice, "finish_reason", None)
            if reason is not None:
                self.reasons[choice.index] = reason


ACCUMULATORS: dict[str, Any] = {"chat": ChatAccumulator, "text_completion": TextAccumulator,
                                "responses": ResponsesAccumulator}


def usage_only(chunk: Any) -> bool:
    """The last chunk LiteLLM adds when usage is asked for: no choices, only ``usage``."""
    return not getattr(chunk, "choices", True) and getattr(chunk, "usage", None) is not None


class TracedStream(SyncStreamShell):
    """A synchronous LiteLLM stream. ``hide_usage``: traceglass asked for the usage chunk, so
    the caller does not see it."""

    _self_fault = "litellm.stream.chunk"

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                chunk = self.__wrapped__.__next__()
            except StopIteration:
                self._self_on_end()
                raise
            except BaseException as exc:
                self._self_on_error(exc)
                raise
            try:
                self._self_on_chunk(chunk)
                if self._self_hide_usage and usage_only(chunk):
                    continue
            except Exception as exc:  # noqa: BLE001 - our fault: lose the chunk, never the user's stream
                report("litellm.stream.chunk", exc)
            return chunk


class TracedAsyncStream(AsyncStreamShell):
    """An asynchronous LiteLLM stream (``acompletion(stream=True)`` and friends)."""

    _self_fault = "litellm.stream.chunk"

    async def __anext__(self) -> Any:
        while True:
            try:
                chunk = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                self._self_on_end()
                raise
            except BaseException as exc:
                self._self_on_error(exc)
                raise
            try:
                self._self_on_chunk(chunk)
                if self._self_hide_usage and usage_only(chunk):
                    continue
            except Exception as exc:  # noqa: BLE001 - our fault: lose the chunk, never the user's stream
                report("litellm.stream.chunk", exc)
            return chunk

    def close(self) -> Any:
        """LiteLLM's ``close`` is synchronous even on its async stream (``aclose`` is the awaitable one)."""
        try:
            return self.__wrapped__.close()
        finally:
            self._self_on_end()

    async def aclose(self) -> None:
        try:
            close = getattr(self.__wrapped__, "aclose", None)
            if close is not None:
                await close()
        finally:
            self._self_on_end()
