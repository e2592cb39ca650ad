"""The REST API of evaluations: stored runs (``/api/evals/runs``, one run with its results) and
saved datasets (``/api/datasets``, one with its items), and adding a trace to a dataset
(``POST /api/datasets/{name}/items``, the dashboard's "add to dataset"). Runs are made by
``evaluate_traces`` / ``traceglass evals run``, datasets by ``EvalDataset.save`` / ``traceglass
datasets create``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from traceglass.evals import EvalRun
from traceglass.evals._additions import add_to_dataset, items_to_add
from traceglass.evals._bridge import ANSWERS
from traceglass.server._rest import ApiError, SafeJSONResponse, _number
from traceglass.server._scores_api import invalid
from traceglass.store import TraceStore
from traceglass.store._store import dataset_name_problem

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

    async def add_items(self, request: Request) -> Response:
        """POST /api/datasets/{name}/items: add a stored trace's item (or one span's) to a dataset as
        its next version; 201 with the version made, 200 when the dataset already holds it."""
        name = request.path_params["name"]
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":  # as for scores: no preflight-free cross-site form post
            raise ApiError(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")
        fields, problems = _item_request(await request.body())
        if (problem := dataset_name_problem(name)) is not None:
            problems.append(("name", problem))
        if problems or fields is None:
            return invalid(problems, "invalid dataset item")

        # An explicit "answer": null means "last" without the root fallback, as before items_to_add.
        answer = (fields.get("answer") or "last") if "answer" in fields else None

        def add() -> tuple[Any, int] | str:
            try:
                items = items_to_add(self.store, fields["trace_id"], span_id=fields.get("span_id"), answer=answer)
            except KeyError as exc:
                return str(exc.args[0])
            if not items:
                return ""
            return add_to_dataset(self.store, name.strip(), items)

        outcome = await self._call(add)
        if isinstance(outcome, str):
            if outcome:
                raise ApiError(404, outcome)
            return invalid([("trace_id", "the trace has no span to make an item of (a judge's trace never has)")],
                           "invalid dataset item")
        info, added = outcome
        return SafeJSONResponse({"dataset": info.to_dict(), "added": added}, status_code=201 if added else 200)


def _item_request(raw: bytes) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """The fields of a posted item request (``trace_id``, optional ``span_id`` and ``answer``) and
    every problem with them."""
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError) as exc:
        return None, [("body", f"is not valid JSON: {str(exc)[:200]}")]
    if not isinstance(data, dict):
        return None, [("body", f"must be a JSON object, got {type(data).__name__}")]
    problems = [(key, "is not a field of a dataset item request") for key in data
                if key not in ("trace_id", "span_id", "answer")]
    for key, required in (("trace_id", True), ("span_id", False)):
        value = data.get(key)
        if value is None and not required:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            problems.append((key, "is required" if value is None else "must be a span or trace id"))
    answer = data.get("answer")
    if answer is not None and answer not in ANSWERS:
        problems.append(("answer", f"must be one of {', '.join(ANSWERS)}"))
    return data, problems
