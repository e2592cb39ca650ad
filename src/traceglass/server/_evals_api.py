"""The REST API of evaluations: stored runs (``/api/evals/runs``, one run with its results) and
saved datasets (``/api/datasets``, one with its items). Read-only: runs are made by
``evaluate_traces`` / ``traceglass evals run``, datasets by ``EvalDataset.save`` / ``traceglass
datasets create``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from traceglass.evals import EvalRun
from traceglass.server._rest import ApiError, SafeJSONResponse, _number
from traceglass.store import TraceStore

MAX_RUNS = 500


class EvalsApi:
    """Evaluation request handlers bound to one store."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store

    async def _call(self, func: Callable[..., Any], *args: Any) -> Any:
        try:
            return await run_in_threadpool(func, *args)
        except sqlite3.Error as exc:
            raise ApiError(503, f"the trace database is unavailable: {exc}") from None

    async def list_runs(self, request: Request) -> Response:
        """GET /api/evals/runs: stored runs newest first, each with its per-scorer summary."""
        limit = _number(request, "limit", int, 1, MAX_RUNS) or 50
        runs = await self._call(lambda: self.store.eval_runs(limit=limit))
        return SafeJSONResponse({"runs": [run.to_dict() for run in runs]})

    async def get_run(self, request: Request) -> Response:
        """GET /api/evals/runs/{run_id}: the run, its summary and every result with its item."""
        run_id = request.path_params["run_id"]

        def read() -> dict[str, Any] | None:
            try:
                return EvalRun.load(run_id, store=self.store).to_dict()
            except KeyError:
                return None

        found = await self._call(read)
        if found is None:
            raise ApiError(404, f"no evaluation run {run_id!r}")
        return SafeJSONResponse(found)

    async def list_datasets(self, request: Request) -> Response:
        """GET /api/datasets: the latest version of every saved dataset."""
        datasets = await self._call(self.store.datasets)
        return SafeJSONResponse({"datasets": [d.to_dict() for d in datasets]})

    async def get_dataset(self, request: Request) -> Response:
        """GET /api/datasets/{name}: a version (``?version=``, default the latest) with its items,
        and every version's summary."""
        name = request.path_params["name"]
        version = _number(request, "version", int, 1, 2**62)

        def read() -> dict[str, Any] | None:
            found = self.store.dataset(name, version)
            if found is None:
                return None
            info, items = found
            return {**info.to_dict(), "versions": [d.to_dict() for d in self.store.datasets(name)], "items": items}

        found = await self._call(read)
        if found is None:
            which = f"version {version} of " if version is not None else ""
            raise ApiError(404, f"no saved dataset {which}{name!r}")
        return SafeJSONResponse(found)
