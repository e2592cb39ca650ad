"""The REST API of scores: add one to a trace (or one of its spans), list them, delete one.

A bad score is a 422 whose body lists every problem at once, as the score model finds them:
``{"error": "invalid score", "problems": [{"field": ..., "message": ...}, ...]}``; never a 500.
A well-formed trace id the store has not seen yet is accepted: the score joins the trace when its
spans arrive (they may still be in an exporter's batch, or come from another process).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from traceglass._scores import ScoreError, new_score
from traceglass.server._rest import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiError,
    SafeJSONResponse,
    _number,
)
from traceglass.store import TraceStore

#: The fields a posted score may carry (``trace_id`` too, when it equals the path's).
BODY_FIELDS = ("name", "value", "span_id", "comment", "source", "user_id", "metadata", "id")
#: The query parameters of ``GET /api/scores`` (``GET /api/traces/{trace_id}/scores``: all but trace_id).
LIST_PARAMS = ("name", "source", "since", "until", "trace_id", "limit", "cursor")
_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")

Problems = list[tuple[str, str]]


def invalid(problems: Problems, error: str = "invalid score") -> JSONResponse:
    """The 422 answer naming every problem."""
    return JSONResponse({"error": error, "problems": [{"field": f, "message": m} for f, m in problems]},
                        status_code=422)


def _trace_id_problem(trace_id: str) -> Problems:
    if _TRACE_ID.fullmatch(trace_id) and trace_id.strip("0"):
        return []
    return [("trace_id", f"must be 32 hex digits, not all zero, got {trace_id!r}")]


def read_body(raw: bytes, trace_id: str) -> tuple[dict[str, Any] | None, Problems]:
    """The score fields of a posted JSON body (None when it is not a JSON object), and every problem
    of its shape (not yet of its values)."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON's, or a 5000-digit int
        return None, [("body", f"is not valid JSON: {str(exc)[:200]}")]
    if not isinstance(data, dict):
        return None, [("body", f"must be a JSON object (one score), got {type(data).__name__}")]
    problems: Problems = []
    given = data.pop("trace_id", None)
    if given is not None and (not isinstance(given, str) or given.strip().lower() != trace_id.lower()):
        problems.append(("trace_id", f"must be left out or equal the path's trace id, got {given!r}"))
    for key in sorted(set(data) - set(BODY_FIELDS)):
        problems.append((key, f"is not a score field (known: {', '.join(BODY_FIELDS)})"))
    if "value" not in data:
        problems.append(("value", "is required"))
    return {key: data[key] for key in BODY_FIELDS if key in data}, problems


class ScoresApi:
    """Score request handlers bound to one store."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store

    async def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_in_threadpool(func, *args, **kwargs)
        except sqlite3.Error as exc:
            raise ApiError(503, f"the trace database is unavailable: {exc}") from None

    async def post(self, request: Request) -> Response:
        """POST /api/traces/{trace_id}/scores: add a score (201), or update the one with its ``id`` (200)."""
        trace_id = request.path_params["trace_id"]
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            # Only JSON: a cross-site form's text/plain post would need no CORS preflight.
            raise ApiError(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")
        fields, problems = read_body(await request.body(), trace_id)
        problems = _trace_id_problem(trace_id) + problems
        if fields is None:
            return invalid(problems)
        try:  # the values' problems, all at once, before anything touches the store
            new_score(fields.get("name"), fields.get("value"), trace_id=trace_id,
                      **{k: v for k, v in fields.items() if k not in ("name", "value")})
        except ScoreError as exc:
            # A missing value is already named as such; a missing trace id too, from the path.
            problems += [p for p in exc.problems
                         if p not in problems and not (p[0] == "value" and "value" not in fields)
                         and p[0] != "trace_id"]
        if problems:
            return invalid(problems)

        def add() -> tuple[Any, bool]:
            existed = fields.get("id") is not None and self._exists(fields["id"].strip())
            return self.store.add_score(fields.pop("name"), fields.pop("value"), trace_id=trace_id, **fields), existed

        try:
            score, existed = await self._call(add)
        except ScoreError as exc:  # the name already holds another data type
            return invalid(exc.problems)
        return SafeJSONResponse(score.to_dict(), status_code=200 if existed else 201)

    def _exists(self, score_id: str) -> bool:
        return self.store.get_score(score_id) is not None

    async def list_for_trace(self, request: Request) -> Response:
        """GET /api/traces/{trace_id}/scores: the trace's scores (trace- and span-level), newest first."""
        trace_id = request.path_params["trace_id"]
        problems = _trace_id_problem(trace_id)
        if problems:
            return invalid(problems, "invalid trace_id")
        return await self._page(request, [p for p in LIST_PARAMS if p != "trace_id"], trace_id.lower())

    async def list_all(self, request: Request) -> Response:
        """GET /api/scores: scores across traces, filtered, newest first, with a cursor for the next page."""
        return await self._page(request, list(LIST_PARAMS), None)

    async def _page(self, request: Request, known: list[str], trace_id: str | None) -> Response:
        unknown = sorted(set(request.query_params) - set(known))
        if unknown:
            raise ApiError(400, f"unknown query parameter(s) {unknown}; known: {sorted(known)}")
        limit = _number(request, "limit", int, 1, MAX_LIMIT) or DEFAULT_LIMIT
        options = {key: request.query_params.get(key) or None for key in ("name", "source", "since", "until",
                                                                         "trace_id", "cursor") if key in known}
        if trace_id is not None:
            options["trace_id"] = trace_id
        elif options.get("trace_id") is not None:
            problems = _trace_id_problem(options["trace_id"])
            if problems:
                return invalid(problems, "invalid trace_id")
            options["trace_id"] = options["trace_id"].lower()

        def page() -> dict[str, Any]:
            try:
                return self.store.scores(limit=limit, **options).to_dict()
            except ValueError as exc:  # a bad filter value (time, cursor), named by the store
                raise ApiError(400, str(exc)) from None

        return SafeJSONResponse(await self._call(page))

    async def delete(self, request: Request) -> Response:
        """DELETE /api/scores/{score_id}: 204, or 404 for an unknown id."""
        score_id = request.path_params["score_id"]
        if not await self._call(self.store.delete_score, score_id):
            raise ApiError(404, f"no score with id {score_id!r}")
        return Response(status_code=204)
