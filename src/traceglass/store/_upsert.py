"""Validate a plain dict (the REST API's POST body) into span parts for :meth:`TraceStore.upsert_span`."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from traceglass import semconv

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
KINDS = ("INTERNAL", "CLIENT", "SERVER", "PRODUCER", "CONSUMER")
STATUSES = ("UNSET", "OK", "ERROR")
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
_FIELDS = {"trace_id", "span_id", "parent_id", "name", "kind", "start", "end", "start_ns", "end_ns", "status",
           "status_message", "attributes", "events", "links", "resource", "project", *_ATTRIBUTE_FIELDS}
_PRIMITIVES = (str, int, float, bool)


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def _time_ns(value: Any, field: str, problems: list[str]) -> int | None:
    from traceglass.store._time import to_ns

    if value is None:
        return None
    if field.endswith("_ns"):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        problems.append(f"{field} must be a non-negative integer (Unix time in ns), got {value!r}")
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*[smhdw]?\s*", value):
        problems.append(f"{field} must be an ISO 8601 time or epoch seconds, got {value!r}")
        return None
    try:
        return to_ns(value)
    except (TypeError, ValueError):
        problems.append(f"{field} must be an ISO 8601 time, a datetime or epoch seconds, got {value!r}")
        return None


def _valid_attribute(value: Any) -> bool:
    if isinstance(value, _PRIMITIVES):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, _PRIMITIVES) for v in value)


def parts_from_dict(body: Mapping[str, Any], existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """Span parts (``row_from_parts`` keywords) for ``body``, merged over ``existing`` parts.

    Raises ValueError naming every problem at once.
    """
    if not isinstance(body, Mapping):
        raise ValueError(f"a span must be a JSON object, got {type(body).__name__}")
    problems: list[str] = []
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
    given = body.get("attributes", {})
    if not isinstance(given, Mapping):
        problems.append(f"attributes must be an object, got {type(given).__name__}")
        given = {}
    for key, value in given.items():
        if not isinstance(key, str) or not _valid_attribute(value):
            problems.append(f"attribute {key!r} must map a string to a string, number, bool or a list of them")
        else:
            attributes[key] = list(value) if isinstance(value, tuple) else value
    for field, key in _ATTRIBUTE_FIELDS.items():
        if field not in body or body[field] is None:
            continue
        value = body[field]
        if field in ("input_tokens", "output_tokens") and (not isinstance(value, int) or isinstance(value, bool)
                                                            or value < 0):
            problems.append(f"{field} must be a non-negative integer, got {value!r}")
        elif field == "cost_usd" and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            problems.append(f"cost_usd must be a non-negative number, got {value!r}")
        elif field in ("input", "output"):
            attributes[key] = value if isinstance(value, str) else json.dumps(value, default=str)
        else:
            attributes[key] = value
    parts["attributes"] = attributes

    resource = dict(parts["resource"])
    if "resource" in body:
        if not isinstance(body["resource"], Mapping):
            problems.append("resource must be an object")
        else:
            resource.update(body["resource"])
    if body.get("project") is not None:
        resource[semconv.SERVICE_NAME] = str(body["project"])
    parts["resource"] = resource

    events = list(parts["events"])
    for i, event in enumerate(body.get("events") or []):
        if not isinstance(event, Mapping) or not isinstance(event.get("name"), str):
            problems.append(f"events[{i}] must be an object with a string name")
            continue
        stamp = event.get("time_unix_nano", event.get("timestamp"))
        events.append({"name": event["name"],
                       "time_unix_nano": _time_ns(stamp, "events[].timestamp", problems) or parts["start_ns"],
                       "attributes": dict(event.get("attributes") or {})})
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
