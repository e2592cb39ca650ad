"""What every provider instrumentor's traced call shares: end the span once, fail it, time the stream.

Each provider's ``_wrappers._Call`` subclasses :class:`ProviderCall` and adds what differs: how a
response is read or handed to a stream proxy (``finish``) and how a stream's end is applied
(``end_stream``). Set on the subclass: ``in_call`` (the provider's context variable that marks a call
in progress, reset on deactivation), ``fault`` (the prefix of its fault reports) and ``error_type``
(the provider's reading of an exception into ``error.type``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar

from traceglass._guard import report
from traceglass._handler import TelemetryHandler


class ProviderCall:
    """One traced call: its invocation, the handler that owns its span, and while the user's call runs,
    the tokens that made the span current."""

    __slots__ = ("capture", "handler", "inv", "op", "streaming", "tokens")

    in_call: ClassVar[ContextVar[bool]]
    fault: ClassVar[str]
    error_type: ClassVar[Callable[[BaseException], str]]

    def __init__(self, handler: TelemetryHandler, op: Any, inv: Any, capture: bool, streaming: bool) -> None:
        self.handler = handler
        self.op = op
        self.inv = inv
        self.capture = capture
        self.streaming = streaming
        self.tokens: Any = None

    def deactivate(self) -> None:
        """The span is no longer current (it may still be open: a stream ends it later)."""
        tokens = self.tokens
        if tokens is not None:
            self.tokens = None
            try:
                self.in_call.reset(tokens[1])
                self.handler.deactivate(tokens[0])
            except Exception as exc:  # noqa: BLE001
                report(self.fault + ".deactivate", exc)

    def stop(self, failed: tuple[str, str | None] | None = None, end_time_ns: int | None = None) -> None:
        """End the span (at ``end_time_ns``, else now); ``failed``: the error type and message of a
        response that reported failure."""
        try:
            if failed is None:
                self.handler.stop(self.inv, end_time_ns=end_time_ns)
            else:
                self.handler.stop_failed(self.inv, *failed, end_time_ns=end_time_ns)
        except Exception as exc:  # noqa: BLE001
            report(self.fault + ".stop", exc)

    def fail(self, error: BaseException, end_time_ns: int | None = None) -> None:
        """End the span with the user's call's exception (which the wrapper then re-raises unchanged)."""
        self.deactivate()
        try:
            self.inv.error_type = type(self).error_type(error)
            self.handler.fail(self.inv, error, end_time_ns=end_time_ns)
        except Exception as exc:  # noqa: BLE001
            report(self.fault + ".fail", exc)

    # --- what stream proxies call -----------------------------------------------------------------
    def first_chunk(self) -> None:
        self.inv.time_to_first_token_s = (time.time_ns() - self.inv.start_time_ns) / 1e9

    def fail_stream(self, accumulator: Any, error: BaseException, end_time_ns: int | None = None) -> None:
        try:
            accumulator.apply(self.inv, self.capture)  # keep what arrived before the error
        except Exception as exc:  # noqa: BLE001
            report(self.fault + ".stream.fail", exc)
        self.fail(error, end_time_ns)
