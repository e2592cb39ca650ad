"""The REST API over the trace store: list, read and write traces, and statistics.

Every error is JSON ``{"error": "<what is wrong>"}`` with a 4xx/5xx status. Store calls run in a
worker thread so a slow query never stalls the event loop.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from traceglass import semconv
from traceglass.server._previews import preview
from traceglass.server._readers import Readers
from traceglass.store import TraceFilter, TraceStore
from traceglass.store._upsert import USD_KEYS

# (trace_id, span_id, attributes, start_ns) -> the attributes pricing adds (SpanIngest.price).
Pricer = Callable[[str, str, Any, int], dict[str, Any]]

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
# The query parameters of GET /api/traces/, from the store's one definition of the filters.
LIMIT, CURSOR = TraceFilter.page_specs()
LIST_PARAMS = (*TraceFilter.specs(), LIMIT, CURSOR)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SafeJSONResponse(JSONResponse):
    """JSON that never fails on a stored NaN or infinity (written before ingest refused them): null instead."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:  # allow_nan=False met a non-finite float
            return super().render(_finite(content))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _number(request: Request, name: str, cast: Callable[[str], Any], low: float | None = None,
            high: float | None = None) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = cast(raw)
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ApiError(400, f"{name} must be a finite number, got {raw!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ApiError(400, f"{name} must be between {low} and {high}, got {raw!r}")
    return value


class RestApi:
    """Request handlers bound to one store."""

    def __init__(self, store: TraceStore, pricer: Pricer | None = None, *, readers: Readers) -> None:
        self.store = store
        self.pricer = pricer
        self.readers = readers  # read-only stores for the heavy reads (the store itself when none can be had)

    def _add_type_and_models(self, rows: list[dict[str, Any]]) -> None:
        """The trace-list columns a TraceSummary does not carry: the root span's type and the models."""
        found = self.store.types_and_models([row["trace_id"] for row in rows])
        for row in rows:
            row["type"], row["models"] = found.get(row["trace_id"], (None, []))

    def _add_previews(self, rows: list[dict[str, Any]]) -> None:
        """The trace list's input and output previews: one short line each, from the root span."""
        found = self.store.root_io([row["trace_id"] for row in rows])
        for row in rows:
            given, made = found.get(row["trace_id"], (None, None))
            row["input_preview"], row["output_preview"] = preview(given), preview(made, output=True)

    async def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_in_threadpool(func, *args, **kwargs)
        except (ValueError, OverflowError) as exc:  # a bad filter value, named by the store
            raise ApiError(400, str(exc)) from None
        except sqlite3.Error as exc:
            raise ApiError(503, f"the trace database is unavailable: {exc}") from None

    async def list_traces(self, request: Request) -> Response:
        """GET /api/traces/: filtered trace rows, newest first, with a cursor for the next page."""
        known = [spec.param for spec in LIST_PARAMS]
        unknown = sorted(set(request.query_params) - set(known))
        if unknown:
            raise ApiError(400, f"unknown query parameter(s) {unknown}; known: {sorted(known)}")
        limit = _number(request, LIMIT.param, int, 1, MAX_LIMIT) or DEFAULT_LIMIT
        filters: dict[str, Any] = {}
        for spec in TraceFilter.specs():
            if spec.kind == "number":
                filters[spec.name] = _number(request, spec.param, float, spec.minimum)
            elif request.query_params.get(spec.param):  # an empty value is no filter
                filters[spec.name] = request.query_params[spec.param]
        cursor = request.query_params.get(CURSOR.param) or None

        def page() -> dict[str, Any]:
            result = self.store.list_traces(filter=TraceFilter(**filters), limit=limit, cursor=cursor)
            rows = [summary.to_dict() for summary in result.traces]
            self._add_type_and_models(rows)
            self._add_previews(rows)
            return {"traces": rows, "next_cursor": result.next_cursor}

        return SafeJSONResponse(await self._call(page))

    async def get_trace(self, request: Request) -> Response:
        """GET /api/traces/{trace_id}: the trace with its span tree; 404 for an unknown id."""
        trace_id = request.path_params["trace_id"]
        if not _TRACE_ID.fullmatch(trace_id):
            raise ApiError(400, f"trace_id must be 32 hex digits, got {trace_id!r}")

        def read() -> dict[str, Any] | None:
            trace = self.store.get_trace(trace_id)
            if trace is None:
                return None
            data = trace.to_dict()
            self._add_type_and_models([data])
            return data

        data = await self._call(read)
        if data is None:
            raise ApiError(404, f"no trace with id {trace_id.lower()}")
        return SafeJSONResponse(data)

    async def post_span(self, request: Request) -> Response:
        """POST /api/traces/: create or update one span from a JSON object; all or nothing."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")
        body = await request.body()
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ApiError(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(422, f"body must be a JSON object (one span), got {type(data).__name__}")
        try:
            span = await run_in_threadpool(self._upsert_priced, data)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        except sqlite3.Error as exc:
            raise ApiError(503, f"the trace database is unavailable: {exc}") from None
        return SafeJSONResponse({"span": span.to_dict(children=False)})

    def _upsert_priced(self, data: dict[str, Any]) -> Any:
        """Write the span; then, when it reports usage and the caller named no cost, price it as the
        cost processor prices every other span (a cost this pricing wrote earlier is refreshed)."""
        span = self.store.upsert_span(data)
        given = data.get("attributes")
        named_cost = data.get("cost_usd") is not None or (isinstance(given, dict) and not USD_KEYS.isdisjoint(given))
        own_cost = span.cost_usd is not None and semconv.COST_SOURCE not in span.attributes
        if (self.pricer is None or named_cost or own_cost
                or (span.input_tokens is None and span.output_tokens is None)):
            return span
        extra = self.pricer(span.trace_id, span.span_id, span.attributes, span.start_ns)
        if not extra:
            return span
        return self.store.upsert_span({"trace_id": span.trace_id, "span_id": span.span_id, "attributes": extra})

    async def stats(self, request: Request) -> Response:
        """GET /api/stats: per-group calls, errors, tokens, cost and latency percentiles."""
        group_by = request.query_params.get("group_by") or "model"
        if group_by not in TraceStore.STATS_GROUPS:
            raise ApiError(400, f"group_by must be one of {list(TraceStore.STATS_GROUPS)}, got {group_by!r}")
        options = {k: request.query_params.get(k) or None for k in ("since", "until", "project")}

        def compute(store: TraceStore) -> dict[str, Any]:
            rows = store.stats(group_by, **options)
            return {"group_by": group_by, "rows": [row.to_dict() for row in rows], "count": store.count()}

        # On a reader of its own: the page asks for several at once, seconds each over a big store,
        # and the app's one connection would make every other request wait for them.
        return SafeJSONResponse(await self._call(lambda: self.readers.run(compute)))

    async def counts(self, request: Request) -> Response:
        """GET /api/counts: the numbers of traces and spans stored (two counts, no aggregation)."""
        found = await self._call(lambda: self.readers.run(lambda store: store.count()))
        return SafeJSONResponse({"traces": found["traces"], "spans": found["spans"]})

    def close(self) -> None:
        """Nothing of its own to release: the store is the app's (kept for the app's shutdown)."""
