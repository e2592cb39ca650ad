"""The local traceglass server: dashboard, REST API and OTLP/HTTP receiver (needs the ``server`` extra).

    traceglass ui                       # http://127.0.0.1:8080
    from traceglass.server import create_app, serve
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from traceglass.server._security import TOKEN_ENV, is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


class UnsafeBindError(ValueError):
    """Refused: serving a non-loopback address without an access token."""


def resolve_token(host: str, token: str | None) -> str | None:
    """The token in force (argument, else ``TRACEGLASS_TOKEN``); raises for a non-loopback host without one."""
    chosen = token if token else (os.environ.get(TOKEN_ENV, "").strip() or None)
    if chosen is None and not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to serve {host} without an access token: anyone who can reach it could read your "
            f"prompts. Pass --token or set {TOKEN_ENV} (or bind 127.0.0.1)")
    return chosen


def dashboard_url(host: str, port: int, token: str | None = None) -> str:
    """The URL to open (with the token once, so the browser gets its cookie)."""
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = "127.0.0.1"
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db: str | os.PathLike[str] | None = None,
    token: str | None = None,
    *,
    cors_origins: list[str] | None = None,
    announce: Callable[[str], Any] | None = None,
    log_level: str = "warning",
    alerts: Any = None,
    evals: Any = None,
    replay: Any = None,
    shutdown_timeout: float | None = None,
) -> None:
    """Run the server until interrupted; prints the URL once listening (``announce`` replaces print).

    Refuses a non-loopback ``host`` without a token (:class:`UnsafeBindError`). ``alerts``: alert
    rules (or a rules file's path) evaluated while it runs. ``evals``: evaluation schedules (or a
    schedules file's path) run while it runs. ``replay``: an OpenAI-compatible base URL the dashboard's
    Replay sends edited LLM requests to (key from ``TRACEGLASS_REPLAY_API_KEY``, else ``OPENAI_API_KEY``).
    On SIGTERM or Ctrl-C it stops accepting, finishes the requests in flight for at most
    ``shutdown_timeout`` seconds (default 20), closes the database and returns (so a SIGTERM ends
    ``traceglass ui`` with status 0)."""
    import uvicorn

    from traceglass.server import _shutdown
    from traceglass.server.app import create_app

    if shutdown_timeout is None:
        shutdown_timeout = _shutdown.DEFAULT_SHUTDOWN_TIMEOUT_S
    if not shutdown_timeout > 0:
        raise ValueError(f"shutdown_timeout must be a positive number of seconds, got {shutdown_timeout!r}")

    chosen = resolve_token(host, token)
    app = create_app(db, token=chosen, cors_origins=cors_origins, alerts=alerts, evals=evals,
                     replay=replay)
    config = uvicorn.Config(_shutdown.RetryElsewhere(app), host=host, port=port, log_level=log_level, lifespan="on",
                            server_header=False, proxy_headers=False, timeout_graceful_shutdown=shutdown_timeout)
    server = uvicorn.Server(config)
    _announce_when_started(server, announce or _print, dashboard_url(host, port, chosen))
    _shutdown.announce_shutdown(server, announce or _print, shutdown_timeout)
    with _shutdown.sigterm_is_a_clean_exit():
        server.run()


def _print(line: str) -> None:
    print(line, flush=True)


def _announce_when_started(server: Any, announce: Callable[[str], Any], url: str) -> None:
    # Print the URL once the socket is bound (a port already in use fails before that).
    startup = server.startup

    async def startup_then_announce(*args: Any, **kwargs: Any) -> None:
        await startup(*args, **kwargs)
        if server.started:
            announce(f"traceglass dashboard: {url}")

    server.startup = startup_then_announce


def __getattr__(name: str) -> Any:
    # The web stack (starlette) loads on first use: `traceglass --help` must work without the extra.
    if name == "create_app":
        from traceglass.server.app import create_app

        return create_app
    raise AttributeError(f"module 'traceglass.server' has no attribute {name!r}")


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "UnsafeBindError", "create_app", "dashboard_url", "resolve_token",
           "serve"]
