"""``/docs``: the API reference, a static page (static/apidocs.html) that renders the server's own
OpenAPI document in the browser (static/apidocs.js). No viewer library: it works offline and under the
dashboard's strict Content-Security-Policy (no inline script, no eval)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, Response


def docs_page(static: str) -> Callable[[Request], Awaitable[Response]]:
    """The handler of ``GET /docs`` serving the page from the dashboard's ``static`` directory."""
    path = os.path.join(static, "apidocs.html")

    async def docs(request: Request) -> Response:
        return FileResponse(path, media_type="text/html; charset=utf-8", headers={"cache-control": "no-cache"})

    return docs
