"""The REST API of the charts: ``GET /api/timeseries`` (the model calls per hour or day: calls, errors,
tokens, cost, p50/p95 latency; one series or one per model or project) and ``GET
/api/timeseries/scores`` (score means per name and bucket). Read-only, over
:meth:`TraceStore.timeseries` and :meth:`TraceStore.score_timeseries`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from traceglass.server._readers import Readers
from traceglass.server._rest import ApiError, SafeJSONResponse
from traceglass.store import TraceStore

CALL_PARAMS = ("bucket", "group_by", "since", "until", "project")
SCORE_PARAMS = ("bucket", "name", "source", "since", "until", "project")
# group_by=none (or empty) asks for the one series over every call.
_NO_GROUP = ("", "none")


def _options(request: Request, known: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        raise ApiError(400, f"unknown query parameter(s) {unknown}; known: {sorted(known)}")
    return {name: request.query_params.get(name) or None for name in known}


class TimeseriesApi:
    """Chart request handlers bound to one store.

    Each request reads through a reader of its own (server/_readers.py): the store's shared
    connection serializes its callers, and the Aggregates page asks for its four tables at the same
    moment as its charts, which would otherwise wait for all of them."""

    def __init__(self, store: TraceStore, readers: Readers) -> None:
        self.store = store
        self.readers = readers

    def _read(self, method: str, **kwargs: Any) -> Any:
        return self.readers.run(lambda reader: getattr(reader, method)(**kwargs).to_dict())

    async def _call(self, func: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return await run_in_threadpool(func, **kwargs)
        except ValueError as exc:  # a bad bucket, group or time, named by the store
            raise ApiError(400, str(exc)) from None
        except sqlite3.Error as exc:
            raise ApiError(503, f"the trace database is unavailable: {exc}") from None

    async def calls(self, request: Request) -> Response:
        """GET /api/timeseries: the model calls' numbers per bucket, per group."""
        options = _options(request, CALL_PARAMS)
        group = request.query_params.get("group_by", "")
        options["group_by"] = None if group.lower() in _NO_GROUP else group
        options["bucket"] = options["bucket"] or "day"
        result = await self._call(self._read, method="timeseries", **options)
        return SafeJSONResponse(result)

    async def scores(self, request: Request) -> Response:
        """GET /api/timeseries/scores: per score name, the mean and count per bucket."""
        options = _options(request, SCORE_PARAMS)
        options["bucket"] = options["bucket"] or "day"
        result = await self._call(self._read, method="score_timeseries", **options)
        return SafeJSONResponse(result)
