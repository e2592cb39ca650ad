"""Turn a finished span (an SDK ``ReadableSpan`` or validated plain parts) into table rows.

The queryable columns are derived from the span's attributes here, in one place: the span type
(``traceglass.span.type``, else inferred from ``gen_ai.operation.name`` for spans made by other
instrumentations), model, provider, tokens, cost, session and user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from traceglass import semconv
from traceglass.semconv import latest
from traceglass.semconv.gen_ai import GenAIOperation
from traceglass.semconv.span_types import SpanType

SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_id", "name", "kind", "span_type", "project", "start_ns", "end_ns",
    "duration_ns", "status", "status_message", "error_type", "model", "provider", "operation",
    "input_tokens", "output_tokens", "total_tokens", "cost_usd", "session_id", "user_id",
)
DATA_COLUMNS = ("attributes", "events", "links", "resource")

# A span row is inserted with its row id and its trace's id (``traces.id``) first, a span_data
# row with its span's row id. Plain inserts: the writer replaces stored rows only where it knows
# there are some (OR REPLACE costs a lookup in every index).
INSERT_SPAN = (f"INSERT INTO spans (id, trace_no, {', '.join(SPAN_COLUMNS)}) "
               f"VALUES ({', '.join('?' * (len(SPAN_COLUMNS) + 2))})")
# The same with the ``superseded`` flag given (when the writer knows it before inserting).
INSERT_SPAN_FLAGGED = (f"INSERT INTO spans (id, trace_no, {', '.join(SPAN_COLUMNS)}, superseded) "
                       f"VALUES ({', '.join('?' * (len(SPAN_COLUMNS) + 3))})")
INSERT_DATA = (f"INSERT INTO span_data (id, {', '.join(DATA_COLUMNS)}) "
               f"VALUES ({', '.join('?' * (len(DATA_COLUMNS) + 1))})")

# Span type of spans from other instrumentations, which only carry gen_ai.operation.name.
TYPE_FOR_OPERATION = {
    GenAIOperation.CHAT: SpanType.LLM.value,
    GenAIOperation.TEXT_COMPLETION: SpanType.LLM.value,
    GenAIOperation.GENERATE_CONTENT: SpanType.LLM.value,
    GenAIOperation.EMBEDDINGS: SpanType.EMBEDDING.value,
    GenAIOperation.EXECUTE_TOOL: SpanType.TOOL.value,
    GenAIOperation.INVOKE_AGENT: SpanType.AGENT.value,
    GenAIOperation.RETRIEVAL: SpanType.RETRIEVER.value,
}
# Where a span's total cost may be: ours first, then the baseline and latest spec-proposal keys.
COST_KEYS = tuple(dict.fromkeys((semconv.COST_TOTAL, latest.BASELINE.cost_total, latest.LATEST.cost_total)))


class SpanRow(NamedTuple):
    trace_id: str
    span: tuple[Any, ...]  # SPAN_COLUMNS
    data: tuple[Any, ...]  # DATA_COLUMNS


# One encoder for every call: json.dumps with options builds a new encoder each time.
_json_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode

try:  # optional accelerator: encoding the content is most of the conversion cost
    import orjson

    def _dumps(value: Any) -> str:
        try:
            return orjson.dumps(value, default=str).decode()
        except (TypeError, orjson.JSONEncodeError):  # e.g. ints beyond 64 bits
            return _json_dumps(value)

except ImportError:  # pragma: no cover - depends on the environment
    _dumps = _json_dumps
_EMPTY_LIST = "[]"
# Spans of one process share a few Resource objects: encode each once (keyed by identity,
# holding the object so its id cannot be reused).
_resource_json: dict[int, tuple[Any, str]] = {}


def _resource_text(resource: Any, attributes: Mapping[str, Any]) -> str:
    if resource is None:
        return _dumps(dict(attributes))
    cached = _resource_json.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    text = _dumps(dict(attributes))
    if len(_resource_json) > 64:
        _resource_json.clear()
    _resource_json[id(resource)] = (resource, text)
    return text


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def row_from_parts(
    *,
    trace_id: str,
    span_id: str,
    parent_id: str | None,
    name: str,
    kind: str | None,
    start_ns: int,
    end_ns: int | None,
    status: str,
    status_message: str | None,
    attributes: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]] = (),
    links: Sequence[Mapping[str, Any]] = (),
    resource: Mapping[str, Any] | None = None,
    _resource_obj: Any = None,
) -> SpanRow:
    """The rows for one span given as plain parts (ids as lowercase hex, times in ns)."""
    # One copy into a plain dict: every lookup below is then a C call (an SDK span's attributes are
    # a Python mapping with a lock), and the copy is what gets encoded.
    attrs = attributes if type(attributes) is dict else dict(attributes)
    res = resource or {}
    operation = _str(attrs.get(semconv.GEN_AI_OPERATION_NAME))
    span_type = _str(attrs.get(semconv.SPAN_TYPE)) or TYPE_FOR_OPERATION.get(operation or "")
    input_tokens = _int(attrs.get(semconv.GEN_AI_USAGE_INPUT_TOKENS))
    output_tokens = _int(attrs.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS))
    total = None if input_tokens is None and output_tokens is None else (input_tokens or 0) + (output_tokens or 0)
    cost = None
    for key in COST_KEYS:
        cost = _float(attrs.get(key))
        if cost is not None:
            break
    span = (
        trace_id, span_id, parent_id, name, kind, span_type, _str(res.get(semconv.SERVICE_NAME)),
        start_ns, end_ns, None if end_ns is None else end_ns - start_ns, status, status_message,
        _str(attrs.get(semconv.ERROR_TYPE)),
        _str(attrs.get(semconv.GEN_AI_RESPONSE_MODEL) or attrs.get(semconv.GEN_AI_REQUEST_MODEL)),
        _str(attrs.get(semconv.GEN_AI_PROVIDER_NAME)), operation,
        input_tokens, output_tokens, total, cost,
        _str(attrs.get(semconv.SESSION_ID)), _str(attrs.get(semconv.USER_ID)),
    )
    data = (_dumps(attrs), _dumps(list(events)) if events else _EMPTY_LIST,
            _dumps(list(links)) if links else _EMPTY_LIST, _resource_text(_resource_obj, res))
    return SpanRow(trace_id, span, data)


def row_from_span(span: Any) -> SpanRow:
    """The rows for one finished SDK span (``opentelemetry.sdk.trace.ReadableSpan``)."""
    context = span.context
    parent = span.parent
    events = [
        {"name": e.name, "time_unix_nano": e.timestamp, "attributes": dict(e.attributes or {})}
        for e in span.events
    ] if span.events else ()
    links = [
        {"trace_id": format(link.context.trace_id, "032x"), "span_id": format(link.context.span_id, "016x"),
         "attributes": dict(link.attributes or {})}
        for link in span.links
    ] if span.links else ()
    status = span.status
    return row_from_parts(
        trace_id=format(context.trace_id, "032x"),
        span_id=format(context.span_id, "016x"),
        parent_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        kind=span.kind.name,
        start_ns=span.start_time,
        end_ns=span.end_time,
        status=status.status_code.name,
        status_message=status.description,
        attributes=span.attributes or {},
        events=events,
        links=links,
        resource=span.resource.attributes if span.resource is not None else {},
        _resource_obj=span.resource,
    )
