"""The server's guards, as one ASGI middleware: access token, Host check, body size limit, headers.

* Token: when the server has one, every request presents it as ``Authorization: Bearer <token>``
  (API and OTLP clients), or as the ``traceglass_token`` cookie (the browser). Opening
  ``/?token=<token>`` once sets that cookie (HttpOnly, SameSite=Strict) and redirects to the same
  page without the token, so it does not linger in the address bar or history.
* Host: without a token the server only answers requests addressed to a loopback name, so a web
  page on another site cannot reach it through DNS rebinding.
* Body size: a larger ``Content-Length`` or a longer streamed body gets 413.
* Headers: a strict Content-Security-Policy (no inline script at all) on every response, so even
  markup that slipped into the page could not run.
* Public paths (the health probes, :mod:`traceglass.server._health`): ``GET``/``HEAD`` need no
  token (an orchestrator's probe carries none); the Host check and the headers still apply.
* CORS (only with an allow-list, :mod:`traceglass.server._cors`): a preflight from a listed origin
  is answered here, after the Host check and before the token check (a preflight carries no
  credentials); every response to a listed origin, errors included, says it may read it.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from traceglass.server._cors import CorsPolicy

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_ENV = "TRACEGLASS_TOKEN"
COOKIE = "traceglass_token"
QUERY = "token"
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                  b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def same_origin_path(path: str) -> str:
    """``path`` as a redirect target that stays on this server: one leading slash (``//host/`` and
    ``/\\host/`` would send the browser to another site) and percent-encoded, so any path is ASCII."""
    return "/" + quote(path.lstrip("/\\"), safe="/:@!$&'()*+,;=~")


class BodyTooLargeError(Exception):
    """A request body, as sent or decompressed, is larger than the server accepts (HTTP 413)."""


def _host_name(value: str) -> str:
    """The name in a Host header without its port; anything malformed comes back whole (not loopback)."""
    if value.startswith("["):  # [::1]:8080; but [::1].attacker.example is a name, not an address
        end = value.find("]")
        rest = value[end + 1:]
        return value[: end + 1] if end > 0 and (rest == "" or (rest[0] == ":" and rest[1:].isdigit())) else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SecurityMiddleware:
    """Token check, loopback Host check, body size limit, CORS and security headers around ``app``."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 cors: CorsPolicy | None = None, public_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.public_paths = public_paths
        self.token = token or None
        self.max_body_bytes = max_body_bytes
        self.cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        cors_headers = self.cors.response_headers(headers.get("origin")) if self.cors is not None else []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS, *cors_headers]
            await send(message)

        if self.token is None and not is_loopback(_host_name(headers.get("host", "localhost"))):
            await _json(send_with_headers, 403, "this server only answers requests to localhost; start it with "
                                                "a token (--token or TRACEGLASS_TOKEN) to serve other hosts")
            return
        if self.cors is not None and CorsPolicy.is_preflight(scope.get("method", ""), headers):
            await self._preflight(self.cors, headers, send)
            return
        public = scope.get("path") in self.public_paths and scope.get("method") in ("GET", "HEAD")
        if self.token is not None and not public:
            verdict = self._authorize(scope, headers)
            if verdict == "redirect":
                await self._set_cookie_and_redirect(scope, send_with_headers)
                return
            if verdict != "ok":
                await _json(send_with_headers, 401, "missing or wrong access token: send 'Authorization: Bearer "
                                                    "<token>', or open the dashboard once as /?token=<token>",
                            extra=[(b"www-authenticate", b'Bearer realm="traceglass"')])
                return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _json(send_with_headers, 413, f"request body is larger than {self.max_body_bytes} bytes")
            return
        started = False
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLargeError(f"request body is larger than {self.max_body_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_with_headers(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await _json(send_with_headers, 413, f"request body is larger than {self.max_body_bytes} bytes")

    @staticmethod
    async def _preflight(cors: CorsPolicy, headers: dict[str, str], send: Send) -> None:
        allowed = cors.preflight(headers)
        if allowed is None:  # no Access-Control-* header: the browser refuses the actual request
            await _json(send, 403, "CORS preflight refused: this origin, method or header is not allowed",
                        extra=[*SECURITY_HEADERS, (b"vary", b"Origin")])
            return
        await send({"type": "http.response.start", "status": 204,
                    "headers": [*allowed, *SECURITY_HEADERS, (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def _authorize(self, scope: Scope, headers: dict[str, str]) -> str:
        assert self.token is not None
        if scope.get("method") == "OPTIONS" and "access-control-request-method" in headers:
            return "ok"  # a CORS preflight carries no credentials and no data
        expected = self.token.encode()
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), expected):
            return "ok"
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
            pass
        if COOKIE in cookie and hmac.compare_digest(cookie[COOKIE].value.encode(), expected):
            return "ok"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if QUERY in query and hmac.compare_digest(query[QUERY].encode(), expected):
            return "redirect" if scope.get("method") == "GET" else "ok"
        return "denied"

    async def _set_cookie_and_redirect(self, scope: Scope, send: Send) -> None:
        # The query's bytes pass through unchanged (latin-1 maps bytes 1:1), only the token leaves.
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True,
                          encoding="latin-1")
        rest = [(k, v) for k, v in query if k != QUERY]
        location = same_origin_path(scope.get("path", "/")) + (f"?{urlencode(rest, encoding='latin-1')}"
                                                               if rest else "")
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", location.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
                                (b"cache-control", b"no-store"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


async def _json(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
