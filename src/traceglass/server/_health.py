"""Health probes for orchestrators and load balancers: ``GET /healthz`` and ``GET /readyz``.

* ``/healthz``: the process is alive and its event loop answers (200 ``{"status": "ok"}``); it never
  touches the database, so a slow database does not get a healthy replica restarted.
* ``/readyz``: the database answers a cheap query (``TraceStore.ping``) within a bounded time: 200
  ``{"status": "ready"}``, else 503 ``{"status": "unavailable", "reason": ...}``.

Both are answered without the access token (probes carry none), so they say nothing an anonymous
caller should not learn: the reason is one fixed phrase, never the database's error text (which may
name hosts, users or paths). The error itself goes to the ``traceglass`` logger, once per streak of
failures, with any password in it masked.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from traceglass._secrets import mask_secrets

logger = logging.getLogger("traceglass")

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
# How long /readyz waits for the database; probes typically time out after 1-10 s.
READY_TIMEOUT_S = 2.0
NO_ANSWER = "the database did not answer in time"
UNREACHABLE = "the database cannot be reached"

class Health:
    """The two probe handlers over ``store`` (anything with a ``ping()`` that raises when the database is down)."""

    def __init__(self, store: Any, *, timeout: float | None = None) -> None:
        self.store = store
        self.timeout = READY_TIMEOUT_S if timeout is None else timeout
        self._ping: asyncio.Future[str | None] | None = None  # the one check in flight
        self._failing = False

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"cache-control": "no-store"})

    async def readyz(self, request: Request) -> Response:
        reason = await self.check()
        if reason is None:
            return JSONResponse({"status": "ready"}, headers={"cache-control": "no-store"})
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503,
                            headers={"cache-control": "no-store", "retry-after": "1"})

    async def check(self) -> str | None:
        """None when the database answered within the timeout, else why not (one fixed phrase).

        Probes arriving while a check is running share it, so a hung database holds one thread,
        not one per probe."""
        if self._ping is None or self._ping.done():
            self._ping = asyncio.ensure_future(run_in_threadpool(self._ping_once))
        try:
            return await asyncio.wait_for(asyncio.shield(self._ping), self.timeout)
        except asyncio.TimeoutError:
            self._log(f"no answer from the database within {self.timeout:g} s")
            return NO_ANSWER

    def _ping_once(self) -> str | None:
        try:
            self.store.ping()
        except Exception as exc:  # noqa: BLE001 - whatever the driver raises, the replica is not ready
            self._log(f"{type(exc).__name__}: {exc}")
            return UNREACHABLE
        if self._failing:
            self._failing = False
            logger.info("traceglass: the database answers again (/readyz is 200)")
        return None

    def _log(self, what: str) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        logger.log(level, "traceglass: not ready (/readyz is 503): %s", mask_secrets(what))
