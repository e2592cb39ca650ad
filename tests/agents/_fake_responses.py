"""A scripted OpenAI Responses API on 127.0.0.1 for agent frameworks (tool loops and handoffs).

``tests/openai/_fake_api.py`` answers a request with tools by calling ``get_weather`` every time,
which an agent loop would repeat forever. This fake decides from the conversation so far:

* a tool offered in ``tools`` and not yet called in the input (no ``function_call`` item with its
  name) is called, with arguments made from its JSON schema (strings ``"Paris"``, numbers ``1``);
  tools named in ``skip_tools`` are never called (an agent's handoff target that should answer);
  ``repeat=k`` calls each pending tool k times in one response (parallel calls: ids ``call_<n>``,
  ``call_<n>_1``, ..., string arguments "Paris", "Rome", "Oslo" in turn);
* otherwise the model answers with text: ``"answer <n>"`` (n counts the answers given so far).

Every response reports the same usage (``USAGE``), so trace totals are exact multiples of it.
Streams (``"stream": true``) send the Responses event sequence for the same output.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INPUT_TOKENS = 30
OUTPUT_TOKENS = 12
USAGE = {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS,
         "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
         "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
MODEL_SUFFIX = "-2024-08-06"  # the response reports a dated model, as OpenAI does


def _called(items: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("type") == "function_call":
                names.add(str(item.get("name")))
    return names


_CITIES = ("Paris", "Rome", "Oslo")


def _arguments(tool: dict[str, Any], repeat: int = 0) -> str:
    schema = tool.get("parameters") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or ():
        kind = ((schema.get("properties") or {}).get(name) or {}).get("type")
        out[name] = 1 if kind in ("integer", "number") else _CITIES[repeat % len(_CITIES)]
    return json.dumps(out)


class ScriptedResponses:
    """The decision logic, shared by the HTTP server and tests that inspect requests."""

    def __init__(self, skip_tools: tuple[str, ...] = (), repeat: int = 1) -> None:
        self.skip_tools = set(skip_tools)
        self.repeat = repeat  # >1: each pending tool is called that many times in one response
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._count = 0

    def response(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.bodies.append(body)
            self._count += 1
            n = self._count
        called = _called(body.get("input"))
        pending = [t for t in body.get("tools") or () if t.get("type") == "function"
                   and t.get("name") not in called and t.get("name") not in self.skip_tools]
        if pending and self.repeat > 1:  # parallel calls: ids call_<n>, call_<n>_1, ...
            output: list[dict[str, Any]] = []
            for tool in pending:
                for k in range(self.repeat):
                    suffix = f"_{len(output)}" if output else ""
                    output.append({"type": "function_call", "id": f"fc_{n}{suffix}", "call_id": f"call_{n}{suffix}",
                                   "name": tool["name"], "arguments": _arguments(tool, k), "status": "completed"})
        elif pending:
            tool = pending[0]
            output = [{
                "type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}", "name": tool["name"],
                "arguments": _arguments(tool), "status": "completed"}]
        else:
            output = [{"type": "message", "id": f"msg_{n}", "status": "completed", "role": "assistant",
                       "content": [{"type": "output_text", "text": f"answer {n}", "annotations": []}]}]
        model = str(body.get("model") or "")
        return {
            "id": f"resp_{n}", "object": "response", "created_at": 1763900000, "status": "completed",
            "model": model + MODEL_SUFFIX, "output": output, "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [], "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "metadata": {}, "temperature": 1.0, "top_p": 1.0,
            "service_tier": "default", "usage": dict(USAGE),
        }


def stream_events(final: dict[str, Any]) -> list[dict[str, Any]]:
    """The Responses streaming events for ``final``, as OpenAI sends them."""
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    raw: list[dict[str, Any]] = [{"type": "response.created", "response": started},
                                 {"type": "response.in_progress", "response": started}]
    for index, item in enumerate(final["output"]):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            raw.append({"type": "response.output_item.added", "output_index": index,
                        "item": {**item, "status": "in_progress", "content": []}})
            raw.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})
            for piece in text.split(" "):
                raw.append({"type": "response.output_text.delta", "item_id": item["id"], "output_index": index,
                            "content_index": 0, "delta": piece + " ", "logprobs": []})
            raw.append({"type": "response.output_text.done", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "text": text, "logprobs": []})
            raw.append({"type": "response.content_part.done", "item_id": item["id"], "output_index": index,
                        "content_index": 0, "part": item["content"][0]})
        else:
            raw.append({"type": "response.output_item.added", "output_index": index,
                        "item": {**item, "arguments": "", "status": "in_progress"}})
            raw.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                        "output_index": index, "arguments": item["arguments"]})
        raw.append({"type": "response.output_item.done", "output_index": index, "item": item})
    raw.append({"type": "response.completed", "response": final})
    return [{**event, "sequence_number": n} for n, event in enumerate(raw)]


class ResponsesServer:
    """:class:`ScriptedResponses` behind a real HTTP server on 127.0.0.1 (a daemon thread)."""

    def __init__(self, skip_tools: tuple[str, ...] = (), repeat: int = 1) -> None:
        script = self.script = ScriptedResponses(skip_tools, repeat)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.split("?")[0].rstrip("/").endswith("/responses"):
                    self._send(404, "application/json", json.dumps({"error": {"message": "no route"}}).encode())
                    return
                final = script.response(body)
                if body.get("stream") is True:
                    payload = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"
                                      for e in stream_events(final)).encode()
                    self._send(200, "text/event-stream", payload)
                else:
                    self._send(200, "application/json", json.dumps(final).encode())

            def _send(self, status: int, content_type: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ResponsesServer:  # noqa: PYI034 - Self needs Python 3.11
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
