"""The wire format between an application and its writer process: finished SDK spans as plain values.

The application's side (:func:`encode_spans`) only reads each span's fields into tuples and dicts
and hands them to ``marshal`` (C): a few microseconds a span, against the tens that the row
conversion, compression, word index and SQLite cost. The writer process (:func:`decode_rows`) turns
them into the very rows ``row_from_span`` makes. A batch holding a value ``marshal`` refuses (an
attribute the SDK did not validate) is converted here instead and sent as finished rows.
"""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import SpanKind, StatusCode

from traceglass._ended_span import frozen_attributes, span_events, span_links
from traceglass.store._rows import SpanRow, row_from_parts, row_from_span

# The first byte of a frame: what the payload holds.
SPANS = 1  # marshal of (resources, spans): see encode_spans
ROWS = 2  # marshal of [(trace_id, span columns, data columns)]: rows converted by the sender

_KIND_NAMES = {kind.value: kind.name for kind in SpanKind}
_STATUS_NAMES = {code.value: code.name for code in StatusCode}


class Encoder:
    """Encodes batches for one writer process; remembers each Resource's encoded attributes."""

    def __init__(self) -> None:
        # id(resource) -> (resource, its attributes marshalled): the resource is held so its id stays its own.
        self._resources: dict[int, tuple[Any, bytes]] = {}

    def encode(self, spans: Sequence[Any]) -> tuple[int, bytes]:
        """``(kind, payload)`` for a batch of finished spans (``ReadableSpan``)."""
        try:
            return SPANS, self._spans(spans)
        except ValueError:  # an unmarshallable value: convert here, as the in-process writer does
            return ROWS, marshal.dumps([tuple(row_from_span(span)) for span in spans])

    def _resource(self, resource: Any) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        blob = marshal.dumps(dict(resource.attributes) if resource is not None else {})
        if len(self._resources) > 64:
            self._resources.clear()
        self._resources[id(resource)] = (resource, blob)
        return blob

    def _spans(self, spans: Sequence[Any]) -> bytes:
        resources: list[bytes] = []
        index: dict[bytes, int] = {}
        out = []
        for span in spans:
            blob = self._resource(span.resource)
            number = index.get(blob)
            if number is None:
                number = index[blob] = len(resources)
                resources.append(blob)
            context, parent, status = span.context, span.parent, span.status
            events, links = span_events(span), span_links(span)
            out.append((
                context.trace_id, context.span_id, parent.span_id if parent is not None else None,
                span.name, span.kind.value, span.start_time, span.end_time,
                status.status_code.value, status.description, dict(frozen_attributes(span)),
                [(e.name, e.timestamp, dict(frozen_attributes(e))) for e in events] if events else None,
                [(link.context.trace_id, link.context.span_id, dict(frozen_attributes(link))) for link in links]
                if links else None,
                number,
            ))
        return marshal.dumps((resources, out))


class Decoder:
    """Decodes batches in the writer process; keeps one dict per distinct resource (the row
    conversion encodes each resource object once)."""

    def __init__(self) -> None:
        self._resources: dict[bytes, dict[str, Any]] = {}

    def decode(self, kind: int, payload: bytes) -> list[SpanRow]:
        """The rows of one frame; ValueError for a payload that is not one."""
        if kind == ROWS:
            return [SpanRow(trace_id, tuple(span), tuple(data)) for trace_id, span, data in marshal.loads(payload)]
        if kind != SPANS:
            raise ValueError(f"unknown frame kind {kind}")
        blobs, spans = marshal.loads(payload)
        resources = [self._resource(blob) for blob in blobs]
        rows = []
        for (trace_id, span_id, parent_id, name, kind_value, start, end, code, description, attributes,
             events, links, number) in spans:
            rows.append(row_from_parts(
                trace_id=format(trace_id, "032x"),
                span_id=format(span_id, "016x"),
                parent_id=format(parent_id, "016x") if parent_id is not None else None,
                name=name,
                kind=_KIND_NAMES.get(kind_value, "INTERNAL"),
                start_ns=start,
                end_ns=end,
                status=_STATUS_NAMES.get(code, "UNSET"),
                status_message=description,
                attributes=attributes,
                events=[{"name": n, "time_unix_nano": t, "attributes": a} for n, t, a in events] if events else (),
                links=[{"trace_id": format(t, "032x"), "span_id": format(s, "016x"), "attributes": a}
                       for t, s, a in links] if links else (),
                resource=resources[number],
                _resource_obj=resources[number],
            ))
        return rows

    def _resource(self, blob: bytes) -> dict[str, Any]:
        known = self._resources.get(blob)
        if known is None:
            if len(self._resources) > 64:
                self._resources.clear()
            known = self._resources[blob] = marshal.loads(blob)
        return known
