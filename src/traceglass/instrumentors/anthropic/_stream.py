"""Streamed Messages: an accumulator of the API's events, and proxies whose span ends exactly once.

The API streams ``message_start`` (id, model, input usage), ``content_block_start`` / ``_delta`` /
``_stop`` per block, ``message_delta`` (the stop reason and the final usage) and ``message_stop``; an
``error`` event midway makes the SDK raise. The accumulator reads usage from ``message_start`` and
``message_delta``, so a stream is priced with no option to set.

One proxy base (a ``wrapt.ObjectProxy``: ``isinstance(stream, anthropic.Stream)``, ``.response`` and
the rest still work) with three hooks: an event arrived, the stream ended, it failed. The span ends on
exhaustion, ``close()``, context-manager exit, an error midway, or when the proxy is collected; it is
never current while the stream is open (an abandoned stream must not parent later spans). Proxy state
lives in ``_self_`` names, so nothing lands on the user's object. ``messages.stream(...)`` returns a
manager whose ``MessageStream`` reads the raw stream: :class:`TracedStreamManager` gives it a traced one.
"""

from __future__ import annotations

from typing import Any

import wrapt

from traceglass._guard import report
from traceglass._handler import LLMInvocation
from traceglass._handler._messages import (
    message,
    reasoning_part,
    text_part,
    tool_call_part,
)
from traceglass.instrumentors._stream_proxy import AsyncStreamShell, SyncStreamShell
from traceglass.instrumentors.anthropic import _extract


# --- the accumulator ---------------------------------------------------------------------------
class MessageAccumulator:
    """Folds raw stream events into what the span needs. ``add`` runs once per event: it reads the
    SDK's attributes directly and keeps block contents only when content is captured."""

    __slots__ = ("blocks", "capture", "delta_usage", "message", "stop_reason")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.message: Any = None  # message_start's message: id, model, role, input usage
        self.delta_usage: Any = None  # message_delta's usage: final output (and, lately, input) counts
        self.stop_reason: str | None = None
        # index -> [type, pieces, id, name] (capturing only)
        self.blocks: dict[int, list[Any]] = {}

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if self.capture:
                delta = event.delta
                block = self.blocks.get(event.index)
                if block is not None:
                    piece = getattr(delta, _DELTA_FIELD.get(delta.type, "_"), None)
                    if piece is not None:
                        block[1].append(piece)
        elif kind == "message_start":
            self.message = event.message
        elif kind == "message_delta":
            self.stop_reason = getattr(event.delta, "stop_reason", None)
            self.delta_usage = getattr(event, "usage", None)
        elif kind == "content_block_start" and self.capture:
            block = event.content_block
            first = getattr(block, "text", None) or getattr(block, "thinking", None)
            self.blocks[event.index] = [block.type, [first] if first else [], getattr(block, "id", None),
                                        getattr(block, "name", None)]

    def failure(self) -> tuple[str, str | None] | None:
        return None  # an error event raises in the SDK: the proxy's error hook records it

    def apply(self, inv: LLMInvocation, capture: bool) -> None:
        start = self.message
        if start is not None:
            _extract.apply_message(inv, start, False)  # id, model, input usage (stop_reason is null)
            # message_start's output count is a placeholder (1): only message_delta's is the message's.
            inv.output_tokens = None
        if self.delta_usage is not None:
            _apply_delta_usage(inv, self.delta_usage)
        if self.stop_reason is not None:
            inv.finish_reasons = [self.stop_reason]
        if capture and (start is not None or self.blocks):
            parts = [_block_part(block) for _, block in sorted(self.blocks.items())]
            inv.output_messages = [message("assistant", parts, _extract.finish_reason(self.stop_reason))]


# The field of each delta type that carries its piece (signature and citation deltas carry none we keep).
_DELTA_FIELD = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}


def _block_part(block: list[Any]) -> dict[str, Any]:
    kind, pieces, block_id, name = block
    if kind == "text":
        return text_part("".join(pieces))
    if kind == "thinking":
        return reasoning_part("".join(pieces))
    if kind in ("tool_use", "server_tool_use"):
        return tool_call_part(block_id, str(name), _extract.json_or_text("".join(pieces)))
    return {"type": str(kind)}


def _apply_delta_usage(inv: LLMInvocation, usage: Any) -> None:
    """``message_delta``'s counts are cumulative and final: each one it reports replaces the start's."""
    output = getattr(usage, "output_tokens", None)
    if isinstance(output, int):
        inv.output_tokens = output
    read = getattr(usage, "cache_read_input_tokens", None)
    created = getattr(usage, "cache_creation_input_tokens", None)
    uncached = getattr(usage, "input_tokens", None)
    if isinstance(read, int):
        inv.cache_read_tokens = read
    if isinstance(created, int):
        inv.cache_creation_tokens = created
    if isinstance(uncached, int):
        inv.input_tokens = uncached + (inv.cache_read_tokens or 0) + (inv.cache_creation_tokens or 0)


# --- proxies -------------------------------------------------------------------------------------


class TracedStream(SyncStreamShell):
    """A synchronous ``anthropic.Stream`` whose span covers the whole iteration.

    ``for event in stream`` runs a generator over the stream's own iterator (cheaper per event than
    ``__next__`` through the proxy); ``next(stream)`` works too, and both draw from the same iterator.
    """

    _self_fault = "anthropic.stream.event"

    def __iter__(self) -> Any:
        return self._self_events()

    def _self_events(self) -> Any:
        # Per event only the accumulator's bound ``add`` is called: the first-event check is a local,
        # and no proxy attribute is read (each costs a lookup through the wrapt proxy).
        add = self._self_accumulator.add
        first = not self._self_started  # next(stream) may have taken the first event (and its time)
        try:
            for event in self.__wrapped__.__iter__():
                try:
                    if first:
                        first = False
                        self._self_first()
                    add(event)
                except Exception as exc:  # noqa: BLE001 - our fault: lose the event, never the user's stream
                    report("anthropic.stream.event", exc)
                yield event
        except GeneratorExit:
            # The consumer stopped (break): the stream may be read on; its span ends on exhaustion,
            # close(), exit or collection.
            raise
        except BaseException as exc:
            self._self_on_error(exc)
            raise
        self._self_on_end()

    def __next__(self) -> Any:
        try:
            event = self.__wrapped__.__next__()
        except StopIteration:
            self._self_on_end()
            raise
        except BaseException as exc:
            self._self_on_error(exc)
            raise
        try:
            self._self_on_chunk(event)
        except Exception as exc:  # noqa: BLE001
            report("anthropic.stream.event", exc)
        return event


class TracedAsyncStream(AsyncStreamShell):
    """An ``anthropic.AsyncStream`` whose span covers the whole iteration.

    ``async for event in stream`` runs an async generator over the stream's own ``__aiter__`` (one
    generator step an event, where ``__anext__`` makes a coroutine of ours and one of the SDK's);
    ``await stream.__anext__()`` works too, and both draw from the same iterator.
    """

    _self_fault = "anthropic.stream.event"

    def __aiter__(self) -> Any:
        return self._self_events()

    async def _self_events(self) -> Any:
        add = self._self_accumulator.add
        first = not self._self_started  # __anext__ may have taken the first event (and its time)
        try:
            async for event in self.__wrapped__.__aiter__():
                if first:
                    first = False
                    self._self_first()
                try:
                    add(event)
                except Exception as exc:  # noqa: BLE001 - our fault: lose the event, never the user's stream
                    report("anthropic.stream.event", exc)
                yield event
        except GeneratorExit:
            raise  # see TracedStream._self_events
        except BaseException as exc:
            self._self_on_error(exc)
            raise
        self._self_on_end()

    async def __anext__(self) -> Any:
        try:
            event = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_on_end()
            raise
        except BaseException as exc:
            self._self_on_error(exc)
            raise
        try:
            self._self_on_chunk(event)
        except Exception as exc:  # noqa: BLE001
            report("anthropic.stream.event", exc)
        return event


class TracedStreamManager(wrapt.ObjectProxy):  # type: ignore[misc]
    """``messages.stream(...)``'s manager: the request, and so the span, starts on ``with`` entry.

    ``begin`` opens the call (or returns None when this call is not traced); the ``MessageStream`` the
    SDK hands back reads a traced raw stream (its ``_raw_stream``, anthropic >= 0.20), so its events,
    ``text_stream``, ``get_final_message()`` and ``close()`` all go through the span's proxy; leaving
    the ``with`` closes it, which ends the span.
    """

    def __init__(self, wrapped: Any, begin: Any) -> None:
        super().__init__(wrapped)
        self._self_begin = begin

    def __enter__(self) -> Any:
        call = self._self_begin()
        if call is None:
            return self.__wrapped__.__enter__()
        try:
            stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.attach(stream, is_async=False)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> Any:
        return self.__wrapped__.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Any:
        call = self._self_begin()
        if call is None:
            return await self.__wrapped__.__aenter__()
        try:
            stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        return call.attach(stream, is_async=True)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)
