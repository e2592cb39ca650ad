"""OpenAI's HTTP API in miniature: exact response shapes, served to the real SDK.

``respond(path, body)`` returns ``(status, headers, payload bytes)`` for a request; tests serve it
through ``httpx.MockTransport`` (:func:`mock_transport`) or a real HTTP server on 127.0.0.1
(:class:`LocalOpenAIServer`). What comes back depends on the request, as with the real API:
``tools`` in a chat request -> a tool call; ``stream`` -> SSE chunks (with
``stream_options.include_usage``: ``"usage": null`` on every chunk and a last usage-only chunk,
for chat and legacy completions alike); a model named ``error-<status>`` -> an OpenAI error body;
``broken-stream`` -> an error event midway through the stream. ``reject_stream_options`` answers
as a server that does not know ``stream_options`` (older Azure API versions): HTTP 400.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = 1700000000
CHAT_ID = "chatcmpl-abc123"
RESPONSE_ID = "resp_abc123"
FINGERPRINT = "fp_44709d6fcb"
TEXT_PIECES = ["Hello", " there", "!"]
VECTOR = [0.25, -0.5, 0.125]
_ERROR_CODES = {400: "invalid_request", 401: "invalid_api_key", 429: "rate_limit_exceeded", 500: None}


def dated(model: str) -> str:
    return {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}.get(model, model)


def chat_usage(prompt: int = 20, completion: int = 5, cached: int = 8, reasoning: int = 2) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


TOOL_CALL = {"id": "call_weather1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}


def chat_completion(model: str, tools: bool, n: int = 1) -> dict[str, Any]:
    if tools:
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [TOOL_CALL]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": "".join(TEXT_PIECES), "refusal": None}
        finish = "stop"
    return {
        "id": CHAT_ID, "object": "chat.completion", "created": CREATED, "model": dated(model),
        "choices": [{"index": i, "message": message, "logprobs": None, "finish_reason": finish} for i in range(n)],
        "usage": chat_usage(), "service_tier": "default", "system_fingerprint": FINGERPRINT,
    }


def chat_chunks(model: str, tools: bool, include_usage: bool, pieces: list[str] | None = None) -> list[dict[str, Any]]:
    pieces = TEXT_PIECES if pieces is None else pieces

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out = {"id": CHAT_ID, "object": "chat.completion.chunk", "created": CREATED, "model": dated(model),
               "service_tier": "default", "system_fingerprint": FINGERPRINT,
               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if tools:
        args = TOOL_CALL["function"]["arguments"]
        chunks.append(chunk({"tool_calls": [{"index": 0, "id": TOOL_CALL["id"], "type": "function",
                                             "function": {"name": "get_weather", "arguments": ""}}]}))
        for start in range(0, len(args), 6):
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[start:start + 6]}}]}))
        chunks.append(chunk({}, "tool_calls"))
    else:
        chunks.extend(chunk({"content": piece}) for piece in pieces)
        chunks.append(chunk({}, "stop"))
    if include_usage:
        chunks.append({"id": CHAT_ID, "object": "chat.completion.chunk", "created": CREATED, "model": dated(model),
                       "service_tier": "default", "system_fingerprint": FINGERPRINT, "choices": [],
                       "usage": chat_usage()})
    return chunks


def text_completion(model: str) -> dict[str, Any]:
    return {"id": "cmpl-abc123", "object": "text_completion", "created": CREATED, "model": dated(model),
            "choices": [{"text": "Once upon a time", "index": 0, "logprobs": None, "finish_reason": "length"}],
            "usage": COMPLETION_USAGE, "system_fingerprint": FINGERPRINT}


COMPLETION_USAGE = {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8}


def completion_chunks(model: str, include_usage: bool = False) -> list[dict[str, Any]]:
    pieces = ["Once", " upon", " a time"]
    out = [{"id": "cmpl-abc123", "object": "text_completion", "created": CREATED, "model": dated(model),
            "choices": [{"text": p, "index": 0, "logprobs": None, "finish_reason": None}]} for p in pieces]
    out[-1]["choices"][0]["finish_reason"] = "length"
    if include_usage:
        for chunk in out:
            chunk["usage"] = None
        out.append({"id": "cmpl-abc123", "object": "text_completion", "created": CREATED, "model": dated(model),
                    "choices": [], "usage": COMPLETION_USAGE})
    return out


def embeddings(model: str, count: int, encoding: str | None) -> dict[str, Any]:
    def vector(i: int) -> Any:
        values = [v + i for v in VECTOR]
        if encoding == "base64":
            return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        return values

    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": vector(i)} for i in range(count)],
            "usage": {"prompt_tokens": 3 * count, "total_tokens": 3 * count}}


def response_object(model: str, tools: bool, status: str = "completed") -> dict[str, Any]:
    if tools:
        output = [{"type": "function_call", "id": "fc_1", "call_id": "call_weather1", "name": "get_weather",
                   "arguments": "{\"city\": \"Paris\"}", "status": "completed"}]
    else:
        output = [
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Greet back."}]},
            {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "".join(TEXT_PIECES), "annotations": []}]},
        ]
    return {
        "id": RESPONSE_ID, "object": "response", "created_at": CREATED, "status": status, "model": dated(model),
        "output": output if status == "completed" else [], "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [], "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
        "temperature": 1.0, "top_p": 1.0, "service_tier": "default",
        "usage": {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42,
                  "input_tokens_details": {"cached_tokens": 10},
                  "output_tokens_details": {"reasoning_tokens": 4}} if status == "completed" else None,
    }


def response_events(model: str, tools: bool) -> list[tuple[str, dict[str, Any]]]:
    """The event sequence of a streamed Response, as OpenAI sends it."""
    started = response_object(model, tools, status="in_progress")
    final = response_object(model, tools)
    raw: list[dict[str, Any]] = [{"type": "response.created", "response": started},
                                 {"type": "response.in_progress", "response": started}]
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            empty = {**item, "status": "in_progress", "content": []}
            part = {"type": "output_text", "text": "", "annotations": []}
            raw.append({"type": "response.output_item.added", "output_index": index, "item": empty})
            raw.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "part": part})
            raw.extend({"type": "response.output_text.delta", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "delta": piece, "logprobs": []} for piece in TEXT_PIECES)
            raw.append({"type": "response.output_text.done", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "text": "".join(TEXT_PIECES), "logprobs": []})
            raw.append({"type": "response.content_part.done", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "part": item["content"][0]})
        elif item["type"] == "function_call":
            raw.append({"type": "response.output_item.added", "output_index": index,
                        "item": {**item, "arguments": "", "status": "in_progress"}})
            raw.append({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                        "output_index": index, "delta": item["arguments"]})
            raw.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                        "output_index": index, "arguments": item["arguments"]})
        else:
            raw.append({"type": "response.output_item.added", "output_index": index, "item": item})
        raw.append({"type": "response.output_item.done", "output_index": index, "item": item})
    raw.append({"type": "response.completed", "response": final})
    return [(event["type"], {**event, "sequence_number": n}) for n, event in enumerate(raw)]


def _sse(items: list[Any]) -> bytes:
    out = []
    for item in items:
        if isinstance(item, tuple):
            out.append(f"event: {item[0]}\ndata: {json.dumps(item[1])}\n\n")
        else:
            out.append(f"data: {json.dumps(item)}\n\n")
    return "".join(out).encode()


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", "x-request-id": "req_123"}, json.dumps(body).encode()


def _stream(items: list[Any], done: bool = True) -> tuple[int, dict[str, str], bytes]:
    payload = _sse(items) + (b"data: [DONE]\n\n" if done else b"")
    return 200, {"content-type": "text/event-stream"}, payload


def respond(path: str, body: dict[str, Any], reject_stream_options: bool = False) -> tuple[int, dict[str, str], bytes]:
    """The API's answer to a POST of ``body`` to ``path``."""
    model = str(body.get("model") or "")
    if reject_stream_options and "stream_options" in body:  # Azure's answer before API version 2024-09-01
        return _json(400, {"error": {"message": "Unrecognized request argument supplied: stream_options",
                                     "type": "invalid_request_error", "param": None, "code": None}})
    if model.startswith("error-"):
        status = int(model[6:])
        code = _ERROR_CODES.get(status)
        return _json(status, {"error": {"message": f"Simulated {status}", "type": "invalid_request_error",
                                        "param": None, "code": code}})
    stream = body.get("stream") is True
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    tools = bool(body.get("tools"))
    path = path.split("?")[0].rstrip("/")
    # /v1/chat/completions, or Azure's /openai/deployments/<name>/chat/completions
    route = next((r for r in ("/chat/completions", "/completions", "/embeddings", "/responses") if path.endswith(r)),
                 path)
    if route == "/chat/completions":
        if stream:
            if model == "broken-stream":
                chunks: list[Any] = chat_chunks(model, False, False)[:2]
                chunks.append({"error": {"message": "stream broke", "type": "server_error", "code": "stream_broken"}})
                return _stream(chunks, done=False)
            pieces = [f"w{i} " for i in range(50)] if model == "fifty-chunks" else None
            return _stream(chat_chunks(model, tools, include_usage, pieces))
        return _json(200, chat_completion(model, tools, int(body.get("n") or 1)))
    if route == "/completions":
        return _stream(completion_chunks(model, include_usage)) if stream else _json(200, text_completion(model))
    if route == "/embeddings":
        inputs = body.get("input")
        count = 1 if isinstance(inputs, str) else len(inputs or ())
        return _json(200, embeddings(model, count, body.get("encoding_format")))
    if route == "/responses":
        if model == "failed-response":  # the model failed: HTTP 200, a response with status "failed"
            failed = {**response_object(model, tools, status="failed"),
                      "error": {"code": "server_error", "message": "The model failed to respond"}}
            if not stream:
                return _json(200, failed)
            started = response_object(model, tools, status="in_progress")
            return _stream([("response.created", {"type": "response.created", "response": started,
                                                  "sequence_number": 0}),
                            ("response.failed", {"type": "response.failed", "response": failed,
                                                 "sequence_number": 1})])
        if model == "broken-off" and stream:  # the stream breaks off with an error event
            events = response_events(model, tools)[:8]  # up to the first two text deltas
            events.append(("error", {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down",
                                     "param": None, "sequence_number": len(events)}))
            return _stream(events, done=False)
        return _stream(response_events(model, tools)) if stream else _json(200, response_object(model, tools))
    return _json(404, {"error": {"message": f"no route {path}", "type": "invalid_request_error",
                                 "param": None, "code": "not_found"}})


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


class LocalOpenAIServer:
    """:func:`respond` behind a real HTTP server on 127.0.0.1, in a daemon thread.

    ``bodies``: the JSON body of every request received, in order."""

    def __init__(self, reject_stream_options: bool = False) -> None:
        bodies: list[dict[str, Any]] = []
        self.bodies = bodies
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                bodies.append(body)
                status, headers, payload = respond(self.path, body, reject_stream_options)
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
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> LocalOpenAIServer:  # noqa: PYI034 - Self needs Python 3.11
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
