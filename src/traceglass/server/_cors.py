"""CORS: which other web origins may call the API from a browser (none unless listed).

A feedback widget in the user's own app (``https://app.example``) posts scores to this server with
``Authorization: Bearer <token>`` and a JSON body, so the browser first sends a preflight
(``OPTIONS``). An origin on the allow-list gets the ``Access-Control-*`` answers; any other origin
gets no CORS header at all, so the browser keeps the response from its page. CORS only decides
what a browser lets a page *read*: the token and Host checks still apply to every actual request.
No cookies cross origins (no ``Access-Control-Allow-Credentials``): a page elsewhere must present
the token itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

METHODS = ("GET", "POST", "DELETE")
HEADERS = ("authorization", "content-type", "content-encoding")
MAX_AGE_S = 600
# scheme://host[:port], nothing after: what a browser sends as Origin.
_ORIGIN = re.compile(r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?")

Headers = list[tuple[bytes, bytes]]


def check_origin(text: str) -> str:
    """``text`` as an origin the browser sends (lower-case ``scheme://host[:port]``); ValueError else."""
    origin = text.strip().lower().rstrip("/")  # a pasted https://app.example/ means the origin
    if origin in ("*", "null"):
        raise ValueError(f"CORS origin {text!r} is not allowed: name each origin, e.g. https://app.example")
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(f"CORS origin must be scheme://host[:port] with no path, e.g. "
                         f"https://app.example or http://localhost:3000; got {text!r}")
    return origin


class CorsPolicy:
    """The allow-list, and the headers each request from a browser gets."""

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(check_origin(origin) for origin in origins)
        if not self.origins:
            raise ValueError("a CORS policy needs at least one origin")

    @staticmethod
    def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
        return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin.lower() in self.origins

    def preflight(self, headers: Mapping[str, str]) -> Headers | None:
        """The answer's headers for an allowed preflight; None when the origin, the method or a
        requested header is not allowed."""
        origin = headers.get("origin")
        method = headers.get("access-control-request-method", "").strip().upper()
        requested = {h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")} - {""}
        if not self.allows(origin) or method not in METHODS or not requested <= set(HEADERS):
            return None
        return [*self.response_headers(origin),
                (b"access-control-allow-methods", ", ".join(METHODS).encode()),
                (b"access-control-allow-headers", ", ".join(HEADERS).encode()),
                (b"access-control-max-age", str(MAX_AGE_S).encode())]

    def response_headers(self, origin: str | None) -> Headers:
        """What any response to ``origin`` carries: the allow header for a listed origin, and always
        ``Vary: Origin`` (the answer depends on it, so a cache must not share it across origins)."""
        if not self.allows(origin):
            return [(b"vary", b"Origin")]
        assert origin is not None
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
