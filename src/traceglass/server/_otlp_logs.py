"""Decode OTLP/HTTP log requests into scores: every ``gen_ai.evaluation.result`` record, from any SDK.

A score travels as a log record parented (trace and span ids) to what it scores; its name is the
record's ``event_name`` field, or the ``event.name`` attribute that SDKs older than the field use.
Other log records are not ours to keep: they are accepted and ignored, not an error. A score record
without a trace id, or whose values the score model refuses, is rejected on its own (counted for
the response's ``partial_success``); the rest of the request is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)

from traceglass import semconv
from traceglass._scores import Score, ScoreError, from_event
from traceglass.server._otlp import any_value, parse_message, plain
from traceglass.store._upsert import MAX_NS

_EVENT_NAME_ATTRIBUTE = "event.name"


@dataclass
class DecodedLogs:
    """The scores of one log export request, and the score records rejected, with why."""

    scores: list[Score] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    ignored: int = 0  # records of other events, or plain logs


def parse_logs(body: bytes, content_type: str) -> ExportLogsServiceRequest:
    """An ``ExportLogsServiceRequest`` from a protobuf or OTLP-JSON body (``OTLPDecodeError`` else)."""
    return parse_message(body, content_type, ExportLogsServiceRequest())


def _hex(raw: bytes, size: int) -> str | None:
    return raw.hex() if len(raw) == size and any(raw) else None


def _time(record: Any) -> int | None:
    # The event's time, else when the SDK observed it, else now (from_event); never one the store cannot hold.
    for stamp in (record.time_unix_nano, record.observed_time_unix_nano):
        if 0 < stamp <= MAX_NS:
            return stamp
    return None


def _attributes(record: Any) -> dict[str, Any]:
    """The record's attributes; a map body (an older event API's payload) fills in any the attributes lack."""
    out: dict[str, Any] = {}
    if record.body.WhichOneof("value") == "kvlist_value":
        out.update({key: value for key, value in plain(record.body).items()
                    if value is None or isinstance(value, (str, bool, int, float))})
    for kv in record.attributes:
        out[kv.key] = any_value(kv.value)
    return {key: value for key, value in out.items() if value is not None}


def to_scores(message: ExportLogsServiceRequest) -> DecodedLogs:
    """The scores the ``gen_ai.evaluation.result`` records of ``message`` carry."""
    decoded = DecodedLogs()
    for resource_logs in message.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                event_name = record.event_name
                if not event_name:
                    legacy = next((kv.value for kv in record.attributes if kv.key == _EVENT_NAME_ATTRIBUTE), None)
                    event_name = legacy.string_value if legacy is not None else ""
                if event_name != semconv.EVENT_GEN_AI_EVALUATION_RESULT:
                    decoded.ignored += 1
                    continue
                _score(record, decoded)
    return decoded


def _score(record: Any, decoded: DecodedLogs) -> None:
    attributes = _attributes(record)
    attributes.pop(_EVENT_NAME_ATTRIBUTE, None)
    name = attributes.get(semconv.GEN_AI_EVALUATION_NAME)
    trace_id = _hex(record.trace_id, 16)
    if trace_id is None:
        decoded.rejected += 1
        decoded.problems.append(f"evaluation {name!r}: the record has no trace id (a score must be about a trace)")
        return
    try:
        decoded.scores.append(from_event(attributes, trace_id=trace_id, span_id=_hex(record.span_id, 8),
                                         timestamp_ns=_time(record)))
    except ScoreError as exc:
        decoded.rejected += 1
        decoded.problems.append(f"evaluation {name!r}: {exc}"[:500])


__all__ = ["DecodedLogs", "parse_logs", "to_scores"]
