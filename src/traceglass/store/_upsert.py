"""Validate a plain dict (the REST API's POST body) into span parts for :meth:`TraceStore.upsert_span`.

Also the limits every ingest path shares (the REST API here, the OTLP receiver in ``traceglass.server``):
what the store can hold and every reader can render, so one bad value is refused (or, over OTLP, dropped)
before it is written rather than breaking the trace page and the statistics afterwards.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from traceglass import semconv
from traceglass._unicode import is_valid_unicode
from traceglass.store._rows import COST_KEYS

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
KINDS = ("INTERNAL", "CLIENT", "SERVER", "PRODUCER", "CONSUMER")
STATUSES = ("UNSET", "OK", "ERROR")
# SQLite integers are signed 64-bit: the latest storable time is 2262-04-11 (in ns since 1970).
MAX_NS = 2**63 - 1
_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1
# Far above any real call, far below what sums over millions of spans need to overflow 64 bits.
MAX_TOKENS = 10**12
MAX_USD = 1e12
# Attributes the store reads into columns and sums (tokens, cost), and the per-token prices the
# cost processor multiplies tokens by: each must be a number within its limit.
TOKEN_KEYS = frozenset({
    semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS, semconv.GEN_AI_USAGE_PROMPT_TOKENS,
    semconv.GEN_AI_USAGE_COMPLETION_TOKENS, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, semconv.OPENLLMETRY_CACHE_READ_INPUT_TOKENS,
    semconv.OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS, semconv.OPENINFERENCE_PROMPT_TOKENS,
    semconv.OPENINFERENCE_COMPLETION_TOKENS, semconv.OPENINFERENCE_CACHE_READ_TOKENS,
    semconv.OPENINFERENCE_CACHE_WRITE_TOKENS, semconv.ROLLUP_INPUT_TOKENS, semconv.ROLLUP_OUTPUT_TOKENS,
    semconv.ROLLUP_TOTAL_TOKENS,
})
USD_KEYS = frozenset({*COST_KEYS, semconv.COST_INPUT, semconv.COST_OUTPUT, semconv.COST_CACHED_INPUT,
                      semconv.ROLLUP_COST, semconv.PRICE_INPUT_PER_TOKEN, semconv.PRICE_OUTPUT_PER_TOKEN})
# Convenience fields folded into attributes under their semconv names.
_ATTRIBUTE_FIELDS = {
    "type": semconv.SPAN_TYPE,
    "model": semconv.GEN_AI_REQUEST_MODEL,
    "provider": semconv.GEN_AI_PROVIDER_NAME,
    "operation": semconv.GEN_AI_OPERATION_NAME,
    "input_tokens": semconv.GEN_AI_USAGE_INPUT_TOKENS,
    "output_tokens": semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    "cost_usd": semconv.COST_TOTAL,
    "session": semconv.SESSION_ID,
    "user": semconv.USER_ID,
    "error_type": semconv.ERROR_TYPE,
    "input": semconv.INPUT_VALUE,
    "output": semconv.OUTPUT_VALUE,
}
_STRING_FIELDS = ("type", "model", "provider", "operation", "session", "user", "error_type", "project",
                  "status_message")
_FIELDS = {"trace_id", "span_id", "parent_id", "name", "kind", "start", "end", "start_ns", "end_ns", "status",
           "status_message", "attributes", "events", "links", "resource", "project", *_ATTRIBUTE_FIELDS}
_PRIMITIVES = (str, int, float, bool)


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def value_problem(value: Any, where: str = "value") -> str | None:
    """What makes a JSON-like ``value`` unstorable, anywhere inside it, or None (``where``: its name).

    Refused: non-finite floats (JSON cannot carry them back out), integers beyond 64 bits (SQLite
    cannot hold them) and strings with lone surrogates (not encodable as UTF-8).
    """
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not is_valid_unicode(item):
                return f"{path} is not valid Unicode (it holds a lone surrogate)"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not _MIN_INT <= item <= _MAX_INT:
                return f"{path} must fit in 64 bits, got {item}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{path} must be a finite number, got {item!r}"
        elif isinstance(item, Mapping):
            for key, child in item.items():
                shown = repr(key) if isinstance(key, str) and is_valid_unicode(key) else "a key"
                stack.append((f"{path}[{shown}]", child))
                if isinstance(key, str) and not is_valid_unicode(key):
                    return f"a key in {path} is not valid Unicode (it holds a lone surrogate)"
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def usage_problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot stand under ``key`` when the key holds tokens, a cost or a price, else None."""
    if key in TOKEN_KEYS:
        limit, what = MAX_TOKENS, "a token count"
    elif key in USD_KEYS:
        limit, what = MAX_USD, "an amount in USD"
    else:
        return None
    number = value
    if isinstance(value, str):  # the store reads numeric text too
        try:
            number = float(value)
        except ValueError:
            return None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None  # not a number: the store and the cost processor ignore it
    if not 0 <= number <= limit:  # NaN fails this too
        return f"attribute {key!r} must be {what} between 0 and {limit:g}, got {value!r}"
    return None


def _time_ns(value: Any, field: str, problems: list[str]) -> int | None:
    from traceglass.store._time import to_ns

    if value is None:
        return None
    if field.endswith("_ns") or field.endswith("time_unix_nano"):
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_NS:
            return value
        problems.append(f"{field} must be an integer from 0 to {MAX_NS} (Unix time in ns), got {value!r}")
        return None
    if isinstance(value, bool) or (isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*[smhdw]?\s*", value)):
        problems.append(f"{field} must be an ISO 8601 time or epoch seconds, got {value!r}")
        return None
    try:
        ns = to_ns(value)
    except (TypeError, ValueError, OverflowError):
        problems.append(f"{field} must be an ISO 8601 time, a datetime or epoch seconds, got {value!r}")
        return None
    if ns is None or not 0 <= ns <= MAX_NS:
        problems.append(f"{field} must be between 1970 and 2262, got {value!r}")
        return None
    return ns


def _valid_attribute(value: Any) -> bool:
    if isinstance(value, _PRIMITIVES):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, _PRIMITIVES) for v in value)


def _attributes(given: Any, field: str, problems: list[str]) -> dict[str, Any]:
    """``given`` as span attributes (a string to a primitive or a list of them), each problem named."""
    if not isinstance(given, Mapping):
        problems.append(f"{field} must be an object, got {type(given).__name__}")
        return {}
    out: dict[str, Any] = {}
    for key, value in given.items():
        if not isinstance(key, str) or not _valid_attribute(value):
            problems.append(f"{'attribute' if field == 'attributes' else field + ' attribute'} {key!r} must map "
                            "a string to a string, number, bool or a list of them")
            continue
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _unstorable(body: Mapping[str, Any]) -> list[str]:
    problems = []
    for field, value in body.items():
        if not isinstance(field, str) or not is_valid_unicode(field):
            problems.append("a field name is not valid Unicode (it holds a lone surrogate)")
            continue
        problem = value_problem(value, field)
        if problem is not None:
            problems.append(problem)
    return problems


def parts_from_dict(body: Mapping[str, Any], existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """Span parts (``row_from_parts`` keywords) for ``body``, merged over ``existing`` parts.

    Raises ValueError naming every problem at once.
    """
    if not isinstance(body, Mapping):
        raise ValueError(f"a span must be a JSON object, got {type(body).__name__}")
    problems: list[str] = _unstorable(body)
    if problems:  # the checks below may then assume finite numbers, 64-bit integers and valid text
        raise ValueError("invalid span: " + "; ".join(problems))
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        problems.append(f"unknown field(s) {unknown}; known: {sorted(_FIELDS)}")
    for field, pattern, size in (("trace_id", _HEX32, 32), ("span_id", _HEX16, 16), ("parent_id", _HEX16, 16)):
        value = body.get(field)
        if value is not None and not (isinstance(value, str) and pattern.fullmatch(value.lower())):
            problems.append(f"{field} must be {size} hex digits, got {value!r}")
    parts: dict[str, Any] = dict(existing) if existing else {
        "parent_id": None, "kind": "INTERNAL", "end_ns": None, "status": "UNSET", "status_message": None,
        "attributes": {}, "events": [], "links": [], "resource": {},
    }
    for field in ("trace_id", "span_id", "parent_id"):
        if field in body and not any(p.startswith(field) for p in problems):
            parts[field] = body[field].lower() if body[field] is not None else None
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            problems.append(f"name must be a non-empty string, got {body['name']!r}")
        else:
            parts["name"] = body["name"]
    elif existing is None:
        problems.append("name is required for a new span")
    for field in _STRING_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], str):
            problems.append(f"{field} must be a string, got {body[field]!r}")
    if "kind" in body:
        kind = str(body["kind"]).upper()
        if kind not in KINDS:
            problems.append(f"kind must be one of {list(KINDS)}, got {body['kind']!r}")
        parts["kind"] = kind
    if "status" in body:
        status = str(body["status"]).upper()
        if status not in STATUSES:
            problems.append(f"status must be one of {list(STATUSES)}, got {body['status']!r}")
        parts["status"] = status
    if "status_message" in body:
        parts["status_message"] = None if body["status_message"] is None else str(body["status_message"])
    for field, target in (("start", "start_ns"), ("start_ns", "start_ns"), ("end", "end_ns"), ("end_ns", "end_ns")):
        if field in body:
            parts[target] = _time_ns(body[field], field, problems)
    if "start_ns" not in parts or parts["start_ns"] is None:
        parts["start_ns"] = time.time_ns()
    if parts.get("end_ns") is not None and parts["end_ns"] < parts["start_ns"]:
        problems.append("end is before start")

    attributes = dict(parts["attributes"])
    attributes.update(_attributes(body.get("attributes", {}), "attributes", problems))
    for field, key in _ATTRIBUTE_FIELDS.items():
        if field not in body or body[field] is None:
            continue
        value = body[field]
        if field in ("input_tokens", "output_tokens") and (not isinstance(value, int) or isinstance(value, bool)
                                                            or value < 0):
            problems.append(f"{field} must be a non-negative integer, got {value!r}")
        elif field == "cost_usd" and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            problems.append(f"cost_usd must be a non-negative number, got {value!r}")
        elif field in ("input_tokens", "output_tokens", "cost_usd") and value > (
                MAX_USD if field == "cost_usd" else MAX_TOKENS):
            problems.append(f"{field} must be at most {MAX_USD if field == 'cost_usd' else MAX_TOKENS:g}, "
                            f"got {value!r}")
        elif field in ("input", "output"):
            attributes[key] = value if isinstance(value, str) else json.dumps(value, default=str)
        else:
            attributes[key] = value
    for key in ({*body.get("attributes", {})} if isinstance(body.get("attributes"), Mapping) else ()):
        problem = usage_problem(key, attributes.get(key))
        if problem is not None:
            problems.append(problem)
    parts["attributes"] = attributes

    resource = dict(parts["resource"])
    if "resource" in body:
        resource.update(_attributes(body["resource"], "resource", problems))
    if body.get("project") is not None:
        resource[semconv.SERVICE_NAME] = str(body["project"])
    parts["resource"] = resource

    events = list(parts["events"])
    given_events = body.get("events")
    if given_events is not None and not isinstance(given_events, list):
        problems.append(f"events must be a list of objects, got {type(given_events).__name__}")
        given_events = []
    for i, event in enumerate(given_events or []):
        if not isinstance(event, Mapping) or not isinstance(event.get("name"), str):
            problems.append(f"events[{i}] must be an object with a string name")
            continue
        if event.get("time_unix_nano") is not None:
            stamp = _time_ns(event["time_unix_nano"], f"events[{i}].time_unix_nano", problems)
        else:
            stamp = _time_ns(event.get("timestamp"), f"events[{i}].timestamp", problems)
        events.append({"name": event["name"], "time_unix_nano": stamp or parts["start_ns"],
                       "attributes": _attributes(event.get("attributes") or {}, f"events[{i}].attributes", problems)})
    parts["events"] = events
    if "links" in body:
        links = body["links"]
        if not isinstance(links, list) or not all(isinstance(link, Mapping) for link in links):
            problems.append("links must be a list of objects")
        else:
            parts["links"] = [dict(link) for link in links]
    if problems:
        raise ValueError("invalid span: " + "; ".join(problems))
    parts.setdefault("trace_id", new_trace_id())
    parts.setdefault("span_id", new_span_id())
    return parts
