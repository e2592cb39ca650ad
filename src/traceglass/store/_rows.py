"""Turn a finished span (an SDK ``ReadableSpan`` or validated plain parts) into table rows.

The queryable columns are derived from the span's attributes here, in one place: the span type
(``traceglass.span.type``, else inferred from ``gen_ai.operation.name`` for spans made by other
instrumentations), model, provider, tokens, cost, session and user.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson

from traceglass import semconv
from traceglass._ended_span import frozen_attributes, span_events, span_links
from traceglass._span_usage import read_span_model, read_span_usage
from traceglass._unicode import is_valid_unicode, valid_unicode
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

# orjson (a dependency): encoding the content is most of the conversion cost.
_orjson_dumps = orjson.dumps
_ENCODE_ERRORS: tuple[type[Exception], ...] = (TypeError, orjson.JSONEncodeError)


def _fast(value: Any) -> str:
    return _orjson_dumps(value, default=str).decode()


# What SQLite stores: signed 64-bit integers, finite floats (a NaN reads back as NULL, an infinity
# breaks every sum), text that is valid UTF-8.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite's INTEGER holds


def in_64_bits(value: int | None) -> int | None:
    """``value`` when SQLite's INTEGER holds it, else None."""
    return value if value is not None and INT64_MIN <= value <= INT64_MAX else None


def _clean(value: Any) -> tuple[Any, bool]:
    """``value`` with lone surrogates replaced by U+FFFD, and whether any was. A non-finite float
    becomes null, as the fast encoder writes it; integers beyond 64 bits stay (JSON text holds them)."""
    if isinstance(value, str):
        return (value, False) if is_valid_unicode(value) else (valid_unicode(value), True)
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (None, False)
    if isinstance(value, Mapping):
        out, changed = {}, False
        for key, item in value.items():
            clean_key, key_changed = _clean(key) if isinstance(key, str) else (key, False)
            out[clean_key], item_changed = _clean(item)
            changed = changed or key_changed or item_changed
        return out, changed
    if isinstance(value, (list, tuple)):
        items = [_clean(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


def _encode(value: Any) -> str:
    try:
        return _fast(value)
    except _ENCODE_ERRORS:  # an integer beyond 64 bits, once cleaned
        return _json_dumps(value)


def _dumps(value: Any) -> str:
    """JSON text of ``value`` that SQLite can store."""
    return _checked(value, "")[0]


def _checked(value: Any, what: str) -> tuple[str, list[str], Any]:
    """JSON text of ``value``, the keys that had to be cleaned (``what`` for a list), and the value
    as encoded (``value`` itself when nothing was cleaned)."""
    try:
        text = _fast(value)
    except _ENCODE_ERRORS:
        text = None
    # The fast encoder refuses lone surrogates (and integers beyond 64 bits): look closer only then.
    # It writes a non-finite float as null; so does the cleaning, without a word: only where such a
    # value would have been a column (cost, tokens) is it listed, as looking for one in every span
    # cost a tenth of the conversion.
    if text is not None:
        return text, [], value
    changed: list[str] = []
    if isinstance(value, Mapping):
        clean = {}
        for key, item in value.items():
            clean_key, key_changed = _clean(key) if isinstance(key, str) else (key, False)
            clean[clean_key], item_changed = _clean(item)
            if key_changed or item_changed:
                changed.append(str(clean_key))
    else:
        clean, was_changed = _clean(value)
        if was_changed:
            changed.append(what)
    return _encode(clean), changed, clean


_EMPTY_LIST = "[]"
# Spans of one process share a few Resource objects: encode each once (keyed by identity,
# holding the object so its id cannot be reused).
_resource_json: dict[int, tuple[Any, tuple[str, list[str], Any]]] = {}


def _resource_text(resource: Any, attributes: Mapping[str, Any]) -> tuple[str, list[str], Any]:
    if resource is None:
        return _checked(dict(attributes), "")
    cached = _resource_json.get(id(resource))
    if cached is not None and cached[0] is resource:
        return cached[1]
    checked = _checked(dict(attributes), "")
    if len(_resource_json) > 64:
        _resource_json.clear()
    _resource_json[id(resource)] = (resource, checked)
    return checked


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return None
    return in_64_bits(number)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(value: int | None, what: str, changed: list[str]) -> int | None:
    if value is None or INT64_MIN <= value <= INT64_MAX:
        return value
    changed.append(what)
    return max(0, min(value, INT64_MAX))


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
    """The rows for one span given as plain parts (ids as lowercase hex, times in ns).

    A value SQLite cannot store (see ``traceglass.sanitized``) is cleaned or dropped on its own;
    the span is stored with the keys concerned listed under that attribute.
    """
    # One copy into a plain dict: every lookup below is then a C call (an SDK span's attributes are
    # a Python mapping with a lock), and the copy is what gets encoded.
    attrs_text, changed, attrs = _checked(attributes if type(attributes) is dict else dict(attributes), "")
    events_text, events_changed, _ = _checked(list(events), "span.events") if events else (_EMPTY_LIST, (), None)
    links_text, links_changed, _ = _checked(list(links), "span.links") if links else (_EMPTY_LIST, (), None)
    resource_text, resource_changed, res = _resource_text(_resource_obj, {} if resource is None else resource)
    if events_changed or links_changed or resource_changed:
        changed = [*changed, *events_changed, *links_changed, *(f"span.resource.{key}" for key in resource_changed)]
    if not is_valid_unicode(name):
        name = valid_unicode(name)
        changed.append("span.name")
    if status_message is not None and not is_valid_unicode(status_message):
        status_message = valid_unicode(status_message)
        changed.append("span.status_message")
    duration = None
    if end_ns is not None:
        if not INT64_MIN <= start_ns <= INT64_MAX or not INT64_MIN <= end_ns <= INT64_MAX:
            start_ns, end_ns = _time(start_ns, "span.start_time", changed), _time(end_ns, "span.end_time", changed)
        duration = in_64_bits(end_ns - start_ns)
    elif not INT64_MIN <= start_ns <= INT64_MAX:
        start_ns = _time(start_ns, "span.start_time", changed)
    operation = _str(attrs.get(semconv.GEN_AI_OPERATION_NAME))
    span_type = _str(attrs.get(semconv.SPAN_TYPE)) or TYPE_FOR_OPERATION.get(operation or "")
    # Model, provider and tokens as the cost processor read them, from whichever dialect the span speaks.
    usage = read_span_usage(attrs)
    if usage is None:
        model, provider = read_span_model(attrs)
        input_tokens = output_tokens = total = None
    else:
        model, provider, input_tokens, output_tokens = usage.model, usage.provider, usage.input_tokens, usage.output_tokens
        if input_tokens is None or output_tokens is None:
            for key, tokens in ((usage.input_key, input_tokens), (usage.output_key, output_tokens)):
                if tokens is None and key is not None and _numeric(attrs[key]) and _int(attrs[key]) is None:
                    changed.append(key)  # beyond SQLite's 64 bits, or not finite
        total = None if input_tokens is None and output_tokens is None else in_64_bits(
            (input_tokens or 0) + (output_tokens or 0))
    cost = None
    for key in COST_KEYS:
        value = attrs.get(key)
        cost = _float(value)
        if cost is not None:
            break
        if value is not None and _numeric(value):
            changed.append(key)  # not finite
    span = (
        trace_id, span_id, parent_id, name, kind, span_type, _str(res.get(semconv.SERVICE_NAME)),
        start_ns, end_ns, duration, status, status_message,
        _str(attrs.get(semconv.ERROR_TYPE)),
        model, provider, operation,
        input_tokens, output_tokens, total, cost,
        _str(attrs.get(semconv.SESSION_ID)), _str(attrs.get(semconv.USER_ID)),
    )
    if changed:
        # Say so on the span: which values are not what the application set.
        attrs = dict(attrs)
        before = attrs.get(semconv.SANITIZED)
        known = [str(k) for k in before] if isinstance(before, (list, tuple)) else []
        attrs[semconv.SANITIZED] = list(dict.fromkeys(known + changed))
        attrs_text = _encode(attrs)
    return SpanRow(trace_id, span, (attrs_text, events_text, links_text, resource_text))


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def row_from_span(span: Any) -> SpanRow:
    """The rows for one finished SDK span (``opentelemetry.sdk.trace.ReadableSpan``)."""
    context = span.context
    parent = span.parent
    events, links = span_events(span), span_links(span)
    events = [
        {"name": e.name, "time_unix_nano": e.timestamp, "attributes": dict(frozen_attributes(e))}
        for e in events
    ] if events else ()
    links = [
        {"trace_id": format(link.context.trace_id, "032x"), "span_id": format(link.context.span_id, "016x"),
         "attributes": dict(frozen_attributes(link))}
        for link in links
    ] if links else ()
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
        attributes=dict(frozen_attributes(span)),
        events=events,
        links=links,
        resource=span.resource.attributes if span.resource is not None else {},
        _resource_obj=span.resource,
    )
