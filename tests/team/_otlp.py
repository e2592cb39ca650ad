"""OTLP/HTTP protobuf export bodies with known, deterministic trace and span ids (for the server tests)."""

from __future__ import annotations

import hashlib

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

RESOURCE = Resource.create({"service.name": "team-test"})
BASE_NS = 1_767_000_000_000_000_000  # 2025-12-29


def _id(text: str, bits: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[: bits // 8], "big") or 1


def trace_id(label: str) -> int:
    """The trace id of trace number ``n`` of ``spans(label, ...)``: ``trace_id(f"{label} {n}")``."""
    return _id(f"trace {label}", 128)


def spans(label: str, count: int, *, per_trace: int = 10, base_ns: int = BASE_NS) -> list[ReadableSpan]:
    """``count`` spans named ``{label} {i}``, in traces of ``per_trace`` spans (a root and its children),
    the ``i``-th starting ``i`` ms after ``base_ns``."""
    out = []
    for i in range(count):
        trace = trace_id(f"{label} {i // per_trace}")
        root = _id(f"span {label} {i - i % per_trace}", 64)
        span = _id(f"span {label} {i}", 64)
        parent = None if span == root else SpanContext(trace, root, is_remote=False)
        start = base_ns + i * 1_000_000
        out.append(ReadableSpan(
            name=f"{label} {i}", context=SpanContext(trace, span, is_remote=False, trace_flags=TraceFlags(1)),
            parent=parent, resource=RESOURCE, start_time=start, end_time=start + 500_000,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "i": i}))
    return out


def body(batch: list[ReadableSpan]) -> bytes:
    """An ``ExportTraceServiceRequest`` of ``batch``, serialized."""
    return encode_spans(batch).SerializeToString()
