"""Graceful shutdown of a served app: on SIGTERM (or Ctrl-C) finish the requests in flight, then exit.

uvicorn does the draining: it stops accepting at once, lets every request already received run to its
response (for at most ``timeout_graceful_shutdown`` seconds, then cancels the rest), and then runs the
app's lifespan shutdown, where the writer and the store are closed. Two things are ours:

* the exit status: uvicorn (0.29 and later) re-raises the signal it caught once it is done, with the
  handler that was in place before it started. For SIGTERM that is the default action, so the process
  would die "killed by SIGTERM" (status 143) after a clean stop; :func:`sigterm_is_a_clean_exit`
  installs a handler that ignores that replay, so an orchestrator's stop ends with status 0;
* a request still running when the time is up is cancelled by uvicorn, which would answer it 500 (an
  OTLP exporter does not retry that): :class:`RetryElsewhere` answers 503 with ``Retry-After``
  instead, so the exporter sends the batch again, to another replica;
* one line saying the server is draining, and one when it is done, so a container's log shows both.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Below Kubernetes' default terminationGracePeriodSeconds (30 s), so the pod exits before it is killed.
DEFAULT_SHUTDOWN_TIMEOUT_S = 20.0


@contextmanager
def sigterm_is_a_clean_exit() -> Iterator[None]:
    """While inside, a SIGTERM that reaches the previous handler (uvicorn's replay after its graceful
    stop) is ignored instead of killing the process. Only in the main thread, where signals are handled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _ignore)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ignore(signum: int, frame: Any) -> None:
    """The replayed SIGTERM: the server already stopped gracefully."""


def announce_shutdown(server: Any, announce: Callable[[str], Any], timeout: float | None) -> None:
    """Say when ``server`` (a ``uvicorn.Server``) starts draining and when it is done."""
    shutdown = server.shutdown

    async def shutdown_and_announce(*args: Any, **kwargs: Any) -> None:
        bound = f"at most {timeout:g} s" if timeout is not None else "no time limit"
        announce(f"traceglass: shutting down: no new connections; finishing the requests in flight ({bound})")
        await shutdown(*args, **kwargs)
        announce("traceglass: stopped")

    server.shutdown = shutdown_and_announce


class RetryElsewhere:
    """ASGI wrapper: a request cancelled before its answer started (the drain's time is up) gets 503."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if started:
                raise
            # Only uvicorn's shutdown cancels a request task: answer it, and let the task end quietly
            # (re-raising would log a traceback per straggler and send a 500).
            body = json.dumps({"error": "the server is shutting down; retry"}).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                    (b"retry-after", b"1"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
