"""The REST API of sessions and users: ``GET /api/sessions`` (the latest active first),
``GET /api/sessions/{session_id}`` (one session with its turns in order) and ``GET /api/users``.
Read-only, over :meth:`TraceStore.sessions`, :meth:`TraceStore.session` and :meth:`TraceStore.users`.
Errors are JSON ``{"error": ...}`` as in the rest of the API: a bad parameter 400, an unknown
session 404, a database that cannot be read 503."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from traceglass.server._readers import Readers
from traceglass.server._rest import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ApiError,
    SafeJSONResponse,
    _number,
)
from traceglass.store import TraceStore

MAX_TURNS = 5000  # turns of one session in one answer
DEFAULT_TURNS = 1000
# The query parameters each list takes (limit and cursor besides): checked, so a typo is an error
# rather than a filter silently not applied.
SESSION_PARAMS = ("since", "until", "project", "user", "limit", "cursor")
USER_PARAMS = ("since", "until", "project", "limit", "cursor")
TURN_PARAMS = ("limit",)


def _check_params(request: Request, known: tuple[str, ...]) -> None:
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        raise ApiError(400, f"unknown query parameter(s) {unknown}; known: {sorted(known)}")


def _texts(request: Request, names: tuple[str, ...]) -> dict[str, str | None]:
    """The text parameters given (an empty value is no filter)."""
    return {name: request.query_params.get(name) or None for name in names}


class SessionsApi:
    """Sessions and users request handlers bound to one store."""

    def __init__(self, store: TraceStore, readers: Readers) -> None:
        self.store = store
        # A reader of the request's own (server/_readers.py): the dashboard asks /api/stats for its
        # counts on every load, seconds over a million spans on the app's one connection.
        self.readers = readers

    async def _call(self, func: Callable[[TraceStore], Any]) -> Any:
        try:
            return await run_in_threadpool(self.readers.run, func)
        except (ValueError, OverflowError) as exc:  # a bad time or cursor, named by the store
            raise ApiError(400, str(exc)) from None
        except sqlite3.Error as exc:
            raise ApiError(503, f"the trace database is unavailable: {exc}") from None

    async def list_sessions(self, request: Request) -> Response:
        """GET /api/sessions: sessions the latest active first, with a cursor for the next page."""
        _check_params(request, SESSION_PARAMS)
        limit = _number(request, "limit", int, 1, MAX_LIMIT) or DEFAULT_LIMIT
        options = _texts(request, ("since", "until", "project", "user", "cursor"))
        page = await self._call(lambda store: store.sessions(limit=limit, **options).to_dict())
        return SafeJSONResponse(page)

    async def get_session(self, request: Request) -> Response:
        """GET /api/sessions/{session_id}: the session's totals and its turns in order; 404 when unknown."""
        _check_params(request, TURN_PARAMS)
        session_id = request.path_params["session_id"]
        limit = _number(request, "limit", int, 1, MAX_TURNS) or DEFAULT_TURNS

        def read(store: TraceStore) -> dict[str, Any] | None:
            found = store.session(session_id, limit=limit)
            return None if found is None else found.to_dict()

        data = await self._call(read)
        if data is None:
            raise ApiError(404, f"no session with id {session_id!r}")
        return SafeJSONResponse(data)

    async def list_users(self, request: Request) -> Response:
        """GET /api/users: users the latest active first, with a cursor for the next page."""
        _check_params(request, USER_PARAMS)
        limit = _number(request, "limit", int, 1, MAX_LIMIT) or DEFAULT_LIMIT
        options = _texts(request, ("since", "until", "project", "cursor"))
        page = await self._call(lambda store: store.users(limit=limit, **options).to_dict())
        return SafeJSONResponse(page)
