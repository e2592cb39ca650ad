"""Stream proxies: the span covers the whole stream and ends exactly once.

One proxy base (a ``wrapt.ObjectProxy``, so ``isinstance(stream, openai.Stream)``, ``.response``
and every other attribute still work) with three hooks: a chunk arrived, the stream ended, the
stream failed. The sync and async shells differ only in how they step the wrapped stream. The
span ends on exhaustion, ``close()``, context-manager exit, an error midway, or when the proxy is
garbage-collected. It is never made current while the stream is open: an abandoned stream must
not become the parent of every later span in its thread. Proxy state lives in ``_self_`` names,
so nothing lands on the user's object.

Accumulators fold chunks into what the span needs: text, tool-call deltas, finish reasons, usage.
The OpenAI proxies do no per-chunk work beyond keeping the chunk: they fold the chunks they kept
when the stream ends (or fails, or every ``_FOLD_EVERY`` chunks, so a long stream holds a bounded
number of them), where one loop over a batch costs a fraction of a call per chunk.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from traceglass._handler import LLMInvocation
from traceglass._handler._content import EncodedJson
from traceglass._handler._messages import message, text_part, tool_call_part
from traceglass.instrumentors._stream_proxy import AsyncStreamShell, SyncStreamShell
from traceglass.instrumentors.openai import _extract
from traceglass.instrumentors.openai._stream_usage import hidden


# --- accumulators ------------------------------------------------------------------------------
class ChoicesAccumulator:
    """Chat Completions chunks: per-choice text, tool-call deltas, finish reason; the usage chunk.

    ``add`` runs once per chunk, so it reads the SDK's attributes directly (present on every
    chunk model since openai 1.26) and does as little as it can.
    """

    __slots__ = ("choices", "last", "reasons", "texts", "tools", "usage")

    def __init__(self) -> None:
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[int, dict[int, list[Any]]] = {}
        self.reasons: dict[int, str] = {}
        self.last: Any = None
        self.usage: Any = None
        self.choices = 0  # > 0: the span records no content; fold reads the finish reasons and usage only

    def skip_content(self, choices: Any) -> None:
        """The span records no text and no tool calls (content capture off, no token estimate):
        ``fold`` reads only each choice's last finish reason and the last usage, from the batch's end
        backwards, and stops once ``choices`` choices (the request's ``n``; 1 when not an int above 0)
        have a reason and a usage was found. (A subclass with its own ``add`` reads every chunk.)"""
        self.choices = choices if type(choices) is int and choices > 0 else 1

    def add(self, chunk: Any) -> None:
        self.last = chunk
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if content:
                    texts = self.texts.get(choice.index)
                    if texts is None:
                        self.texts[choice.index] = [content]
                    else:
                        texts.append(content)
                if delta.tool_calls:
                    self._add_tool_calls(choice.index, delta.tool_calls)
            reason = choice.finish_reason
            if reason is not None:
                self.reasons[choice.index] = reason

    def fold(self, chunks: list[Any]) -> None:
        """``add`` every chunk of ``chunks``, in one pass over the batch.

        The SDK's chunk models are pydantic models with a ``__getattr__``, so each attribute read
        costs as much as a dozen dict lookups: the batch loop reads each choice's and delta's
        ``__dict__`` once (the models keep every field there, defaults included) and the usage
        from the last chunk that has one (after ``skip_content``, only the finish reasons and the
        usage, see ``_last_reasons``). Anything else (a subclass reading chunks its own way,
        objects without those fields) goes through ``add``, chunk by chunk.
        """
        if not chunks:
            return
        if type(self).add is not ChoicesAccumulator.add:
            for chunk in chunks:
                self.add(chunk)
            return
        try:
            if self.choices:
                texts, tool_deltas = {}, []
                reasons, usage = _last_reasons(chunks, self.choices)
            else:
                texts, reasons, tool_deltas = _fold_choices(chunks)
                for chunk in reversed(chunks):  # the usage: on the last chunk that has one (the last, mostly)
                    usage = chunk.usage
                    if usage is not None:
                        break
        except (AttributeError, KeyError, TypeError):
            for chunk in chunks:
                self.add(chunk)
            return
        self.last = chunks[-1]
        if usage is not None:
            self.usage = usage
        for index, pieces in texts.items():
            known = self.texts.get(index)
            if known is None:
                self.texts[index] = pieces
            else:
                known.extend(pieces)
        for index, deltas in tool_deltas:
            self._add_tool_calls(index, deltas)
        self.reasons.update(reasons)

    def _add_tool_calls(self, index: int, deltas: Any) -> None:
        calls = self.tools.setdefault(index, {})
        for call in deltas:
            slot = calls.get(call.index)
            if slot is None:  # [id, name, argument pieces]
                slot = calls[call.index] = [None, None, []]
            if call.id:
                slot[0] = call.id
            function = call.function
            if function is not None:
                if function.name:
                    slot[1] = function.name
                if function.arguments:
                    slot[2].append(function.arguments)

    def output_text(self) -> str:
        return "".join(piece for pieces in self.texts.values() for piece in pieces)

    def failure(self) -> None:
        """Never: an error in a Chat Completions stream is raised by the SDK itself."""
        return

    def apply(self, inv: LLMInvocation, capture: bool) -> None:
        last = self.last
        if last is not None:  # id, model, fingerprint and tier repeat on every chunk (and its usage)
            _extract.apply_common(inv, last)
        if self.usage is not None and self.usage is not getattr(last, "usage", None):
            _extract.apply_usage(inv, self.usage)  # usage came on an earlier chunk
        texts, tools, reasons = self.texts, self.tools, self.reasons
        if reasons:
            inv.finish_reasons = [reasons[i] for i in sorted(reasons)] if len(reasons) > 1 else list(reasons.values())
        if capture:
            if not tools:  # text only (most streams): the messages' JSON text, written straight
                inv.output_messages = _encoded_text_outputs(texts, reasons)
                return
            outputs = []
            for index in sorted(texts.keys() | tools.keys() | reasons.keys()):
                parts = [text_part("".join(texts[index]))] if index in texts else []
                for call_id, name, pieces in (tools.get(index) or {}).values():
                    parts.append(tool_call_part(call_id, str(name), _extract._json_or_text("".join(pieces))))
                outputs.append(message("assistant", parts, _extract.finish_reason(reasons.get(index))))
            inv.output_messages = outputs


def _encoded_text_outputs(texts: dict[int, list[str]], reasons: dict[int, str]) -> EncodedJson:
    """What ``apply`` makes of text-only choices (one assistant message each, in index order), as
    the compact JSON text the handler would write."""
    messages = (_extract.encoded_text_message("assistant", "".join(texts[i]) if i in texts else None, reasons.get(i))
                for i in sorted(texts.keys() | reasons.keys()))
    return _extract.encoded_array(messages)


def _fold_choices(chunks: list[Any]) -> tuple[dict[int, list[str]], dict[int, str], list[tuple[int, Any]]]:
    """Per choice index: the text pieces, the last finish reason; and the tool-call deltas in order.

    Reads ``__dict__`` (fields by key: KeyError when a chunk is not the SDK's model), once per
    choice and per delta: this loop is every chunk's whole cost, ~2,900 instructions, of which the
    three reads on pydantic models (``choices``, the choice's and the delta's ``__dict__``, ~420 each
    through pydantic's ``__getattr__`` hook) and the loops over them alone are ~1,960. (Chained ``map``
    calls with ``attrgetter``/``itemgetter`` measured more, 3,590; pydantic's own serializer of the
    batch, ~25,000.)
    """
    texts: dict[int, list[str]] = {}
    reasons: dict[int, str] = {}
    tool_deltas: list[tuple[int, Any]] = []
    first: list[str] = []  # choice 0's pieces (most streams have no other choice)
    keep = first.append
    for chunk in chunks:
        for choice in chunk.choices:
            fields = choice.__dict__
            delta = fields["delta"].__dict__  # AttributeError when None: add() takes the batch
            content = delta["content"]
            if content:
                if fields["index"] == 0:
                    keep(content)
                else:
                    texts.setdefault(fields["index"], []).append(content)
            if delta["tool_calls"]:
                tool_deltas.append((fields["index"], delta["tool_calls"]))
            if fields["finish_reason"] is not None:
                reasons[fields["index"]] = fields["finish_reason"]
    if first:
        texts = {0: first, **texts}
    return texts, reasons, tool_deltas


def _last_reasons(chunks: list[Any], choices: int) -> tuple[dict[int, str], Any]:
    """Per choice index, its last finish reason in ``chunks``, and the last usage: read from the end
    until ``choices`` indexes have a reason and a usage was found (most streams: the last chunk or
    two), else through the whole batch. One ``__dict__`` read a chunk gives both its choices and its
    usage; each choice's fields come from its ``__dict__`` too (KeyError or AttributeError: not the
    SDK's model)."""
    reasons: dict[int, str] = {}
    usage = None
    for chunk in reversed(chunks):
        fields = chunk.__dict__
        if usage is None:
            usage = fields["usage"]
        if len(reasons) < choices:
            for choice in fields["choices"]:
                data = choice.__dict__
                if data["finish_reason"] is not None and data["index"] not in reasons:
                    reasons[data["index"]] = data["finish_reason"]
        if usage is not None and len(reasons) >= choices:
            break
    return reasons, usage


class CompletionAccumulator(ChoicesAccumulator):
    """Legacy Completions chunks: ``choices[].text`` instead of a delta."""

    __slots__ = ()

    def add(self, chunk: Any) -> None:
        self.last = chunk
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            if choice.text:
                self.texts.setdefault(choice.index, []).append(choice.text)
            if choice.finish_reason is not None:
                self.reasons[choice.index] = choice.finish_reason


class ResponsesAccumulator:
    """Responses API events: the final ``response.*`` event carries the whole response."""

    __slots__ = ("error", "response", "texts")

    def __init__(self) -> None:
        self.response: Any = None
        self.texts: list[str] = []
        self.error: tuple[str, str | None] | None = None

    def add(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            self.texts.append(event.delta)
        elif kind in ("response.created", "response.in_progress", "response.completed",
                      "response.incomplete", "response.failed"):
            self.response = event.response
        elif kind == "error":  # the API failed mid-stream; the SDK hands the event on, it does not raise
            code, text = getattr(event, "code", None), getattr(event, "message", None)
            self.error = (code if isinstance(code, str) and code else "error",
                          text if isinstance(text, str) else None)

    def fold(self, events: list[Any]) -> None:
        for event in events:
            self.add(event)

    def skip_content(self, choices: Any) -> None:
        """Nothing to skip: the final event carries the whole response, read once."""

    def output_text(self) -> str:
        return "".join(self.texts)

    def failure(self) -> tuple[str, str | None] | None:
        """An ``error`` event's code and message, else the final response's failure, if any."""
        if self.error is not None:
            return self.error
        return _extract.response_failure(self.response)

    def apply(self, inv: LLMInvocation, capture: bool) -> None:
        response = self.response
        if response is None:
            return
        if getattr(response, "status", None) in ("created", "in_progress", "queued"):
            # The stream stopped before the final event: keep what arrived.
            _extract.apply_common(inv, response)
            if capture and self.texts:
                inv.output_messages = [message("assistant", [text_part(self.output_text())], "error")]
            return
        _extract.apply_responses_api(inv, response, capture)


# --- proxies -------------------------------------------------------------------------------------
# Chunks kept before they are folded: a long stream holds at most this many of them at a time.
_FOLD_EVERY = 256
_DONE = object()  # the end of a stream's iterator


def _chunk_iterator(stream: Any, is_async: bool = False) -> Any:
    """What ``for chunk in stream`` (``async for`` when ``is_async``) draws from, one generator
    layer shorter where that is safe.

    ``openai.Stream.__iter__`` (openai 1.x-3.x) is ``for item in self._iterator: yield item``, and
    ``AsyncStream.__aiter__`` its ``async for`` twin: the proxy's own generator replaces that layer
    (a generator resume per chunk) rather than adding one on top. Any other ``__iter__`` or
    ``__aiter__`` (a subclass's, another SDK's) is called as it is.
    """
    iterate = getattr(type(stream), "__aiter__" if is_async else "__iter__")
    if iterate is _sdk_methods()[is_async]:
        iterator = stream.__dict__.get("_iterator")
        if iterator is not None:
            return iterator
    return iterate(stream)


_SDK_METHODS: list[tuple[Any, Any]] = []


def _sdk_methods() -> tuple[Any, Any]:
    """``openai.Stream.__iter__`` and ``openai.AsyncStream.__aiter__`` (None, None: no such SDK)."""
    if not _SDK_METHODS:
        try:
            from openai import AsyncStream, Stream

            _SDK_METHODS.append((Stream.__iter__, AsyncStream.__aiter__))
        except Exception:  # noqa: BLE001 - no such SDK: every stream's own __iter__ is used
            _SDK_METHODS.append((None, None))
    return _SDK_METHODS[0]


class TracedStream(SyncStreamShell):
    """A synchronous ``openai.Stream`` whose span covers the whole iteration.

    ``for chunk in stream`` runs :meth:`_self_chunks`, a generator over the stream's own iterator
    (see ``_chunk_iterator``): resuming a generator costs a fraction of a ``__next__`` call
    through the proxy, and this loop runs once per chunk. ``next(stream)`` still works, and the
    two can be mixed: both draw from the same underlying iterator.
    """

    _self_fault = "openai.stream.chunk"

    def __iter__(self) -> Any:
        return self._self_chunks()

    def _self_chunks(self) -> Any:
        """Per chunk: keeping it (the count of kept chunks is islice's: one fold every
        ``_FOLD_EVERY``) and, when traceglass asked for the usage, ``hidden``'s check. The first
        chunk sets the time to it."""
        keep = self._self_pending.append
        hide = self._self_hide_usage
        try:
            chunks = iter(_chunk_iterator(self.__wrapped__))
            if not self._self_started:  # not already begun by next(stream)
                for chunk in chunks:
                    keep(chunk)
                    self._self_first()
                    if not (hide and hidden(chunk)):
                        yield chunk
                    break
            while True:
                for chunk in islice(chunks, _FOLD_EVERY):
                    keep(chunk)
                    if hide:
                        try:  # hidden(chunk), inlined (a call costs a third of it): the SDK's pydantic 2 model
                            if chunk.usage is not None and not chunk.choices:
                                continue
                            chunk.__pydantic_fields_set__.discard("usage")
                        except Exception:  # noqa: BLE001 - another model: hidden() reads it (and reports a fault)
                            if hidden(chunk):
                                continue
                    yield chunk
                chunk = next(chunks, _DONE)
                if chunk is _DONE:
                    break
                self._self_fold()
                keep(chunk)
                if not (hide and hidden(chunk)):
                    yield chunk
        except GeneratorExit:
            # The consumer stopped iterating (break, or the loop was dropped): the stream may
            # still be read on; its span ends on exhaustion, close(), exit or collection.
            raise
        except BaseException as exc:
            self._self_on_error(exc)
            raise
        self._self_on_end()

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
            self._self_keep(chunk)
            if self._self_hide_usage and hidden(chunk):
                continue
            return chunk

    def _self_keep(self, chunk: Any) -> None:
        pending = self._self_pending
        pending.append(chunk)
        if not self._self_started:
            self._self_first()
        if len(pending) >= _FOLD_EVERY:
            self._self_fold()


class TracedAsyncStream(AsyncStreamShell):
    """An ``openai.AsyncStream`` whose span covers the whole iteration.

    ``async for chunk in stream`` runs :meth:`_self_chunks`, an async generator over the stream's
    own iterator (see ``_chunk_iterator``), as ``for`` does on the synchronous proxy: one
    generator step a chunk, where ``__anext__`` makes a coroutine of ours and one of the SDK's.
    ``await stream.__anext__()`` still works, and the two can be mixed.
    """

    _self_fault = "openai.stream.chunk"

    def __aiter__(self) -> Any:
        return self._self_chunks()

    async def _self_chunks(self) -> Any:
        """Per chunk, what ``TracedStream._self_chunks`` does: keeping it and, when traceglass asked for
        the usage, ``hidden``'s check; one fold every ``_FOLD_EVERY`` chunks this loop keeps (counted
        down: chunks kept by ``__anext__`` meanwhile fold there). The first chunk, taken apart, sets
        the time to it, so the loop after it checks nothing else."""
        keep = self._self_pending.append
        hide = self._self_hide_usage
        every = _FOLD_EVERY
        left = every
        try:
            chunks = _chunk_iterator(self.__wrapped__, is_async=True)
            if not self._self_started:  # not already begun by __anext__
                async for chunk in chunks:
                    keep(chunk)
                    self._self_first()
                    left -= 1
                    if not (hide and hidden(chunk)):
                        yield chunk
                    break
            if hide:
                async for chunk in chunks:
                    keep(chunk)
                    try:  # hidden(chunk), inlined, as in TracedStream._self_chunks
                        if chunk.usage is not None and not chunk.choices:
                            continue
                        chunk.__pydantic_fields_set__.discard("usage")
                    except Exception:  # noqa: BLE001
                        if hidden(chunk):
                            continue
                    left -= 1
                    if not left:
                        self._self_fold()
                        left = every
                    yield chunk
            else:
                async for chunk in chunks:
                    keep(chunk)
                    left -= 1
                    if not left:
                        self._self_fold()
                        left = every
                    yield chunk
        except GeneratorExit:
            raise  # see TracedStream._self_chunks
        except BaseException as exc:
            self._self_on_error(exc)
            raise
        self._self_on_end()

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
            pending = self._self_pending  # _self_keep, inlined: this runs once per chunk
            pending.append(chunk)
            if not self._self_started:
                self._self_first()
            if len(pending) >= _FOLD_EVERY:
                self._self_fold()
            if self._self_hide_usage and hidden(chunk):
                continue
            return chunk
