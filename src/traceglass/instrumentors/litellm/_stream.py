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
    """``ModelResponseStream`` chunks: OpenAI's chunk shape, ``usage`` present only on the usage chunk."""

    __slots__ = ()

    def add(self, chunk: Any) -> None:
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
