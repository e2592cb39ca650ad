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
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

MESSAGE_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"
BATCH_ID = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
TEXT_PIECES = ["Hello", " there", "!"]
THINKING = "The user greets me; greet back."
SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
TOOL_USE = {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
            "input": {"city": "Paris"}}
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                529: "overloaded_error"}


def dated(model: str) -> str:
    """The model the API answers with: the dated snapshot of an alias."""
    return {"claude-sonnet-4-5": "claude-sonnet-4-5-20250929", "claude-haiku-4-5": "claude-haiku-4-5-20251001",
            "claude-opus-4-1": "claude-opus-4-1-20250805"}.get(model, model)


def usage(model: str, output_tokens: int = 12) -> dict[str, Any]:
    """A Message's usage. Anthropic counts ``input_tokens`` *without* the cached ones."""
    if model == "no-cache":
        return {"input_tokens": 25, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": output_tokens, "service_tier": "standard"}
    return {"input_tokens": 25, "cache_creation_input_tokens": 40, "cache_read_input_tokens": 300,
            "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 0},
            "output_tokens": output_tokens, "service_tier": "standard"}


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
    return {"id": MESSAGE_ID, "type": "message", "role": "assistant", "model": dated(model),
            "content": content_blocks(body), "stop_reason": "tool_use" if body.get("tools") else "end_turn",
            "stop_sequence": None, "usage": usage(model)}


def events(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event stream of a streamed Message, as the API sends it."""
    model = str(body.get("model") or "")
    final = message(body)
    if model == "fifty-events":
        final["content"] = [{"type": "text", "text": "".join(f"w{i} " for i in range(50)), "citations": None}]
    # message_start: empty content, null stop_reason, the input usage and a placeholder output count.
    start_usage = {**final["usage"], "output_tokens": 1}
    out: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": {
        **final, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})]
    for index, block in enumerate(final["content"]):
        kind = block["type"]
        if kind == "text":
            pieces = [f"w{i} " for i in range(50)] if model == "fifty-events" else (
                TEXT_PIECES if block["text"] == "".join(TEXT_PIECES) else [block["text"]])
            out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}}))
            if index == 0:
                out.append(("ping", {"type": "ping"}))
            out.extend(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                "delta": {"type": "text_delta", "text": piece}}) for piece in pieces)
        elif kind == "thinking":
            out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "thinking", "thinking": "",
                                                                  "signature": ""}}))
            half = len(THINKING) // 2
            for piece in (THINKING[:half], THINKING[half:]):
                out.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "thinking_delta", "thinking": piece}}))
            out.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                "delta": {"type": "signature_delta", "signature": SIGNATURE}}))
        elif kind == "tool_use":
            out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {**block, "input": {}}}))
            args = json.dumps(block["input"])
            for start in range(0, len(args), 7):
                out.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "input_json_delta",
                                                              "partial_json": args[start:start + 7]}}))
        out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    # message_delta: the final stop_reason and the cumulative usage.
    out.append(("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": final["stop_reason"], "stop_sequence": None},
                                  "usage": {"output_tokens": final["usage"]["output_tokens"]}}))
    out.append(("message_stop", {"type": "message_stop"}))
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


def sse(items: list[tuple[str, dict[str, Any]]]) -> bytes:
    return "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in items).encode()


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", "request-id": "req_011CSHoEeqs5C35K2UUqR7Fy"}, \
        json.dumps(body).encode()


def error_body(status: int) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"),
                                       "message": f"Simulated {status}"},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}


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
