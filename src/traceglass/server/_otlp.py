"""Decode OTLP/HTTP trace requests (protobuf or JSON) into SDK ``ReadableSpan`` objects.

Both encodings become one ``ExportTraceServiceRequest`` message first, so there is one mapping
onto spans. The JSON encoding is the protobuf JSON mapping with the OTLP specification's
differences: trace and span ids are hex strings (not base64), enums may be integers, and
unknown fields are ignored. See https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from traceglass._unicode import is_valid_unicode, valid_unicode
from traceglass.server._security import BodyTooLargeError
from traceglass.store._upsert import MAX_NS, usage_problem, value_problem

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP Span.SpanKind numbering: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
_KINDS = {0: SpanKind.INTERNAL, 1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT,
          4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
# Fields of the JSON encoding that hold ids in hex (the protobuf JSON mapping would use base64).
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
# Integer fields of the JSON encoding whose bad value would otherwise fail the whole request: a time
# becomes one the span check rejects (that span alone), an attribute's integer is dropped.
_TIME_FIELDS = ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano",
                "start_time_unix_nano", "end_time_unix_nano", "time_unix_nano")
_INT_VALUE_FIELDS = ("intValue", "int_value")
_UINT64_MAX = 2**64 - 1


class OTLPDecodeError(ValueError):
    """The request body is not a valid OTLP trace export request (HTTP 400)."""


@dataclass
class DecodedRequest:
    """The spans of one export request, what was rejected with why, and values dropped or mended."""

    spans: list[ReadableSpan] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body with its ``Content-Encoding`` (``gzip``, ``deflate`` or none) undone, at most ``limit`` bytes."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "deflate"):
        raise OTLPDecodeError(f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    # wbits: 16+ for a gzip header, + 32 auto-detects zlib/gzip for deflate.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if coding == "gzip" else 32 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)  # bounded: a small bomb cannot fill memory
    except zlib.error as exc:
        raise OTLPDecodeError(f"body is not valid {coding} data: {exc}") from None
    if len(out) > limit:
        raise BodyTooLargeError(f"decompressed body is larger than {limit} bytes")
    return out


def parse_request(body: bytes, content_type: str, warnings: list[str] | None = None,
                  rejected: list[str] | None = None) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from a protobuf or OTLP-JSON body.

    In JSON, values the protobuf mapping would refuse for the whole request are mended first and
    named in ``warnings``: an integer attribute beyond 64 bits is dropped, a time that is not a
    uint64 becomes one the span check rejects, a lone surrogate becomes U+FFFD. Given ``rejected``,
    a span the mapping still refuses (a negative count, a number that is text, ...) is left out on
    its own and named there, so the valid spans of the request are kept; without it, such a body
    is an ``OTLPDecodeError``.
    """
    message = ExportTraceServiceRequest()
    if content_type == PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise OTLPDecodeError(f"body is not a protobuf ExportTraceServiceRequest: {exc}") from None
        return message
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise OTLPDecodeError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OTLPDecodeError("body must be a JSON object with resourceSpans")
    mended = _mend_json(data, warnings if warnings is not None else [])
    try:
        json_format.ParseDict(mended, message, ignore_unknown_fields=True)
    except _JSON_ERRORS as exc:
        if rejected is None:
            raise OTLPDecodeError(f"body is not an OTLP JSON ExportTraceServiceRequest: {exc}") from None
        return _parse_span_by_span(mended, rejected, exc)
    return message


_JSON_ERRORS = (json_format.ParseError, ValueError, TypeError, RecursionError)


def parse_message(body: bytes, content_type: str, message: Any) -> Any:
    """``message`` (an empty ``Export*ServiceRequest`` of any signal) filled from a protobuf or OTLP-JSON
    body, all or nothing (hex ids and lone surrogates mended as for traces); ``OTLPDecodeError`` else."""
    what = type(message).__name__
    if content_type == PROTOBUF:
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise OTLPDecodeError(f"body is not a protobuf {what}: {exc}") from None
        return message
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise OTLPDecodeError(f"body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise OTLPDecodeError(f"body must be a JSON object (an OTLP {what})")
    try:
        json_format.ParseDict(_mend_json(data, []), message, ignore_unknown_fields=True)
    except _JSON_ERRORS as exc:
        raise OTLPDecodeError(f"body is not an OTLP JSON {what}: {str(exc)[:200]}") from None
    return message


def _children(node: Any, camel: str, snake: str, whole_error: Exception) -> list:
    children = node.get(camel, node.get(snake, [])) if isinstance(node, dict) else None
    if not isinstance(children, list):
        raise OTLPDecodeError(f"body is not an OTLP JSON ExportTraceServiceRequest: {whole_error}")
    return children


def _parse_span_by_span(tree: dict, rejected: list[str], whole_error: Exception) -> ExportTraceServiceRequest:
    """The request parsed one span at a time: a span (or a resource or scope, with its spans) that the
    JSON mapping refuses is named in ``rejected`` and left out; the rest is kept. Only a body whose
    structure is not resourceSpans -> scopeSpans -> spans is refused whole."""
    message = ExportTraceServiceRequest()
    for resource_node in _children(tree, "resourceSpans", "resource_spans", whole_error):
        scopes = [(node, _children(node, "spans", "spans", whole_error))
                  for node in _children(resource_node, "scopeSpans", "scope_spans", whole_error)]
        resource = message.resource_spans.add()
        if not _parse_shell(resource_node, resource, ("scopeSpans", "scope_spans"), "resource",
                            sum(len(spans) for _, spans in scopes), rejected):
            del message.resource_spans[-1]
            continue
        for scope_node, spans in scopes:
            scope = resource.scope_spans.add()
            if not _parse_shell(scope_node, scope, ("spans",), "scope", len(spans), rejected):
                del resource.scope_spans[-1]
                continue
            for span_node in spans:
                span = scope.spans.add()
                try:
                    json_format.ParseDict(span_node, span, ignore_unknown_fields=True)
                except _JSON_ERRORS as exc:
                    del scope.spans[-1]
                    name = span_node.get("name") if isinstance(span_node, dict) else None
                    rejected.append(f"span {name!r}: not an OTLP JSON span: {str(exc)[:200]}")
    return message


def _parse_shell(node: dict, target: Any, children: tuple[str, ...], what: str, spans: int,
                 rejected: list[str]) -> bool:
    """Parse a resource's or scope's own fields; if they are refused, reject its ``spans`` spans."""
    try:
        json_format.ParseDict({k: v for k, v in node.items() if k not in children}, target,
                              ignore_unknown_fields=True)
        return True
    except _JSON_ERRORS as exc:
        rejected.extend([f"a span of a {what} the JSON mapping refuses: {str(exc)[:200]}"] * spans)
        return False


def _mend_json(node: Any, warnings: list[str]) -> Any:
    """A copy of an OTLP-JSON tree with hex ids re-encoded as the base64 that json_format expects,
    and the values that would fail the whole request mended (see :func:`parse_request`)."""
    if isinstance(node, list):
        return [_mend_json(item, warnings) for item in node]
    if isinstance(node, str):
        return _mend_text(node, warnings)
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _ID_FIELDS and isinstance(value, str):
            try:
                value = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except ValueError:
                raise OTLPDecodeError(f"{key} must be a hex string, got {value!r}") from None
        elif key in _TIME_FIELDS and _json_int(value, 0, _UINT64_MAX) is None:
            value = str(_UINT64_MAX)  # beyond what the store holds: the span (or event) check handles it
        elif key in _INT_VALUE_FIELDS and _json_int(value, -(2**63), 2**63 - 1) is None:
            warnings.append(f"an integer attribute value {value!r} is not a 64-bit integer (dropped)")
            continue
        out[_mend_text(key, warnings) if isinstance(key, str) else key] = _mend_json(value, warnings)
    return out


def _json_int(value: Any, low: int, high: int) -> int | None:
    """``value`` (an integer, or its decimal text as the JSON mapping writes 64-bit ints) within bounds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    return value if isinstance(value, int) and low <= value <= high else None


def _mend_text(text: str, warnings: list[str]) -> str:
    if is_valid_unicode(text):
        return text
    warnings.append(f"text {text[:40]!r} held a lone surrogate (replaced by U+FFFD)")
    return valid_unicode(text)


def any_value(value: AnyValue) -> Any:
    """A Python attribute value for an OTLP ``AnyValue``.

    Span attributes may only be primitives or homogeneous lists of them, so maps, mixed lists
    and nested lists are kept as their JSON text, and bytes as base64 text.
    """
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        items = [any_value(v) for v in value.array_value.values]
        types = {type(i) for i in items}
        if not items or (len(types) == 1 and types <= {str, bool, int, float}):
            return items
        if types <= {int, float}:
            return [float(i) for i in items]
        return json.dumps(plain(value), default=str)
    if kind == "kvlist_value":
        return json.dumps(plain(value), default=str)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None if kind is None else getattr(value, kind)


def _attributes(key_values: Any, where: str, warnings: list[str]) -> dict[str, Any]:
    """Attributes from OTLP key-values; a value the store could not hold or readers could not render
    (a NaN, an infinity, a token count or cost out of range) is dropped alone and named in ``warnings``."""
    out = {}
    for kv in key_values:
        converted = any_value(kv.value)
        if converted is None:
            continue
        problem = value_problem(converted, f"{where} attribute {kv.key!r}")
        if problem is None and (usage := usage_problem(kv.key, converted)) is not None:
            problem = f"{where}: {usage}"
        if problem is not None:
            warnings.append(f"{problem} (dropped)")
            continue
        out[kv.key] = converted
    return out


def _id(raw: bytes, size: int) -> int | None:
    if len(raw) != size:
        return None
    number = int.from_bytes(raw, "big")
    return number or None


def to_spans(message: ExportTraceServiceRequest, warnings: list[str] | None = None) -> DecodedRequest:
    """SDK spans (with resource and instrumentation scope) for every valid span in ``message``.

    A span with a missing or malformed trace/span id, or a time the store cannot hold (after 2262),
    is rejected on its own (counted for the partial-success response); the rest of the request is
    kept. A value that cannot be stored is dropped from its span, and named in ``warnings``.
    """
    decoded = DecodedRequest(warnings=warnings if warnings is not None else [])
    notes = decoded.warnings
    for resource_spans in message.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes, "resource", notes),
                            resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(
                scope_spans.scope.name, scope_spans.scope.version or None, scope_spans.schema_url or None,
                _attributes(scope_spans.scope.attributes, "scope", notes) or None,
            )
            for span in scope_spans.spans:
                trace_id, span_id = _id(span.trace_id, 16), _id(span.span_id, 8)
                if trace_id is None or span_id is None:
                    decoded.rejected += 1
                    decoded.problems.append(f"span {span.name!r}: trace_id must be 16 bytes and span_id 8 bytes, "
                                            "neither all zero")
                    continue
                if max(span.start_time_unix_nano, span.end_time_unix_nano) > MAX_NS:
                    decoded.rejected += 1
                    decoded.problems.append(f"span {span.name!r}: start and end times must be at most {MAX_NS} "
                                            "(ns since 1970, before 2262)")
                    continue
                decoded.spans.append(_span(span, trace_id, span_id, resource, scope, notes))
    return decoded


def _span(span: Any, trace_id: int, span_id: int, resource: Resource, scope: InstrumentationScope,
          notes: list[str]) -> ReadableSpan:
    flags = TraceFlags(span.flags & 0xFF)
    parent_id = _id(span.parent_span_id, 8)
    # The parent came in the same trace over the wire; is_remote=False lets the cost processor roll
    # children up into it (it only rolls up in-process parents).
    parent = SpanContext(trace_id, parent_id, is_remote=False, trace_flags=flags) if parent_id else None
    start = span.start_time_unix_nano
    where = f"span {span.name!r}"
    events = []
    for e in span.events:
        stamp = e.time_unix_nano or None
        if stamp is not None and stamp > MAX_NS:
            notes.append(f"{where}: event {e.name!r} time {stamp} is after 2262 (set to the span's start)")
            stamp = start or None
        events.append(Event(e.name, _attributes(e.attributes, f"{where} event", notes), timestamp=stamp))
    links = []
    for link in span.links:
        link_trace, link_span = _id(link.trace_id, 16), _id(link.span_id, 8)
        if link_trace and link_span:
            links.append(Link(SpanContext(link_trace, link_span, is_remote=True),
                              _attributes(link.attributes, f"{where} link", notes)))
    status_code = _STATUS.get(span.status.code, StatusCode.UNSET)
    # The SDK drops a description on non-ERROR statuses; so do we.
    status = Status(status_code, (span.status.message or None) if status_code is StatusCode.ERROR else None)
    end = span.end_time_unix_nano or None
    return ReadableSpan(
        name=span.name or "(unnamed)",
        context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags),
        parent=parent,
        resource=resource,
        attributes=_attributes(span.attributes, where, notes),
        events=events,
        links=links,
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=status,
        start_time=start,
        end_time=end if end is None or end >= start else start,
        instrumentation_scope=scope,
    )


def response_body(content_type: str, rejected: int = 0, message: str = "") -> bytes:
    """An ``ExportTraceServiceResponse`` in the request's encoding; partial success when ``rejected``."""
    return export_response(content_type, ExportTraceServiceResponse(), "rejected_spans", rejected, message)


def export_response(content_type: str, response: Any, rejected_field: str, rejected: int = 0,
                    message: str = "") -> bytes:
    """Any signal's ``Export*ServiceResponse`` (``response``, empty) in the request's encoding, with
    ``partial_success`` (``rejected_field``: rejected_spans, rejected_log_records, ...) when something was
    rejected or ``message`` warns."""
    if rejected or message:
        setattr(response.partial_success, rejected_field, rejected)
        response.partial_success.error_message = message
    if content_type == PROTOBUF:
        return response.SerializeToString()
    if not (rejected or message):
        return b"{}"
    head, *rest = rejected_field.split("_")
    camel = head + "".join(part.title() for part in rest)  # the JSON mapping's field name; int64 as text
    return json.dumps({"partialSuccess": {camel: str(rejected), "errorMessage": message}}).encode()


def error_body(content_type: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` error body, protobuf or JSON as the request was (OTLP/HTTP failures)."""
    if content_type == PROTOBUF:
        try:
            from google.rpc import (
                status_pb2,  # googleapis-common-protos, a dependency of the OTLP exporter
            )

            return status_pb2.Status(code=code, message=message).SerializeToString()
        except ImportError:  # pragma: no cover - the OTLP exporter depends on it
            return message.encode()
    return json.dumps({"code": code, "message": message}).encode()


__all__ = ["DecodedRequest", "OTLPDecodeError", "any_value", "decompress", "error_body", "export_response",
           "parse_message", "parse_request", "plain", "response_body", "to_spans"]
