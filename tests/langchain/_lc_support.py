"""Helpers for the LangChain tests: span-tree shapes and a local OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def tree(spans: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """Spans as ``(depth, name, span type)`` rows in depth-first start order: the shape of a trace."""
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        parent = s["parent_id"] if s["parent_id"] in by_id else None
        children.setdefault(parent, []).append(s)
    rows: list[tuple[int, str, str]] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda s: s["start_time"]):
            rows.append((depth, s["name"], s["attributes"].get("traceglass.span.type")))
            walk(s["span_id"], depth + 1)

    walk(None, 0)
    return rows


def parent_of(spans: list[dict[str, Any]], span: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in spans if s["span_id"] == span["parent_id"]), None)


def chat_completion(content: str | None = "Hi there", *, tool_calls: list[dict[str, Any]] | None = None,
                    prompt_tokens: int = 10, completion_tokens: int = 2, cached: int = 4) -> dict[str, Any]:
    """An exact OpenAI chat.completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1763900000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
    }


def stream_chunks(text: str, *, prompt_tokens: int = 10, completion_tokens: int = 2) -> list[dict[str, Any]]:
    """Exact chat.completion.chunk bodies for ``text`` word by word, then a usage chunk."""
    base = {"id": "chatcmpl-stream1", "object": "chat.completion.chunk", "created": 1763900000,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_0ba0d124f1"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "logprobs": None, "finish_reason": None}]}]
    for i, word in enumerate(text.split(" ")):
        piece = word if i == 0 else " " + word
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}, "logprobs": None,
                                            "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}})
    return chunks


class OpenAIServer:
    """A local OpenAI-compatible server on 127.0.0.1 replying from a queue of canned bodies."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                reply = server.replies.pop(0) if server.replies else chat_completion()
                status = 200
                if isinstance(reply, int):  # an HTTP error status, with OpenAI's error body
                    status, reply = reply, {"error": {"message": "Invalid model", "type": "invalid_request_error",
                                                      "param": "model", "code": "model_not_found"}}
                if body.get("stream") and status == 200:
                    chunks = reply if isinstance(reply, list) else stream_chunks("Hi there")
                    data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
                    data += b"data: [DONE]\n\n"
                    content_type = "text/event-stream"
                else:
                    data = json.dumps(reply).encode()
                    content_type = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}/v1"
        self.port = self._httpd.server_port

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
