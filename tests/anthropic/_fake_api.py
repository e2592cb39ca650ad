"""Anthropic's Messages API in miniature: exact JSON bodies and SSE event streams, served to real clients.

``respond(path, body)`` returns ``(status, headers, payload bytes)`` for a POST; tests serve it through
``httpx.MockTransport`` (:func:`mock_transport`, in-process) or a real HTTP server on 127.0.0.1
(:class:`LocalAnthropicServer`). What comes back depends on the request, as with the real API:

- ``POST .../messages``: a ``Message``; with ``"stream": true`` the event stream the API sends
  (``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``..., ``content_block_stop``,
  ``message_delta`` with the final ``stop_reason`` and usage, ``message_stop``). ``tools`` in the request ->
  a ``tool_use`` block (``stop_reason: tool_use``); ``thinking`` enabled -> a ``thinking`` block first.
- ``POST .../messages/count_tokens`` -> ``{"input_tokens": N}``; ``POST .../messages/batches`` -> a batch.
- Models that misbehave: ``error-<status>`` -> the API's error body (``rate_limit_error`` for 429, ``api_error``
  for 500, ``overloaded_error`` for 529, ...); ``malformed`` -> HTTP 200 with a body that is not JSON;
  ``broken-stream`` -> an ``error`` event (``overloaded_error``) midway through the stream; ``fifty-events`` ->
  50 text deltas; ``no-cache`` -> usage without cache counts.
- Bedrock's ``/model/<id>/invoke`` and Vertex's ``...:rawPredict`` / ``:streamRawPredict`` answer as
  ``/v1/messages`` (Bedrock's binary event-stream encoding is not spoken: no Bedrock streams).

To reuse it from another test package (LiteLLM's Anthropic route, say), start a real server on 127.0.0.1::

    from tests.anthropic._fake_api import LocalAnthropicServer

    with LocalAnthropicServer() as server:      # a daemon thread; shut down on exit
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test")   # base_url has no /v1
        ...                                     # server.bodies: every JSON body received, in order

Routes match on the path's suffix, so ``{server.base_url}/v1/messages`` and any prefix before it work.
The wire shapes (Message, usage, the event stream, error bodies) come from :mod:`traceglass.demo._anthropic`,
which the demo server's ``/v1/messages`` speaks too; this module picks the fixed replies tests assert.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from traceglass.demo import _anthropic
from traceglass.demo._anthropic import (
    sse,  # re-exported: the fault tests build streams with it
)

MESSAGE_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"
BATCH_ID = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
TEXT_PIECES = ["Hello", " there", "!"]
THINKING = "The user greets me; greet back."
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
TOOL_USE = {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
            "input": {"city": "Paris"}}
_REQUEST_ID = "req_011CSHoEeqs5C35K2UUqR7Fy"


def dated(model: str) -> str:
    """The model the API answers with: the dated snapshot of an alias."""
    return _anthropic.DATED_MODELS.get(model, model)


def usage(model: str, output_tokens: int = 12) -> dict[str, Any]:
    """A Message's usage. Anthropic counts ``input_tokens`` *without* the cached ones."""
    if model == "no-cache":
        return _anthropic.usage(25, output_tokens)
    return _anthropic.usage(25, output_tokens, cache_read=300, cache_write=40)


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def content_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if _thinking_on(body):
        blocks.append({"type": "thinking", "thinking": THINKING, "signature": SIGNATURE})
    if body.get("tools"):
        blocks.append({"type": "text", "text": "Let me check.", "citations": None})
        blocks.append(dict(TOOL_USE))
    else:
        blocks.append({"type": "text", "text": "".join(TEXT_PIECES), "citations": None})
    return blocks


def message(body: dict[str, Any]) -> dict[str, Any]:
    model = str(body.get("model") or "")
    return _anthropic.message(MESSAGE_ID, dated(model), content_blocks(body),
                              "tool_use" if body.get("tools") else "end_turn", usage(model))


def events(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event stream of a streamed Message, as the API sends it."""
    model = str(body.get("model") or "")
    final = message(body)
    if model == "fifty-events":
        final["content"] = [{"type": "text", "text": "".join(f"w{i} " for i in range(50)), "citations": None}]

    def pieces(text: str) -> list[str]:
        if model == "fifty-events":
            return [f"w{i} " for i in range(50)]
        return TEXT_PIECES if text == "".join(TEXT_PIECES) else [text]

    out = _anthropic.stream_events(final, pieces)
    if model == "broken-stream":  # the API fails midway: an error event, and nothing after it
        cut = next(i for i, (kind, _) in enumerate(out) if kind == "content_block_delta") + 2
        out = out[:cut] + [("error", {"type": "error", "error": {"type": "overloaded_error",
                                                                 "message": "Overloaded"}})]
    return out


def count_tokens(body: dict[str, Any]) -> dict[str, Any]:
    return {"input_tokens": 14 + 3 * len(body.get("messages") or ())}


def batch(body: dict[str, Any]) -> dict[str, Any]:
    return {"id": BATCH_ID, "type": "message_batch", "processing_status": "in_progress",
            "request_counts": {"processing": len(body.get("requests") or ()), "succeeded": 0, "errored": 0,
                               "canceled": 0, "expired": 0},
            "ended_at": None, "created_at": "2024-09-24T18:37:24.100435Z",
            "expires_at": "2024-09-25T18:37:24.100435Z", "archived_at": None, "cancel_initiated_at": None,
            "results_url": None}


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", "request-id": _REQUEST_ID}, \
        json.dumps(body).encode()


def error_body(status: int) -> dict[str, Any]:
    return _anthropic.error_body(status, f"Simulated {status}", _REQUEST_ID)


def respond(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """The API's answer to a POST of ``body`` to ``path``."""
    path = path.split("?")[0].rstrip("/")
    # Bedrock (/model/<id>/invoke) and Vertex (.../models/<id>:rawPredict, :streamRawPredict) name the
    # model in the path and take the Messages body without it.
    if path.endswith("/invoke") and "/model/" in path:
        body = {**body, "model": unquote(path.split("/model/", 1)[1].rsplit("/", 1)[0])}
        path = "/v1/messages"
    elif ":rawPredict" in path or ":streamRawPredict" in path:
        body = {**body, "model": path.rsplit("/models/", 1)[1].split(":", 1)[0]}
        path = "/v1/messages"
    model = str(body.get("model") or "")
    if path.endswith("/messages/batches"):
        return _json(200, batch(body))
    if model.startswith("error-"):
        status = int(model[6:])
        return _json(status, error_body(status))
    if path.endswith("/messages/count_tokens"):
        return _json(200, count_tokens(body))
    if path.endswith("/messages"):
        if model == "malformed":
            return 200, {"content-type": "application/json"}, b'{"id": "msg_01", "type": "mess'
        if body.get("stream") is True:
            return 200, {"content-type": "text/event-stream", "request-id": "req_1"}, sse(events(body))
        return _json(200, message(body))
    return _json(404, {"type": "error", "error": {"type": "not_found_error", "message": f"no route {path}"}})


def mock_transport(httpx_module: Any, requests: list[Any] | None = None) -> Any:
    """An ``httpx.MockTransport`` (of the SDK's httpx module) answering with :func:`respond`.

    A model named ``timeout`` raises a read timeout; ``unreachable`` a connection error.
    """

    def handler(request: Any) -> Any:
        body = json.loads(request.content or b"{}")
        if requests is not None:
            requests.append(request)
        if body.get("model") == "timeout":
            raise httpx_module.ReadTimeout("timed out", request=request)
        if body.get("model") == "unreachable":
            raise httpx_module.ConnectError("connection refused", request=request)
        status, headers, payload = respond(request.url.path, body)
        return httpx_module.Response(status, headers=headers, content=payload)

    return httpx_module.MockTransport(handler)


class LocalAnthropicServer:
    """:func:`respond` behind a real HTTP server on 127.0.0.1 (an ephemeral port), in a daemon thread.

    ``base_url`` is what ``anthropic.Anthropic(base_url=...)`` takes (no ``/v1``); ``bodies``: the JSON body
    of every request received, in order; ``headers``: their headers (lower-case names)."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []
        headers_seen: list[dict[str, str]] = []
        self.bodies = bodies
        self.headers = headers_seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                bodies.append(body)
                headers_seen.append({k.lower(): v for k, v in self.headers.items()})
                status, headers, payload = respond(self.path, body)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LocalAnthropicServer:  # noqa: PYI034 - Self needs Python 3.11
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
