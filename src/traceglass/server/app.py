"""The ASGI application: REST API, OTLP receiver, OpenAPI schema and the static dashboard."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from traceglass.server._alerts import AlertRunner, AlertsApi
from traceglass.server._cors import CorsPolicy
from traceglass.server._docs import docs_page
from traceglass.server._evals_api import EvalsApi
from traceglass.server._health import HEALTH_PATHS, Health
from traceglass.server._ingest import SpanIngest
from traceglass.server._openapi import openapi_schema
from traceglass.server._receiver import OTLPReceiver
from traceglass.server._readers import Readers
from traceglass.server._replay import ReplayApi, ReplayConfig
from traceglass.server._rest import ApiError, RestApi, error
from traceglass.server._scores_api import ScoresApi
from traceglass.server._sessions_api import SessionsApi
from traceglass.server._security import (
    DEFAULT_MAX_BODY_BYTES,
    BodyTooLargeError,
    SecurityMiddleware,
)
from traceglass.server._timeseries_api import TimeseriesApi
from traceglass.alerts import AlertRules, load_rules
from traceglass.store import TraceStore


def static_dir() -> str:
    """The directory of the dashboard's files, shipped inside the package."""
    return str(resources.files("traceglass.server") / "static")


def create_app(
    db_path: str | os.PathLike[str] | None = None,
    token: str | None = None,
    cors_origins: Sequence[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    *,
    prices: Any = None,
    alerts: Any = None,
    evals: Any = None,
    replay: ReplayConfig | str | None = None,
) -> Any:
    """The traceglass server as an ASGI app, over the database at ``db_path`` (default: the exporter's).

    ``token``: when given, every request must present it (see :mod:`traceglass.server._security`).
    ``cors_origins``: origins (``https://app.example``) whose pages may call the API from a browser,
    e.g. a feedback widget posting scores (none by default; see :mod:`traceglass.server._cors`).
    ``max_body_bytes``: the largest request body accepted (compressed and decompressed).
    ``prices``: a price table for the spans received over OTLP (default: ``TRACEGLASS_PRICES``).
    ``alerts``: alert rules (an ``AlertRules``, or a rules file's path) evaluated while the app runs:
    window rules on the file's interval, per-trace rules as spans arrive (see docs/alerts.md).
    ``evals``: evaluation schedules (``EvalSchedule``s, or a schedules file's path: ``traceglass ui
    --evals FILE``) run in background threads while the app runs (see docs/evals.md).
    ``replay``: an OpenAI-compatible base URL (or a ``ReplayConfig``) that the dashboard's Replay sends
    edited LLM requests to, with the key from ``TRACEGLASS_REPLAY_API_KEY`` (else ``OPENAI_API_KEY``);
    off when None (see :mod:`traceglass.server._replay`).
    """
    if max_body_bytes <= 0:
        raise ValueError(f"max_body_bytes must be positive, got {max_body_bytes!r}")
    if replay is not None and not isinstance(replay, ReplayConfig):
        replay = ReplayConfig.from_env(replay)  # a bad URL raises ValueError before anything opens
    cors = CorsPolicy(cors_origins) if cors_origins else None  # a bad origin raises before anything opens
    if alerts is not None and not isinstance(alerts, AlertRules):
        alerts = load_rules(alerts)  # a bad rules file raises RuleError before anything opens
    store = TraceStore(db_path)
    if evals is not None and not isinstance(evals, (list, tuple)):
        from traceglass.evals import load_schedules  # a bad schedules file raises ValueError

        try:
            evals = load_schedules(evals, store=store.path)
        except BaseException:
            store.close()
            raise
    ingest = SpanIngest(store.path, prices=prices)
    readers = Readers(store)  # read-only stores beside the app's, for the dashboard's heavy reads
    api = RestApi(store, pricer=ingest.price, readers=readers)
    scores = ScoresApi(store)
    evals_api = EvalsApi(store)
    sessions_api = SessionsApi(store, readers)
    charts = TimeseriesApi(store, readers)
    health = Health(readers)
    receiver = OTLPReceiver(ingest, max_body_bytes)
    runners: list[AlertRunner] = []  # the rules' runner, while the app runs (started by the lifespan)
    alerts_api = AlertsApi(store, None)
    replay_api = ReplayApi(store, ingest, replay, token=token or None)
    schema = openapi_schema()
    static = static_dir()
    index = os.path.join(static, "index.html")

    async def page(request: Request) -> Response:
        return FileResponse(index, media_type="text/html; charset=utf-8", headers={"cache-control": "no-cache"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(schema)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error(exc.status, exc.message)

    async def too_large(request: Request, exc: Exception) -> Response:
        return error(413, str(exc))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, f"no such path: {request.url.path}")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if alerts is not None:
            runner = AlertRunner(store.path, alerts)
            runners.append(runner)
            alerts_api.runner = runner
            ingest.on_written = runner.traces_written
        for schedule in evals or ():
            schedule.start()
        try:
            yield
        finally:
            for schedule in evals or ():
                schedule.stop()
            ingest.on_written = None
            replay_api.close()
            for runner in runners:
                runner.close()
            ingest.shutdown()
            api.close()
            readers.close()
            store.close()

    routes = [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/traces", page, methods=["GET", "HEAD"]),
        Route("/sessions", page, methods=["GET", "HEAD"]),
        Route("/users", page, methods=["GET", "HEAD"]),
        Route("/api/traces/", api.list_traces, methods=["GET"]),
        Route("/api/traces", api.list_traces, methods=["GET"]),
        Route("/api/traces/", api.post_span, methods=["POST"]),
        Route("/api/traces", api.post_span, methods=["POST"]),
        Route("/api/traces/{trace_id}", api.get_trace, methods=["GET"]),
        Route("/api/traces/{trace_id}/scores", scores.list_for_trace, methods=["GET"]),
        Route("/api/traces/{trace_id}/scores", scores.post, methods=["POST"]),
        Route("/api/scores", scores.list_all, methods=["GET"]),
        Route("/api/scores/{score_id}", scores.delete, methods=["DELETE"]),
        Route("/api/stats", api.stats, methods=["GET"]),
        Route("/api/counts", api.counts, methods=["GET"]),
        Route("/api/timeseries", charts.calls, methods=["GET"]),
        Route("/api/timeseries/scores", charts.scores, methods=["GET"]),
        Route("/api/sessions", sessions_api.list_sessions, methods=["GET"]),
        Route("/api/sessions/{session_id:path}", sessions_api.get_session, methods=["GET"]),
        Route("/api/users", sessions_api.list_users, methods=["GET"]),
        Route("/api/alerts", alerts_api.get, methods=["GET"]),
        Route("/api/evals/runs", evals_api.list_runs, methods=["GET"]),
        Route("/api/evals/runs/{run_id}", evals_api.get_run, methods=["GET"]),
        Route("/api/datasets", evals_api.list_datasets, methods=["GET"]),
        Route("/api/datasets/{name}", evals_api.get_dataset, methods=["GET"]),
        Route("/api/datasets/{name}/items", evals_api.add_items, methods=["POST"]),
        Route("/api/replay", replay_api.status, methods=["GET"]),
        Route("/api/replay", replay_api.replay, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs_page(static), methods=["GET", "HEAD"]),
        Route("/healthz", health.healthz, methods=["GET", "HEAD"]),
        Route("/readyz", health.readyz, methods=["GET", "HEAD"]),
        Route("/v1/traces", receiver.handle, methods=["POST"]),
        Route("/v1/logs", receiver.handle_logs, methods=["POST"]),
        Route("/v1/metrics", receiver.handle_metrics, methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={ApiError: api_error, BodyTooLargeError: too_large, 404: not_found})
    app.state.store = store
    app.state.ingest = ingest
    app.state.readers = readers
    app.state.replay = replay_api
    # Outermost: the Host, token and size checks run before anything else; CORS preflights are
    # answered there (after the Host check), and every answer to an allowed origin carries CORS headers.
    # The health probes need no token (orchestrators send none; they reveal nothing).
    return SecurityMiddleware(app, token=token, max_body_bytes=max_body_bytes, cors=cors, public_paths=HEALTH_PATHS)
