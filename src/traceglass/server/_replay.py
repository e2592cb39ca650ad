"""Replay (the dashboard's playground): send an edited LLM request again, traced as a new trace.

``traceglass ui --replay-base-url URL`` turns it on; the key comes from the server's environment
(``TRACEGLASS_REPLAY_API_KEY``, else ``OPENAI_API_KEY``) and never leaves the server: it is not in
any answer, error or log line, and it is scrubbed from the spans stored for the replayed call.

* ``GET /api/replay``: whether replay is on (the dashboard shows its button only then).
* ``POST /api/replay``: ``{"source": {"trace_id", "span_id"}, "request": {model, messages, ...}}``
  calls ``chat.completions.create`` on the endpoint with the real ``openai`` SDK through a
  ``TracedOpenAI`` on a private tracer provider. The call runs under a new root span (type
  ``replay``) that carries an OTel link and ``traceglass.replay.source.*`` attributes naming the
  span replayed; the finished spans go through the server's own ingest (priced, then stored).

Who may replay: besides the server's guards (Host check, token), a server without a token only
replays for a client connecting from a loopback address, and a request from another origin than
the dashboard's (a browser's ``Origin`` header) is refused, so no other web page can spend the key.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import Event as SpanEvent
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from traceglass import semconv
from traceglass.server._rest import ApiError
from traceglass.server._security import is_loopback

logger = logging.getLogger("traceglass")

KEY_ENV = "TRACEGLASS_REPLAY_API_KEY"
FALLBACK_KEY_ENV = "OPENAI_API_KEY"
NO_KEY = "unused"  # sent when no key is set: local OpenAI-compatible servers need none
MAX_REQUEST_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_S = 60.0
MAX_CONCURRENT = 4
MAX_NAME_MODEL = 200  # characters of the model named in the replay span's name
REDACTED = "[redacted]"
# The chat.completions parameters a replay may set; anything else is refused (422), streaming included.
PARAMETERS = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "presence_penalty",
    "frequency_penalty", "n", "tools", "tool_choice", "parallel_tool_calls", "response_format", "logit_bias",
    "logprobs", "top_logprobs", "reasoning_effort", "user",
})
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class ReplayConfig:
    """Where replayed calls go. ``api_key`` is excluded from ``repr`` so no log line can show it."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"replay base URL must be an http(s) URL, got {self.base_url!r}")
        if parts.username or parts.password:
            raise ValueError("replay base URL must not carry credentials: set the key in "
                             f"{KEY_ENV} (or {FALLBACK_KEY_ENV})")
        if not self.timeout_s > 0:
            raise ValueError(f"replay timeout must be positive, got {self.timeout_s!r}")

    @classmethod
    def from_env(cls, base_url: str, environ: Mapping[str, str] | None = None, **kwargs: Any) -> ReplayConfig:
        """The endpoint ``base_url`` with the key from ``TRACEGLASS_REPLAY_API_KEY``, else ``OPENAI_API_KEY``."""
        env = os.environ if environ is None else environ
        key = (env.get(KEY_ENV) or "").strip() or (env.get(FALLBACK_KEY_ENV) or "").strip() or None
        return cls(base_url, key, **kwargs)


class _Collect(SpanProcessor):
    """Keeps the finished spans of each replay's trace until the replay hands them to the ingest."""

    def __init__(self) -> None:
        self._spans: dict[int, list[ReadableSpan]] = {}
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None:
            return
        with self._lock:
            self._spans.setdefault(span.context.trace_id, []).append(span)

    def take(self, trace_id: int) -> list[ReadableSpan]:
        with self._lock:
            return self._spans.pop(trace_id, [])


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, REDACTED)
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(item, secret) for item in value)
    return value


def _scrubbed(span: ReadableSpan, secret: str | None) -> ReadableSpan:
    """``span``, or a copy without ``secret`` in its attributes, events and status (an endpoint may echo it)."""
    if not secret:
        return span
    attributes = {key: _scrub(value, secret) for key, value in (span.attributes or {}).items()}
    events = [SpanEvent(e.name, {k: _scrub(v, secret) for k, v in (e.attributes or {}).items()}, e.timestamp)
              for e in span.events]
    status = span.status
    if status.description and secret in status.description:
        status = Status(status.status_code, status.description.replace(secret, REDACTED))
    if attributes == dict(span.attributes or {}) and status is span.status and all(
            dict(a.attributes or {}) == dict(b.attributes or {}) for a, b in zip(events, span.events)):
        return span
    return ReadableSpan(name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                        attributes=attributes, events=events, links=span.links, kind=span.kind, status=status,
                        start_time=span.start_time, end_time=span.end_time,
                        instrumentation_scope=span.instrumentation_scope)


def _problems(body: Any) -> tuple[list[dict[str, str]], tuple[str, str], dict[str, Any]]:
    """Every problem of a replay request, the source (trace id, span id) and the request to send."""
    problems: list[dict[str, str]] = []

    def bad(where: str, message: str) -> None:
        problems.append({"field": where, "message": message})

    if not isinstance(body, dict):
        bad("$", "the body must be a JSON object with source and request")
        return problems, ("", ""), {}
    for key in sorted(set(body) - {"source", "request"}):
        bad(key, "unknown field (known: source, request)")
    source = body.get("source")
    trace_id = span_id = ""
    if not isinstance(source, dict):
        bad("source", "must be an object {trace_id, span_id}: the span replayed")
    else:
        trace_id, span_id = str(source.get("trace_id") or "").lower(), str(source.get("span_id") or "").lower()
        if len(trace_id) != 32 or not set(trace_id) <= _HEX or trace_id == "0" * 32:
            bad("source.trace_id", "must be 32 hex digits")
        if len(span_id) != 16 or not set(span_id) <= _HEX or span_id == "0" * 16:
            bad("source.span_id", "must be 16 hex digits")
    request = body.get("request")
    if not isinstance(request, dict):
        bad("request", "must be an object: model, messages and parameters")
        return problems, (trace_id, span_id), {}
    model = request.get("model")
    if not isinstance(model, str) or not model.strip():
        bad("request.model", "must be a non-empty string")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        bad("request.messages", "must be a non-empty list of messages")
    else:
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                bad(f"request.messages[{i}]", f"must be an object whose role is one of {sorted(ROLES)}")
    for key in sorted(set(request) - PARAMETERS - {"model", "messages"}):
        bad(f"request.{key}", "not a parameter replay sends" + (" (no streaming)" if key in ("stream", "stream_options")
                                                               else f"; known: {sorted(PARAMETERS)}"))
    n = request.get("n")
    if n is not None and n != 1:
        bad("request.n", "replay asks for one answer (n=1)")
    try:  # what the SDK will send: UTF-8 JSON, finite numbers
        json.dumps(request, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        bad("request", "text that is not valid Unicode (a lone surrogate)")
    except ValueError:
        bad("request", "numbers must be finite (no NaN or Infinity)")
    return problems, (trace_id, span_id), dict(request)


def _answer(completion: Any) -> dict[str, Any]:
    """What the dashboard shows of a completion: the first choice's message, finish reason and usage
    (ValueError for an answer that is not a chat completion)."""
    if not getattr(completion, "choices", None):
        raise ValueError("no choices")
    choice = completion.choices[0]
    message = choice.message if choice is not None else None
    tool_calls = [{"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
                  for call in (getattr(message, "tool_calls", None) or []) if getattr(call, "function", None)]
    usage = completion.usage
    return {
        "model": completion.model,
        "content": getattr(message, "content", None),
        "tool_calls": tool_calls,
        "finish_reason": getattr(choice, "finish_reason", None),
        "usage": None if usage is None else {"input_tokens": usage.prompt_tokens,
                                             "output_tokens": usage.completion_tokens,
                                             "total_tokens": usage.total_tokens},
    }


class ReplayApi:
    """``GET``/``POST /api/replay``, bound to one store, the server's ingest and its token."""

    def __init__(self, store: Any, ingest: Any, config: ReplayConfig | None, *, token: str | None) -> None:
        self.store = store
        self.ingest = ingest
        self.config = config
        self.token = token
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._collect = _Collect()
        self._provider: TracerProvider | None = None

    # --- routes ---------------------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        """GET /api/replay: on or off (never the endpoint's key)."""
        if self.config is None:
            return JSONResponse({"enabled": False, "reason": "replay is off: start the server with "
                                                            "traceglass ui --replay-base-url URL"})
        return JSONResponse({"enabled": True, "reason": None})

    async def replay(self, request: Request) -> Response:
        """POST /api/replay: send the edited request; the new trace's id and the answer."""
        if self.config is None:
            raise ApiError(404, "replay is off: start the server with traceglass ui --replay-base-url URL "
                                f"(key from {KEY_ENV}, else {FALLBACK_KEY_ENV})")
        self._authorize(request)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_REQUEST_BYTES:
                raise ApiError(413, f"a replay request is at most {MAX_REQUEST_BYTES} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "the body is not valid JSON") from None
        problems, (trace_id, span_id), call = _problems(body)
        if problems:
            return JSONResponse({"error": "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                                 "problems": problems}, status_code=422)
        if not await run_in_threadpool(self._span_exists, trace_id, span_id):
            raise ApiError(404, f"no span {span_id} in trace {trace_id}")
        if not self._slots.acquire(blocking=False):
            raise ApiError(429, f"{MAX_CONCURRENT} replays are running; try again when one is done")
        try:
            status, answer = await run_in_threadpool(self._send, trace_id, span_id, call)
        finally:
            self._slots.release()
        return JSONResponse(answer, status_code=status)

    # --- work ---------------------------------------------------------------------------------
    def _authorize(self, request: Request) -> None:
        # With a token the middleware has checked it; without one, the Host header (which a client
        # chooses) is not enough: the peer itself must be on this machine.
        client = request.client.host if request.client else ""
        if self.token is None and not is_loopback(client):
            raise ApiError(403, "replay spends the server's API key: without a token it only answers clients "
                                "on this machine (start the server with --token to replay from elsewhere)")
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
            raise ApiError(403, "replay is only available from the dashboard's own origin")

    def _span_exists(self, trace_id: str, span_id: str) -> bool:
        spans = self.store.trace_spans([trace_id]).get(trace_id, [])
        return any(span.span_id == span_id for span in spans)

    def _openai(self) -> Any:
        with self._client_lock:
            if self._client is None:
                from traceglass.instrumentors.openai import TracedOpenAI

                config = self.config
                assert config is not None
                self._provider = TracerProvider()
                self._provider.add_span_processor(self._collect)
                self._client = TracedOpenAI(base_url=config.base_url, api_key=config.api_key or NO_KEY,
                                            timeout=config.timeout_s, max_retries=0,
                                            tracer_provider=self._provider)
            return self._client

    def _send(self, trace_id: str, span_id: str, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        import openai

        client = self._openai()
        assert self._provider is not None
        secret = self.config.api_key if self.config is not None else None
        source = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                             trace_flags=TraceFlags(TraceFlags.SAMPLED))
        attributes = {semconv.SPAN_TYPE: semconv.SPAN_TYPE_REPLAY, semconv.REPLAY_SOURCE_TRACE_ID: trace_id,
                      semconv.REPLAY_SOURCE_SPAN_ID: span_id}
        tracer = self._provider.get_tracer("traceglass.server.replay")
        started = time.perf_counter()
        status, failure = 200, None
        # A new trace: the empty context has no parent, whatever the server's own context holds.
        with tracer.start_as_current_span(f"replay {call['model'][:MAX_NAME_MODEL]}", context=otel_context.Context(),
                                          links=[Link(source, {semconv.REPLAY_SOURCE_SPAN_ID: span_id})],
                                          attributes=attributes, record_exception=False,
                                          set_status_on_exception=False) as root:
            new_trace = root.get_span_context().trace_id
            try:
                completion = client.chat.completions.create(**call)
                answer = _answer(completion)
            except openai.APITimeoutError:
                status, failure = 504, f"the endpoint did not answer within {self.config.timeout_s:g} s"
            except openai.APIStatusError as exc:
                status, failure = 502, f"the endpoint answered {exc.status_code}: {_brief(exc)}"
            except openai.APIConnectionError as exc:
                status, failure = 502, f"could not reach the endpoint: {exc.__cause__ or exc}"
            except openai.OpenAIError as exc:
                status, failure = 502, f"the call failed: {exc}"
            except Exception as exc:  # noqa: BLE001 - an answer the SDK could not parse, or not a completion
                failure = f"the call failed: the endpoint's answer could not be read ({type(exc).__name__})"
                status = 502
            if failure is not None:
                failure = _scrub(failure, secret) if secret else failure
                root.set_status(Status(StatusCode.ERROR, failure))
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        spans = [_scrubbed(span, secret) for span in self._collect.take(new_trace)]
        stored = bool(spans) and self.ingest.write(spans)
        out: dict[str, Any] = {
            "trace_id": format(new_trace, "032x"), "span_id": format(root.get_span_context().span_id, "016x"),
            "stored": stored, "latency_ms": latency_ms, "source": {"trace_id": trace_id, "span_id": span_id}}
        if failure is not None:
            logger.info("traceglass: replay of span %s failed: %s", span_id, failure)
            return status, {"error": failure, **out}
        return 200, {**out, "answer": answer}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._provider is not None:
            self._provider.shutdown()


def _brief(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(message, str):
            return message[:500]
    return str(getattr(exc, "message", "") or exc)[:500]
