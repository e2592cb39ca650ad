"""The log-record side of the replaceable fan-out: how configure() swaps where scores go.

A logger provider cannot drop a processor either, so configure() adds this one once and swaps the
batch processors behind it (one per destination) on each later call. A record emitted during the
swap goes to the old processors or the new ones, never both, never neither. Its own module so
that ``import traceglass`` does not load the logs SDK.
"""

from __future__ import annotations

from opentelemetry.sdk._logs import LogRecordProcessor

from traceglass.processors._fanout import Replaceable


class FanOutLogRecordProcessor(Replaceable, LogRecordProcessor):
    def on_emit(self, log_record: object) -> None:
        generation = self._enter()
        try:
            for processor in generation.processors:
                processor.on_emit(log_record)
        finally:
            self._leave(generation)


__all__ = ["FanOutLogRecordProcessor"]
