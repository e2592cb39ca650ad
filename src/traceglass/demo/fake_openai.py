"""A local OpenAI-compatible HTTP server with plausible replies and real-looking usage figures.

Serves ``/v1/chat/completions`` (JSON and SSE streams, tool calls), ``/v1/completions``,
``/v1/embeddings`` (float and base64), ``/v1/responses`` (JSON and SSE, function calls) and ``/v1/models``, in
the exact shapes of OpenAI's API, so the real ``openai`` client — and anything built on it —
runs against it with no API key and no network. It also speaks Anthropic's Messages API
(``/v1/messages``, JSON and SSE, tool use, prompt caching; ``/v1/messages/count_tokens``) for the
``anthropic`` client given :attr:`FakeOpenAIServer.anthropic_base_url`. A model named
``error-429`` (any status) answers with that status and the API's error body. It drives agent
loops: offered tools, Chat Completions calls one when the last message is the user's and answers
once a tool result is in; the Responses API calls each offered function tool once per user turn
(so a handed-off agent calls its own), then answers from the last tool result. Repeated prompt prefixes are reported as
cached input tokens, as OpenAI's prompt caching does.

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="demo")

``traceglass demo-server`` (or ``python -m traceglass.demo.fake_openai``) runs it in the
foreground. Each endpoint is one entry of :data:`ROUTES`; a new one (another provider's API, a
judge) is a function added there, and every way of running the server serves it.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

from traceglass.demo import _anthropic, _judge, _replies

DATED_MODELS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
}
_FINGERPRINT = "fp_traceglass01"
_MAX_BODY = 8 * 1024 * 1024
_ERRORS = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", "server_error"),
    503: ("server_error", "service_unavailable"),
}


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


class _PromptCache:
    """Remembers prompt prefixes so a repeated prefix reports cached input tokens."""

    def __init__(self) -> None:
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def cached_tokens(self, prefix: str) -> int:
        tokens = _replies.count_tokens(prefix)
        if tokens < 32:
            return 0
        with self._lock:
            hit = prefix in self._seen
            self._seen[prefix] = None
            self._seen.move_to_end(prefix)
            while len(self._seen) > 1000:
                self._seen.popitem(last=False)
        return tokens if hit else 0


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    # --- plumbing -------------------------------------------------------------------------
    def _send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", _id("req"))
        self.end_headers()
        self.wfile.write(data)

    def _send_events(self, events: Iterator[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for event, data in events:
                text = data if isinstance(data, str) else json.dumps(data)
                prefix = f"event: {event}\n" if event else ""
                self.wfile.write(f"{prefix}data: {text}\n\n".encode())
                self.wfile.flush()
                if self.server.chunk_delay:
                    time.sleep(self.server.chunk_delay)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client closed the stream early

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        if self.path.split("?")[0].startswith("/v1/messages"):  # Anthropic's routes answer in its error shape
            self._send_json(status, _anthropic.error_body(status, message))
            return
        kind, default_code = _ERRORS.get(status, ("server_error", "error"))
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None,
                                           "code": code or default_code}})

    def _route(self, method: str) -> Route | None:
        route = self.server.routes.get((method, self.path.split("?")[0].rstrip("/")))
        if route is None:
            self._error(404, f"Unknown path {self.path}", "not_found")
        return route

    def do_GET(self) -> None:  # noqa: N802
        route = self._route("GET")
        if route is not None:
            route(self, {}, "")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._error(400, "Request body too large")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._error(400, "We could not parse the JSON body of your request.")
            return
        self.server.record(self.path, body)
        model = str(body.get("model") or "")
        if model.startswith("error-") and model[6:].isdigit():
            status = int(model[6:])
            self._error(status, f"Simulated error {status} for model {model}")
            return
        route = self._route("POST")
        if route is not None:
            route(self, body, model)

    # --- models ---------------------------------------------------------------------------
    def _models(self, body: dict[str, Any], model: str) -> None:
        self._send_json(200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"} for m in DATED_MODELS
        ]})

    # --- chat completions -----------------------------------------------------------------
    def _chat(self, body: dict[str, Any], model: str) -> None:
        messages = body.get("messages") or []
        if not messages:
            self._error(400, "'messages' is a required property")
            return
        if _judge.is_judge_request(body):  # traceglass's LLM judges: a deterministic verdict
            self._judge_verdict(body, model)
            return
        prompt = "\n".join(_replies.message_text(m) for m in messages)
        prefix = "\n".join(_replies.message_text(m) for m in messages[:-1])
        last = messages[-1]
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        tool_calls = None
        if tools and last.get("role") == "user" and body.get("tool_choice") != "none":
            tool = tools[0]
            tool_calls = [{
                "id": "call_" + uuid.uuid4().hex[:24],
                "type": "function",
                "function": {"name": (tool.get("function") or {}).get("name", "tool"),
                             "arguments": _replies.tool_arguments(tool, _replies.message_text(last))},
            }]
            text = None
        elif last.get("role") == "tool":
            text = _replies.tool_result_reply(_replies.message_text(last))
        else:
            text = _replies.reply_text(_replies.message_text(last), prefix)
        if body.get("max_tokens") or body.get("max_completion_tokens"):
            limit = int(body.get("max_completion_tokens") or body.get("max_tokens"))
            words = (text or "").split()
            finish = "length" if text is not None and len(words) > limit else None
            if finish:
                text = " ".join(words[:limit])
        else:
            finish = None
        finish = finish or ("tool_calls" if tool_calls else "stop")
        prompt_tokens = _replies.count_tokens(prompt) + 7 * len(messages) + 30 * len(tools)
        completion_text = text or json.dumps(tool_calls)
        usage = _chat_usage(prompt_tokens, _replies.count_tokens(completion_text),
                            self.server.cache.cached_tokens(prefix))
        response_model = DATED_MODELS.get(model, model)
        completion_id = _id("chatcmpl")
        created = int(time.time())
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._send_events(_chat_chunks(completion_id, created, response_model, text, tool_calls, finish,
                                           usage if include_usage else None))
            return
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        if tool_calls:
            message["tool_calls"] = tool_calls
        self._send_json(200, {
            "id": completion_id, "object": "chat.completion", "created": created, "model": response_model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage, "service_tier": "default", "system_fingerprint": _FINGERPRINT,
        })

    def _judge_verdict(self, body: dict[str, Any], model: str) -> None:
        if _judge.rejects_response_format(body, model):
            self._error(400, f"response_format is not supported with model {model}", "unsupported_parameter")
            return
        content, refusal = _judge.reply(body)
        prompt = "\n".join(_replies.message_text(m) for m in body["messages"])
        usage = _chat_usage(_replies.count_tokens(prompt), _replies.count_tokens(content or refusal or ""), 0)
        self._send_json(200, {
            "id": _id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
            "model": DATED_MODELS.get(model, model),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": refusal,
                                                 "annotations": []},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": usage, "service_tier": "default", "system_fingerprint": _FINGERPRINT,
        })

    # --- legacy completions ---------------------------------------------------------------
    def _completion(self, body: dict[str, Any], model: str) -> None:
        prompt = body.get("prompt") or ""
        prompt = prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
        text = " " + _replies.reply_text(prompt)
        usage = {"prompt_tokens": _replies.count_tokens(prompt), "completion_tokens": _replies.count_tokens(text)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        self._send_json(200, {
            "id": _id("cmpl"), "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": usage, "system_fingerprint": _FINGERPRINT,
        })

    # --- embeddings -----------------------------------------------------------------------
    def _embeddings(self, body: dict[str, Any], model: str) -> None:
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not inputs:
            self._error(400, "'input' is a required property")
            return
        dimensions = int(body.get("dimensions") or (3072 if "large" in model else 1536))
        data = []
        for index, text in enumerate(inputs):
            vector = _replies.embedding(str(text), dimensions)
            encoded: Any = _replies.base64_floats(vector) if body.get("encoding_format") == "base64" else vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(_replies.count_tokens(str(t)) for t in inputs)
        self._send_json(200, {"object": "list", "data": data, "model": model,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    # --- responses API --------------------------------------------------------------------
    def _responses(self, body: dict[str, Any], model: str) -> None:
        given = body.get("input")
        items = [m for m in given if isinstance(m, dict)] if isinstance(given, list) else []
        if isinstance(given, str):
            prompt = question = given
        else:
            prompt = "\n".join(_replies.message_text(m) for m in items)
            question = _user_question(items)
        instructions = body.get("instructions") or ""
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        calls = _function_calls(body, items, tools, question)
        output_text = _last_tool_output(items)
        text = "" if calls else (_replies.tool_result_reply(output_text) if output_text is not None
                                 else _replies.reply_text(question, instructions))
        input_tokens = _replies.count_tokens(instructions + prompt) + 10 + 30 * len(tools)
        cached = self.server.cache.cached_tokens(instructions) if instructions else 0
        output_tokens = _replies.count_tokens(text or json.dumps(calls))
        reasoning = output_tokens // 4 if model.startswith(("o1", "o3", "o4", "gpt-5")) else 0
        response = {
            "id": _id("resp"), "object": "response", "created_at": int(time.time()), "status": "completed",
            "error": None, "incomplete_details": None, "instructions": instructions or None,
            "model": DATED_MODELS.get(model, model), "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0),
            "tool_choice": body.get("tool_choice") or "auto", "tools": tools,
            "max_output_tokens": body.get("max_output_tokens"),
            "service_tier": "default", "store": True, "text": {"format": {"type": "text"}}, "truncation": "disabled",
            "usage": {
                "input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": cached},
                "output_tokens": output_tokens + reasoning,
                "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": input_tokens + output_tokens + reasoning,
            },
        }
        output: list[dict[str, Any]] = calls or [
            {"type": "message", "id": _id("msg"), "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": text, "annotations": []}]}]
        if not body.get("stream"):
            self._send_json(200, {**response, "output": output})
            return
        self._send_events(_response_events(response, output))


def _user_question(items: list[dict[str, Any]]) -> str:
    """The text of the last user message of a Responses ``input`` list."""
    for item in reversed(items):
        if item.get("role") == "user":
            return _replies.message_text(item)
    return _replies.message_text(items[-1]) if items else ""


def _since_user(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items after the user's last message: this turn of the agent loop."""
    for index in range(len(items) - 1, -1, -1):
        if items[index].get("role") == "user":
            return items[index + 1:]
    return items


def _function_calls(body: dict[str, Any], items: list[dict[str, Any]], tools: list[dict[str, Any]],
                    question: str) -> list[dict[str, Any]]:
    """The model's function calls: the first offered function tool not yet called since the user's
    last message (so an agent loop calls each of its tools once, then answers; after a handoff,
    the new agent calls its own tool). None once every offered tool has been called."""
    if body.get("tool_choice") == "none":
        return []
    called = {item.get("name") for item in _since_user(items) if item.get("type") == "function_call"}
    for tool in tools:
        if tool.get("type") == "function" and tool.get("name") and tool["name"] not in called:
            return [{"type": "function_call", "id": "fc_" + uuid.uuid4().hex[:24],
                     "call_id": "call_" + uuid.uuid4().hex[:24], "name": tool["name"],
                     "arguments": _replies.tool_arguments(tool, question), "status": "completed"}]
    return []


def _last_tool_output(items: list[dict[str, Any]]) -> str | None:
    """The output of the last tool result of this turn, if the turn has one."""
    for item in reversed(_since_user(items)):
        if item.get("type") == "function_call_output":
            output = item.get("output")
            return output if isinstance(output, str) else json.dumps(output)
    return None


def _chat_usage(prompt_tokens: int, completion_tokens: int, cached: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": min(cached, prompt_tokens), "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def _chat_chunks(completion_id: str, created: int, model: str, text: str | None, tool_calls: Any, finish: str,
                 usage: dict[str, Any] | None) -> Iterator[tuple[None, Any]]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": _FINGERPRINT,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

    yield None, chunk({"role": "assistant", "content": "" if text is not None else None, "refusal": None})
    if text is not None:
        words = text.split(" ")
        for i, word in enumerate(words):
            yield None, chunk({"content": word if i == 0 else " " + word})
    for index, call in enumerate(tool_calls or ()):
        yield None, chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                           "function": {"name": call["function"]["name"], "arguments": ""}}]})
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            yield None, chunk({"tool_calls": [{"index": index,
                                               "function": {"arguments": arguments[start:start + 8]}}]})
    yield None, chunk({}, finish)
    if usage is not None:
        final = chunk({})
        final["choices"] = []
        final["usage"] = usage
        yield None, final
    yield None, "[DONE]"


def _response_events(response: dict[str, Any], output: list[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    """The Responses API's event stream for ``output`` (message text in word deltas, function call
    arguments in 8-character deltas), as OpenAI sends it."""
    sequence = iter(range(1_000_000))
    in_progress = {**response, "status": "in_progress", "usage": None}

    def event(kind: str, **data: Any) -> tuple[str, Any]:
        return kind, {"type": kind, "sequence_number": next(sequence), **data}

    yield event("response.created", response=in_progress)
    yield event("response.in_progress", response=in_progress)
    for index, item in enumerate(output):
        if item["type"] == "function_call":
            arguments = item["arguments"]
            yield event("response.output_item.added", output_index=index,
                        item={**item, "arguments": "", "status": "in_progress"})
            for start in range(0, len(arguments), 8):
                yield event("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                            delta=arguments[start:start + 8])
            yield event("response.function_call_arguments.done", item_id=item["id"], name=item["name"],
                        output_index=index, arguments=arguments)
            yield event("response.output_item.done", output_index=index, item=item)
            continue
        text = item["content"][0]["text"]
        part = {"type": "output_text", "text": "", "annotations": []}
        yield event("response.output_item.added", output_index=index,
                    item={**item, "status": "in_progress", "content": []})
        yield event("response.content_part.added", item_id=item["id"], output_index=index, content_index=0,
                    part=part)
        for i, word in enumerate(text.split(" ")):
            yield event("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0,
                        delta=word if i == 0 else " " + word, logprobs=[])
        yield event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                    text=text, logprobs=[])
        yield event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0,
                    part={**part, "text": text})
        yield event("response.output_item.done", output_index=index, item=item)
    yield event("response.completed", response={**response, "output": output})


# A route answers one request: (handler, JSON body, model name) -> None, writing the reply with the
# handler's _send_json / _send_events / _error.
Route = Callable[[_Handler, dict[str, Any], str], None]

#: (method, path) -> route: every endpoint the server answers.
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v1/models"): _Handler._models,
    ("POST", "/v1/chat/completions"): _Handler._chat,
    ("POST", "/v1/completions"): _Handler._completion,
    ("POST", "/v1/embeddings"): _Handler._embeddings,
    ("POST", "/v1/responses"): _Handler._responses,
    ("POST", "/v1/messages"): _anthropic.messages_route,
    ("POST", "/v1/messages/count_tokens"): _anthropic.count_tokens_route,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], chunk_delay: float) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.routes = dict(ROUTES)
        self.cache = _PromptCache()
        self.chunk_delay = chunk_delay
        self.requests: collections.deque[tuple[str, Any]] = collections.deque(maxlen=1000)

    def record(self, path: str, body: Any) -> None:
        self.requests.append((path, body))


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1, in a background thread.

    ``chunk_delay`` (seconds) spaces out streamed chunks so streams look like streams.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, chunk_delay: float = 0.0) -> None:
        self._server = _Server((host, port), chunk_delay)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The URL to give ``openai.OpenAI(base_url=...)`` (ends in ``/v1``)."""
        host = self._server.server_address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The URL to give ``anthropic.Anthropic(base_url=...)`` (no ``/v1``: that SDK adds it)."""
        return self.base_url[: -len("/v1")]

    @property
    def requests(self) -> list[tuple[str, Any]]:
        """The last requests received, as (path, JSON body)."""
        return list(self._server.requests)

    def start(self) -> "FakeOpenAIServer":
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (Ctrl-C raises KeyboardInterrupt here)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


if __name__ == "__main__":  # python -m traceglass.demo.fake_openai: the same as `traceglass demo-server`
    import sys

    from traceglass.cli import main

    sys.exit(main(["demo-server", *sys.argv[1:]]))
