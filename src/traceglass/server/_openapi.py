"""The OpenAPI 3.1 description of the server, written by hand next to the handlers it documents.

The tests call every path and method listed here and check the answers against these schemas.
"""

from __future__ import annotations

from typing import Any

from traceglass import _scores
from traceglass._version import __version__
from traceglass.server import _replay
from traceglass.server._rest import DEFAULT_LIMIT, MAX_LIMIT
from traceglass.store import TraceFilter, TraceStore
from traceglass.store._upsert import MAX_NS, MAX_TOKENS, MAX_USD


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("Error"), "What is wrong, in words")
_INVALID = _json(_ref("Invalid"), "Every problem of the request, by field")
_TRACE_ID_PATTERN = "^[0-9a-fA-F]{32}$"
# The trace filters' query parameters, from the store's one definition of them.
LIMIT, CURSOR = TraceFilter.page_specs()
_FILTERS = {spec.name: spec for spec in TraceFilter.specs()}
_TIME_DOC = _FILTERS["since"].doc
_KIND_SCHEMA = {"text": "string", "time": "string", "number": "number", "integer": "integer"}
_SUMMARY_PROPERTIES: dict[str, Any] = {
    "trace_id": {"type": "string"}, "name": _nullable("string"), "project": _nullable("string"),
    "type": _nullable("string"), "models": {"type": "array", "items": {"type": "string"}},
    "start_ns": {"type": "integer"}, "end_ns": _nullable("integer"), "latency_ms": _nullable("number"),
    "status": {"type": "string"}, "span_count": {"type": "integer"}, "error_count": {"type": "integer"},
    "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"},
    "cost_usd": _nullable("number"), "session": _nullable("string"), "user": _nullable("string"),
    "scores": _ref("ScoreSummary"),
}
_SPAN_PROPERTIES: dict[str, Any] = {
    "trace_id": {"type": "string"}, "span_id": {"type": "string"}, "parent_id": _nullable("string"),
    "name": {"type": "string"}, "type": _nullable("string"), "kind": _nullable("string"),
    "project": _nullable("string"), "start_ns": {"type": "integer"}, "end_ns": _nullable("integer"),
    "duration_ms": _nullable("number"), "status": {"type": "string"}, "status_message": _nullable("string"),
    "error_type": _nullable("string"), "model": _nullable("string"), "provider": _nullable("string"),
    "operation": _nullable("string"), "input_tokens": _nullable("integer"), "output_tokens": _nullable("integer"),
    "total_tokens": _nullable("integer"), "cost_usd": _nullable("number"), "usage_superseded": {"type": "boolean"},
    "session": _nullable("string"), "user": _nullable("string"), "attributes": {"type": "object"},
    "events": {"type": "array", "items": {"type": "object"}}, "links": {"type": "array", "items": {"type": "object"}},
    "resource": {"type": "object"}, "scores": {"type": "array", "items": _ref("Score")},
}
_STATS_PROPERTIES: dict[str, Any] = {
    "key": _nullable("string"), "calls": {"type": "integer"}, "errors": {"type": "integer"},
    "error_rate": {"type": "number"}, "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"},
    "total_tokens": {"type": "integer"}, "cost_usd": _nullable("number"), "p50_ms": _nullable("number"),
    "p95_ms": _nullable("number"), "scores": _ref("ScoreSummary"),
}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": list(properties)}
    if description:
        out["description"] = description
    return out


_ALERT_EVENT: dict[str, Any] = {
    "id": {"type": "integer"}, "rule": {"type": "string"}, "state": {"enum": ["firing", "resolved"]},
    "metric": {"type": "string"}, "value": _nullable("number"), "threshold": {"type": "number"},
    "condition": {"enum": ["above", "below"]}, "window": {"type": "string"},
    "severity": {"enum": ["info", "warning", "critical"]},
    "group": {"type": "object", "additionalProperties": {"type": "string"}}, "calls": {"type": "integer"},
    "trace_id": _nullable("string"), "at": {"type": "string"}, "link": {"type": "string"},
    "message": {"type": "string"}, "description": _nullable("string"),
    "delivery": {"enum": ["pending", "delivered", "undelivered", "suppressed", "none"]},
    "attempts": {"type": "integer"},
}

_SUMMARY_STATS = {"type": "object", "additionalProperties": _object({
    "mean": _nullable("number"), "pass_rate": _nullable("number"), "count": {"type": "integer"},
    "errors": {"type": "integer"}, "no_score": {"type": "integer"}})}
_EVAL_RUN: dict[str, Any] = {
    "id": {"type": "string"}, "created_at": {"type": "string"}, "finished_at": _nullable("string"),
    "status": {"type": "string"}, "item_count": {"type": "integer"}, "judge_cost_usd": _nullable("number"),
    "scorers": {"type": "array", "items": {"type": "string"}}, "filters": {"type": "object"},
    "dataset": {"type": ["object", "null"]}, "summary": _SUMMARY_STATS,
}
_EVAL_ITEM: dict[str, Any] = {
    "input": {}, "output": {}, "expected_output": {}, "context": {"type": "array", "items": {"type": "string"}},
    "metadata": {"type": "object"}, "trace_id": _nullable("string"), "span_id": _nullable("string"),
}
_EVAL_RESULT: dict[str, Any] = {
    "position": {"type": "integer"}, "scorer": {"type": "string"}, "trace_id": _nullable("string"),
    "span_id": _nullable("string"), "value": _nullable("number"), "label": _nullable("string"),
    "explanation": _nullable("string"), "error": _nullable("string"), "score_id": _nullable("string"),
    "item": _ref("EvalItem"),
}
_DATASET: dict[str, Any] = {
    "name": {"type": "string"}, "version": {"type": "integer"}, "item_count": {"type": "integer"},
    "created_at": _nullable("string"), "metadata": {"type": "object"},
}

_TIME_POINT: dict[str, Any] = {
    "start": {"type": "string", "format": "date-time", "description": "the bucket's start (UTC)"},
    "start_ns": {"type": "integer"}, "calls": {"type": "integer"}, "errors": {"type": "integer"},
    "error_rate": {**_nullable("number"), "description": "null without calls"},
    "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"},
    "cost_usd": {**_nullable("number"), "description": "null when no call had a cost"},
    "p50_ms": _nullable("number"), "p95_ms": _nullable("number"),
}
_SCORE_POINT: dict[str, Any] = {
    "start": {"type": "string", "format": "date-time"}, "start_ns": {"type": "integer"},
    "mean": {**_nullable("number"), "description": "null: no score of this name in the bucket"},
    "count": {"type": "integer"},
}


def _time_series(point: dict[str, Any], key: str, description: str) -> dict[str, Any]:
    return _object({
        "kind": {"enum": ["calls", "scores"]}, "bucket": {"enum": list(TraceStore.TIMESERIES_BUCKETS)},
        "group_by": {"type": ["string", "null"]},
        "buckets": {"type": "array", "items": {"type": "string", "format": "date-time"},
                    "description": "every bucket of the range, oldest first (UTC)"},
        "buckets_ns": {"type": "array", "items": {"type": "integer"}},
        "series": {"type": "array", "description": "largest first; each has one point per bucket",
                   "items": _object({"key": {**_nullable("string"), "description": key},
                                     "points": {"type": "array", "items": _object(point)}})},
    }, description)


_SEEN: dict[str, Any] = {
    "first_seen_ns": {"type": "integer", "description": "the start of the earliest trace"},
    "last_seen_ns": {"type": "integer", "description": "the start of the latest trace"},
    "errors": {"type": "integer", "description": "traces whose status is ERROR"},
    "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"},
    "cost_usd": _nullable("number"), "scores": _ref("ScoreSummary"),
}
_SESSION: dict[str, Any] = {
    "session_id": {"type": "string"}, "turn_count": {"type": "integer", "description": "traces (turns)"},
    "users": {"type": "array", "items": {"type": "string"}}, **_SEEN,
}
_TURN: dict[str, Any] = {
    "trace_id": {"type": "string"}, "name": _nullable("string"), "start_ns": {"type": "integer"},
    "end_ns": _nullable("integer"), "latency_ms": _nullable("number"), "status": {"type": "string"},
    "user": _nullable("string"),
    "input": {**_nullable("string"), "description": "what the user sent: the root span's input (the user message "
                                                   "of a chat-shaped one), else the first model call's last user "
                                                   "message"},
    "output": {**_nullable("string"), "description": "the answer: the root span's output, else the last model "
                                                    "call's answer"},
    "span_count": {"type": "integer"}, "error_count": {"type": "integer"}, "input_tokens": {"type": "integer"},
    "output_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}, "cost_usd": _nullable("number"),
    "scores": _ref("ScoreSummary"),
}

SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": {"type": "string"}}),
    "SessionSummary": _object(_SESSION, "One session: the traces sharing a session.id"),
    "SessionPage": _object({"sessions": {"type": "array", "items": _ref("SessionSummary")},
                            "next_cursor": _nullable("string")}),
    "Session": _object({**_SESSION, "turns": {"type": "array", "items": _object(_TURN, "One turn (a trace)")}},
                       "A session with its turns oldest first"),
    "UserSummary": _object({"user_id": {"type": "string"}, "calls": {"type": "integer", "description": "traces"},
                            "sessions": {"type": "integer"}, **_SEEN}, "One user: the traces sharing a user.id"),
    "UserPage": _object({"users": {"type": "array", "items": _ref("UserSummary")}, "next_cursor": _nullable("string")}),
    "TimeSeries": _time_series(_TIME_POINT, "the model family or project (null: every call, or no project)",
                               "The model calls per bucket: counts, tokens, cost (each call once) and "
                               "nearest-rank latency percentiles"),
    "ScoreTimeSeries": _time_series(_SCORE_POINT, "the score name",
                                    "Per score name: the mean and count of its numeric scores per bucket"),
    "AlertEvent": _object(_ALERT_EVENT, "One alert event: a rule's group started firing or resolved"),
    "Alerts": _object({
        "rules": {"type": "array", "items": {"type": "object"},
                  "description": "The rules the server evaluates (traceglass ui --alerts FILE); empty without"},
        "firing": {"type": "array", "items": _object({**_ALERT_EVENT, "since_ns": {"type": "integer"}}),
                   "description": "What fires now (a per-trace alert: for an hour after it fired)"},
        "history": {"type": "array", "items": _ref("AlertEvent"), "description": "Alert events, newest first"},
    }),
    "EvalRun": _object(_EVAL_RUN, "A stored evaluation run (summary: per scorer)"),
    "EvalRunDetail": _object({**_EVAL_RUN, "results": {"type": "array", "items": _object(_EVAL_RESULT)}},
                             "A run with every (item, scorer) result, in item order"),
    "EvalRuns": _object({"runs": {"type": "array", "items": _ref("EvalRun")}}),
    "Dataset": _object(_DATASET, "One saved version of a dataset"),
    "Datasets": _object({"datasets": {"type": "array", "items": _ref("Dataset")}}),
    "DatasetItemInput": {
        "type": "object", "additionalProperties": False, "required": ["trace_id"],
        "properties": {
            "trace_id": {"type": "string", "maxLength": 64, "description": "The stored trace to add"},
            "span_id": {"type": ["string", "null"], "maxLength": 64,
                        "description": "Add this span's item (default: the span answer= picks)"},
            "answer": {"enum": ["last", "root", "all"], "description":
                       "Which span answers for the trace, as TraceBridge.to_dataset takes it; by default the "
                       "last model call, or the trace's root when it made none"},
        },
    },
    "DatasetAdded": _object({"dataset": _ref("Dataset"), "added": {"type": "integer", "minimum": 0}}),
    "DatasetDetail": _object({**_DATASET, "versions": {"type": "array", "items": _ref("Dataset")},
                              "items": {"type": "array", "items": _ref("EvalItem")}},
                             "A dataset version with its items, and every version of the name (newest first)"),
    "EvalItem": _object(_EVAL_ITEM, "One item: what was asked, what came back, where it came from"),
    "TraceSummary": _object({**_SUMMARY_PROPERTIES,
                             "input_preview": _nullable("string"), "output_preview": _nullable("string")},
                            "One row of the trace list; the previews are one short line from the root "
                            "span's input and output (null when it recorded none)"),
    "TracePage": _object({"traces": {"type": "array", "items": _ref("TraceSummary")},
                          "next_cursor": _nullable("string")}),
    "Span": _object({**_SPAN_PROPERTIES, "children": {"type": "array", "items": _ref("Span")}},
                    "A span with its children (ordered by start time)"),
    "Trace": _object({**_SUMMARY_PROPERTIES, "spans": {"type": "array", "items": _ref("Span")},
                      "scores": {"type": "array", "items": _ref("Score")}},
                     "A trace and its span tree (spans: the root, plus any orphaned subtrees), and every score "
                     "of the trace (trace- and span-level; each span lists its own)"),
    "SpanInput": {
        "type": "object", "additionalProperties": False, "required": ["name"],
        "description": "One span to create, or to update when trace_id and span_id name a stored span "
                       "(attributes and resource merged, events appended). Missing ids are generated.",
        "properties": {
            "trace_id": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"},
            "span_id": {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"},
            "parent_id": {"type": ["string", "null"], "pattern": "^[0-9a-fA-F]{16}$"},
            "name": {"type": "string", "minLength": 1},
            "kind": {"enum": ["INTERNAL", "CLIENT", "SERVER", "PRODUCER", "CONSUMER"]},
            "status": {"enum": ["UNSET", "OK", "ERROR"]}, "status_message": _nullable("string"),
            "start": {"type": ["string", "number"]}, "end": {"type": ["string", "number"]},
            "start_ns": {"type": "integer", "minimum": 0, "maximum": MAX_NS},
            "end_ns": {"type": "integer", "minimum": 0, "maximum": MAX_NS},
            "attributes": {"type": "object"}, "events": {"type": "array", "items": {"type": "object"}},
            "links": {"type": "array", "items": {"type": "object"}}, "resource": {"type": "object"},
            "project": {"type": "string"}, "type": {"type": "string"}, "model": {"type": "string"},
            "provider": {"type": "string"}, "operation": {"type": "string"},
            "input_tokens": {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS},
            "output_tokens": {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS},
            "cost_usd": {"type": "number", "minimum": 0, "maximum": MAX_USD},
            "session": {"type": "string"}, "user": {"type": "string"},
            "error_type": {"type": "string"}, "input": {}, "output": {},
        },
    },
    "SpanWritten": _object({"span": _object(_SPAN_PROPERTIES)}),
    "StatsRow": _object(_STATS_PROPERTIES),
    "Invalid": _object({"error": {"type": "string"},
                        "problems": {"type": "array", "items": _object({"field": {"type": "string"},
                                                                         "message": {"type": "string"}})}},
                       "A request refused for its content (422): every problem at once"),
    "Score": _object({
        "id": {"type": "string"}, "name": {"type": "string"},
        "value": {**_nullable("number"), "description": "numeric and boolean (1.0/0.0) scores; null for a label"},
        "label": {**_nullable("string"), "description": "a categorical score's value; \"true\"/\"false\" "
                                                        "for a boolean one"},
        "data_type": {"enum": list(_scores.DATA_TYPES)}, "trace_id": {"type": "string"},
        "span_id": _nullable("string"), "comment": _nullable("string"), "source": {"enum": list(_scores.SOURCES)},
        "user_id": _nullable("string"), "created_at": {"type": "string", "format": "date-time"},
        "metadata": {"type": "object"},
    }, "One score of a trace (span_id null) or of one of its spans"),
    "ScoreSummary": {"type": "object", "description": "Per score name: the mean of its values (null for "
                                                      "labels only), how many scores, and the count of each label",
                     "additionalProperties": _object({"mean": _nullable("number"), "count": {"type": "integer"},
                                                      "labels": {"type": "object",
                                                                 "additionalProperties": {"type": "integer"}}})},
    "ScorePage": _object({"scores": {"type": "array", "items": _ref("Score")}, "next_cursor": _nullable("string")}),
    "ScoreInput": {
        "type": "object", "additionalProperties": False, "required": ["name", "value"],
        "description": "A score to add, or to update when id names a stored score. A name holds one data type: "
                       "a value of another type than the name's stored scores is refused.",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": _scores.MAX_NAME_LENGTH},
            "value": {"type": ["number", "boolean", "string"],
                      "description": "a finite number, a boolean, or a label (1-"
                                     f"{_scores.MAX_LABEL_LENGTH} characters)"},
            "trace_id": {"type": "string", "pattern": _TRACE_ID_PATTERN,
                         "description": "optional: the path's trace id"},
            "span_id": {"type": ["string", "null"], "pattern": "^[0-9a-fA-F]{16}$"},
            "comment": {"type": ["string", "null"], "maxLength": _scores.MAX_COMMENT_LENGTH},
            "source": {"enum": list(_scores.SOURCES), "default": "api"},
            "user_id": {"type": ["string", "null"], "maxLength": _scores.MAX_USER_ID_LENGTH},
            "metadata": {"type": ["object", "null"],
                         "description": f"at most {_scores.MAX_METADATA_BYTES} bytes as JSON"},
            "id": {"type": ["string", "null"], "maxLength": _scores.MAX_ID_LENGTH,
                   "description": "client-chosen id: posting it again updates the score (default: a new one)"},
        },
    },
    "ReplayStatus": _object({"enabled": {"type": "boolean"},
                             "reason": {**_nullable("string"), "description": "why replay is off"}},
                            "Whether replay is on (traceglass ui --replay-base-url URL); never the endpoint's key"),
    "ReplayInput": {
        "type": "object", "additionalProperties": False, "required": ["source", "request"],
        "description": "The span replayed and the (edited) chat.completions request to send; no streaming",
        "properties": {
            "source": _object({"trace_id": {"type": "string", "pattern": _TRACE_ID_PATTERN},
                               "span_id": {"type": "string", "pattern": "^[0-9a-fA-F]{16}$"}}),
            "request": {"type": "object", "required": ["model", "messages"],
                        "description": "model, messages (OpenAI chat format) and any of: "
                                       + ", ".join(sorted(_replay.PARAMETERS)),
                        "properties": {"model": {"type": "string", "minLength": 1},
                                       "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}}}},
        },
    },
    "ReplayResult": _object({
        "trace_id": {"type": "string", "description": "the new trace (its root links to the source span)"},
        "span_id": {"type": "string", "description": "the new trace's root span"},
        "stored": {"type": "boolean"}, "latency_ms": {"type": "number"},
        "source": _object({"trace_id": {"type": "string"}, "span_id": {"type": "string"}}),
        "answer": _object({"model": _nullable("string"), "content": _nullable("string"),
                           "tool_calls": {"type": "array", "items": _object({
                               "id": _nullable("string"), "name": {"type": "string"},
                               "arguments": {"type": "string"}})},
                           "finish_reason": _nullable("string"),
                           "usage": {"type": ["object", "null"]}}),
    }, "The replayed call's answer and the trace it was stored as"),
    "ReplayFailed": _object({
        "error": {"type": "string"}, "trace_id": {"type": "string"}, "span_id": {"type": "string"},
        "stored": {"type": "boolean"}, "latency_ms": {"type": "number"},
        "source": _object({"trace_id": {"type": "string"}, "span_id": {"type": "string"}}),
    }, "The endpoint failed: why (without the key), and the trace that records the failed call"),
    "Stats": _object({"group_by": {"type": "string"}, "rows": {"type": "array", "items": _ref("StatsRow")},
                      "count": _object({"traces": {"type": "integer"}, "spans": {"type": "integer"}})}),
}


def _param(name: str, description: str, schema: dict[str, Any] | None = None, where: str = "query",
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def _filter_param(name: str) -> dict[str, Any]:
    spec = _FILTERS[name]
    schema: dict[str, Any] = {"type": _KIND_SCHEMA[spec.kind]}
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    return _param(spec.param, spec.doc, schema)


def _otlp_path(summary: str, operation: str, success: str, *, unavailable: bool = True) -> dict[str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    responses: dict[str, Any] = {
        "200": {"description": success,
                "content": {"application/x-protobuf": binary, "application/json": {"schema": {"type": "object"}}}},
        "400": {"description": "The body could not be decoded (google.rpc.Status)"},
        "413": {"description": "The body is too large"},
        "415": {"description": "Unsupported Content-Type"},
    }
    if unavailable:
        responses["503"] = {"description": "The database could not be written; retry"}
    return {"post": {"summary": summary, "operationId": operation,
                     "requestBody": {"required": True, "content": {"application/x-protobuf": binary,
                                                                   "application/json": {"schema": {"type": "object"}}}},
                     "responses": responses}}


def openapi_schema() -> dict[str, Any]:
    """The OpenAPI document served at ``/openapi.json``."""
    list_params = [_filter_param(name) for name in _FILTERS]
    list_params += [
        _param(LIMIT.param, f"{LIMIT.doc} (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})",
               {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        _param(CURSOR.param, CURSOR.doc),
    ]
    groups = TraceStore.STATS_GROUPS
    page = [
        _param("limit", f"At most this many scores (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})",
               {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        _param("cursor", "The next_cursor of the previous page"),
    ]
    score_filters = [
        _param("name", "Only scores of this name"),
        _param("source", "Only scores from this source", {"enum": list(_scores.SOURCES)}),
        _param("since", "Scores created at or after: " + _TIME_DOC),
        _param("until", "Scores created before: " + _TIME_DOC),
    ]
    trace_id_path = _param("trace_id", "32 hex digits", {"type": "string", "pattern": _TRACE_ID_PATTERN}, "path",
                           True)
    return {
        "openapi": "3.1.0",
        "info": {"title": "traceglass", "version": __version__,
                 "description": "The local traceglass server: traces from the SQLite store, and an OTLP/HTTP "
                                "receiver. With a token, send 'Authorization: Bearer <token>'."},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Only when the server was started with a token"}},
        },
        "paths": {
            "/api/traces/": {
                "get": {"summary": "List traces, newest first", "operationId": "listTraces",
                        "parameters": list_params,
                        "responses": {"200": _json(_ref("TracePage"), "A page of traces"), "400": _ERROR}},
                "post": {"summary": "Create or update one span", "operationId": "upsertSpan",
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": _ref("SpanInput")}}},
                         "responses": {"200": _json(_ref("SpanWritten"), "The span as stored"),
                                       "400": _ERROR, "413": _ERROR, "415": _ERROR, "422": _ERROR}},
            },
            "/api/traces/{trace_id}": {
                "get": {"summary": "One trace with its span tree", "operationId": "getTrace",
                        "parameters": [_param("trace_id", "32 hex digits",
                                              {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}, "path", True)],
                        "responses": {"200": _json(_ref("Trace"), "The trace"), "400": _ERROR, "404": _ERROR}},
            },
            "/api/traces/{trace_id}/scores": {
                "get": {"summary": "The scores of one trace (trace- and span-level), newest first",
                        "operationId": "listTraceScores", "parameters": [trace_id_path, *score_filters, *page],
                        "responses": {"200": _json(_ref("ScorePage"), "A page of scores"), "400": _ERROR,
                                      "422": _INVALID}},
                "post": {"summary": "Score a trace or one of its spans (a trace id not seen yet is accepted: the "
                                    "score joins the trace when its spans arrive)",
                         "operationId": "addScore", "parameters": [trace_id_path],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": _ref("ScoreInput")}}},
                         "responses": {"201": _json(_ref("Score"), "The score, added"),
                                       "200": _json(_ref("Score"), "The score with this id, updated"),
                                       "413": _ERROR, "415": _ERROR, "422": _INVALID}},
            },
            "/api/scores": {
                "get": {"summary": "Scores across traces, newest first", "operationId": "listScores",
                        "parameters": [*score_filters,
                                       _param("trace_id", "Only the scores of this trace",
                                              {"type": "string", "pattern": _TRACE_ID_PATTERN}),
                                       *page],
                        "responses": {"200": _json(_ref("ScorePage"), "A page of scores"), "400": _ERROR,
                                      "422": _INVALID}},
            },
            "/api/scores/{score_id}": {
                "delete": {"summary": "Delete one score", "operationId": "deleteScore",
                           "parameters": [_param("score_id", "The score's id", where="path", required=True)],
                           "responses": {"204": {"description": "Deleted"}, "404": _ERROR}},
            },
            "/api/stats": {
                "get": {"summary": "Calls, errors, tokens, cost and latency percentiles per group",
                        "operationId": "stats",
                        "parameters": [
                            _param("group_by", f"{groups[0]} (default), {', '.join(groups[1:-1])} or {groups[-1]}",
                                   {"enum": list(groups)}),
                            _filter_param("since"), _filter_param("until"), _filter_param("project"),
                        ],
                        "responses": {"200": _json(_ref("Stats"), "Statistics"), "400": _ERROR}},
            },
            "/api/counts": {
                "get": {"summary": "How many traces and spans are stored (the dashboard's header)",
                        "operationId": "counts",
                        "responses": {"200": _json(_object({"traces": {"type": "integer"},
                                                             "spans": {"type": "integer"}}), "The counts")}},
            },
            "/api/timeseries": {
                "get": {"summary": "Calls, errors, tokens, cost and p50/p95 latency of the model calls per hour or "
                                   "day, in one series or per model or project (the charts)",
                        "operationId": "timeseries",
                        "parameters": [
                            _param("bucket", "hour or day (default), aligned to UTC",
                                   {"enum": list(TraceStore.TIMESERIES_BUCKETS)}),
                            _param("group_by", "none (default: one series), model (family) or project",
                                   {"enum": ["none", *(g for g in TraceStore.TIMESERIES_GROUPS if g)]}),
                            _filter_param("since"), _filter_param("until"), _filter_param("project"),
                        ],
                        "responses": {"200": _json(_ref("TimeSeries"), "The series"), "400": _ERROR}},
            },
            "/api/timeseries/scores": {
                "get": {"summary": "Score means per name and hour or day, by when each score was created",
                        "operationId": "scoreTimeseries",
                        "parameters": [
                            _param("bucket", "hour or day (default), aligned to UTC",
                                   {"enum": list(TraceStore.TIMESERIES_BUCKETS)}),
                            _param("name", "Only scores of this name"),
                            _param("source", "Only scores from this source", {"enum": list(_scores.SOURCES)}),
                            _param("since", "Scores created at or after: " + _TIME_DOC),
                            _param("until", "Scores created before: " + _TIME_DOC),
                            _filter_param("project"),
                        ],
                        "responses": {"200": _json(_ref("ScoreTimeSeries"), "The series"), "400": _ERROR}},
            },
            "/api/sessions": {
                "get": {"summary": "Sessions, the latest active first (totals over their traces in range)",
                        "operationId": "listSessions",
                        "parameters": [_filter_param("since"), _filter_param("until"), _filter_param("project"),
                                       _param("user", "Only the traces of this user.id"),
                                       _param("limit", f"At most this many rows (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})",
                                              {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
                                       _param("cursor", "The next_cursor of the previous page")],
                        "responses": {"200": _json(_ref("SessionPage"), "A page of sessions"), "400": _ERROR}},
            },
            "/api/sessions/{session_id}": {
                "get": {"summary": "One session with its turns oldest first: each turn's user input and answer",
                        "operationId": "getSession",
                        "parameters": [_param("session_id", "The session.id", where="path", required=True),
                                       _param("limit", "At most this many turns (1-5000, default 1000)",
                                              {"type": "integer", "minimum": 1, "maximum": 5000})],
                        "responses": {"200": _json(_ref("Session"), "The session"), "400": _ERROR, "404": _ERROR}},
            },
            "/api/users": {
                "get": {"summary": "Users, the latest active first: calls, sessions, errors, tokens, cost, scores",
                        "operationId": "listUsers",
                        "parameters": [_filter_param("since"), _filter_param("until"), _filter_param("project"),
                                       _param("limit", f"At most this many rows (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})",
                                              {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
                                       _param("cursor", "The next_cursor of the previous page")],
                        "responses": {"200": _json(_ref("UserPage"), "A page of users"), "400": _ERROR}},
            },
            "/api/alerts": {
                "get": {"summary": "Alerts firing now and the alert history (newest first)", "operationId": "alerts",
                        "parameters": [
                            _param("rule", "Only this rule's history"),
                            _param("since", f"Only events since this time: {_TIME_DOC}"),
                            _param("limit", "History rows (1-500, default 50)", {"type": "integer"}),
                        ],
                        "responses": {"200": _json(_ref("Alerts"), "Firing alerts and history"), "400": _ERROR}},
            },
            "/api/evals/runs": {
                "get": {"summary": "Stored evaluation runs, newest first", "operationId": "listEvalRuns",
                        "parameters": [_param("limit", "At most this many runs (1-500, default 50)",
                                              {"type": "integer", "minimum": 1, "maximum": 500})],
                        "responses": {"200": _json(_ref("EvalRuns"), "Runs with their summaries"), "400": _ERROR}},
            },
            "/api/evals/runs/{run_id}": {
                "get": {"summary": "One evaluation run with every result and its item", "operationId": "getEvalRun",
                        "parameters": [_param("run_id", "The run's id", where="path", required=True)],
                        "responses": {"200": _json(_ref("EvalRunDetail"), "The run"), "404": _ERROR}},
            },
            "/api/datasets": {
                "get": {"summary": "Saved datasets (the latest version of each)", "operationId": "listDatasets",
                        "responses": {"200": _json(_ref("Datasets"), "Datasets")}},
            },
            "/api/datasets/{name}": {
                "get": {"summary": "One saved dataset version with its items", "operationId": "getDataset",
                        "parameters": [_param("name", "The dataset's name", where="path", required=True),
                                       _param("version", "This version (default: the latest)",
                                              {"type": "integer", "minimum": 1})],
                        "responses": {"200": _json(_ref("DatasetDetail"), "The dataset"), "400": _ERROR,
                                      "404": _ERROR}},
            },
            "/api/datasets/{name}/items": {
                "post": {"summary": "Add a stored trace (or one of its spans) to a dataset as its next version; "
                                    "an item the dataset already holds is not added again",
                         "operationId": "addDatasetItems",
                         "parameters": [_param("name", "The dataset's name (made when new)", where="path",
                                               required=True)],
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": _ref("DatasetItemInput")}}},
                         "responses": {"201": _json(_ref("DatasetAdded"), "Added: the version made"),
                                       "200": _json(_ref("DatasetAdded"), "Already there: the latest version"),
                                       "404": _json(_ref("Error"), "No such trace or span"),
                                       "413": _ERROR, "415": _ERROR, "422": _INVALID}},
            },
            "/healthz": {
                "get": {"summary": "Liveness: the process answers (never touches the database); no token needed",
                        "operationId": "healthz", "security": [],
                        "responses": {"200": _json(_object({"status": {"enum": ["ok"]}}), "Alive")}},
            },
            "/readyz": {
                "get": {"summary": "Readiness: the database answers a cheap query in time; no token needed",
                        "operationId": "readyz", "security": [],
                        "responses": {
                            "200": _json(_object({"status": {"enum": ["ready"]}}), "Ready to serve"),
                            "503": _json(_object({"status": {"enum": ["unavailable"]},
                                                  "reason": {"type": "string"}}),
                                         "Not ready: why, in a fixed phrase (the error itself is logged)")}},
            },
            "/api/replay": {
                "get": {"summary": "Whether replay is on", "operationId": "replayStatus",
                        "responses": {"200": _json(_ref("ReplayStatus"), "On or off")}},
                "post": {"summary": "Send an LLM span's (edited) request again to the server's replay endpoint, "
                                    "traced as a new trace linked to the span; only on loopback or with the token",
                         "operationId": "replay",
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": _ref("ReplayInput")}}},
                         "responses": {"200": _json(_ref("ReplayResult"), "The answer and the new trace"),
                                       "400": _ERROR, "403": _ERROR,
                                       "404": _json(_ref("Error"), "Replay is off, or no such span"),
                                       "413": _ERROR, "415": _ERROR, "422": _INVALID,
                                       "429": _json(_ref("Error"), "Too many replays running"),
                                       "502": _json(_ref("ReplayFailed"), "The endpoint refused or failed"),
                                       "504": _json(_ref("ReplayFailed"), "The endpoint did not answer in time")}},
            },
            "/v1/traces": _otlp_path("OTLP/HTTP trace export (protobuf or JSON, optionally gzip)", "otlpExport",
                                     "ExportTraceServiceResponse (partialSuccess when spans were rejected)"),
            "/v1/logs": _otlp_path("OTLP/HTTP log export: gen_ai.evaluation.result records are stored as scores "
                                   "(by their event_name, or an event.name attribute); other records are "
                                   "accepted and ignored", "otlpExportLogs",
                                   "ExportLogsServiceResponse (partialSuccess counts the score records rejected: "
                                   "no trace id, or values the score model refuses)"),
            "/v1/metrics": _otlp_path("OTLP/HTTP metric export: accepted and dropped (the dashboard computes its "
                                      "figures from the spans)", "otlpExportMetrics",
                                      "ExportMetricsServiceResponse", unavailable=False),
        },
    }
