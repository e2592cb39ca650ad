"""Replay over REST (issue 19): off unless configured; on, an edited request goes to the endpoint (the bundled
fake OpenAI server on 127.0.0.1, through the real openai SDK) and comes back stored as a new trace linked to
the span replayed; the key never reaches a client; only loopback clients or token holders may replay; every
documented status is caused here and its answer checked against the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest

from traceglass.demo.fake_openai import FakeOpenAIServer
from traceglass.server import create_app
from traceglass.server._replay import (
    MAX_CONCURRENT,
    MAX_REQUEST_BYTES,
    PARAMETERS,
    ReplayConfig,
)
from traceglass.store import TraceStore

from .conftest import free_port, get, rag_agent
from .test_openapi import check

KEY = "sk-replay-test-0123456789-SECRET"
QUESTION = "What is the capital of Italy?"


@pytest.fixture
def fake():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def source(recorder, db_path):
    """The LLM span of one recorded RAG trace: the span replayed."""
    rag_agent("What is the capital of France?")
    with TraceStore(db_path) as store:
        trace = store.get_trace(store.list_traces(limit=1).traces[0].trace_id)
    return trace.span("chat gpt-4o-mini")


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("TRACEGLASS_REPLAY_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _body(span, **request: Any) -> dict[str, Any]:
    call = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are terse."},
                                                 {"role": "user", "content": QUESTION}], **request}
    return {"source": {"trace_id": span.trace_id, "span_id": span.span_id}, "request": call}


def _post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url + "/api/replay", timeout=30, **kwargs)


def test_replay_is_off_unless_configured(source, db_path, serve_app):
    server = serve_app(db_path)
    assert get(server.url + "/api/replay").json() == {
        "enabled": False, "reason": "replay is off: start the server with traceglass ui --replay-base-url URL"}
    refused = _post(server.url, json=_body(source))
    assert refused.status_code == 404
    assert refused.json() == {"error": "replay is off: start the server with traceglass ui --replay-base-url URL "
                                       "(key from TRACEGLASS_REPLAY_API_KEY, else OPENAI_API_KEY)"}
    with TraceStore(db_path) as store:
        assert store.count()["traces"] == 1  # nothing was sent nor stored


def test_replay_stores_a_new_trace_linked_to_the_original_span(keyed, source, db_path, serve_app, fake):
    server = serve_app(db_path, replay=fake.base_url)
    assert get(server.url + "/api/replay").json() == {"enabled": True, "reason": None}
    response = _post(server.url, json=_body(source, temperature=0.25, max_tokens=40, seed=7))
    assert response.status_code == 200, response.text
    data = response.json()

    # The endpoint got exactly the edited request (the real SDK, no streaming).
    assert fake.requests[-1] == ("/v1/chat/completions", {
        "model": "gpt-4o-mini", "temperature": 0.25, "max_tokens": 40, "seed": 7,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": QUESTION}]})

    with TraceStore(db_path) as store:
        assert store.count()["traces"] == 2
        trace = store.get_trace(data["trace_id"])
    assert trace is not None and trace.trace_id != source.trace_id
    root, chat = trace.spans
    assert (root.name, root.type, root.parent_id, root.span_id) == ("replay gpt-4o-mini", "replay", None,
                                                                   data["span_id"])
    assert root.links == [{"trace_id": source.trace_id, "span_id": source.span_id,
                           "attributes": {"traceglass.replay.source.span_id": source.span_id}}]
    assert root.attributes == {
        "traceglass.span.type": "replay",
        "traceglass.replay.source.trace_id": source.trace_id,
        "traceglass.replay.source.span_id": source.span_id,
        "traceglass.rollup.input_tokens": chat.input_tokens,
        "traceglass.rollup.output_tokens": chat.output_tokens,
        "traceglass.rollup.total_tokens": chat.input_tokens + chat.output_tokens,
        "traceglass.rollup.cost_usd": chat.cost_usd,
    }
    assert (chat.name, chat.type, chat.kind, chat.parent_id) == ("chat gpt-4o-mini", "llm", "CLIENT", root.span_id)
    assert chat.cost_usd is not None and chat.cost_usd > 0  # priced by the server's ingest
    answer = json.loads(chat.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"]
    assert json.loads(chat.attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]
    assert {k: chat.attributes[k] for k in ("gen_ai.request.model", "gen_ai.request.temperature",
                                             "gen_ai.request.max_tokens", "gen_ai.request.seed",
                                             "gen_ai.response.model", "server.address", "server.port")} == {
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.temperature": 0.25,
        "gen_ai.request.max_tokens": 40, "gen_ai.request.seed": 7,
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "server.address": "127.0.0.1", "server.port": fake.port}

    assert set(data) == {"trace_id", "span_id", "stored", "latency_ms", "source", "answer"}
    assert data["stored"] is True and data["latency_ms"] > 0
    assert data["source"] == {"trace_id": source.trace_id, "span_id": source.span_id}
    assert data["answer"] == {
        "model": "gpt-4o-mini-2024-07-18", "content": answer, "tool_calls": [], "finish_reason": "stop",
        "usage": {"input_tokens": chat.input_tokens, "output_tokens": chat.output_tokens,
                  "total_tokens": chat.input_tokens + chat.output_tokens}}
    # The original trace is untouched.
    with TraceStore(db_path) as store:
        assert [s.name for s in store.get_trace(source.trace_id).spans] == [
            "rag_agent", "retrieve", "lookup_weather", "chat gpt-4o-mini"]


def test_the_key_never_reaches_a_client(keyed, source, db_path, serve_app, fake, caplog):
    """Not in the status, an answer, an error, a log line, nor the spans stored, even when the endpoint
    echoes it back (as a real API's "Incorrect API key provided: ..." does)."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def echo_key(handler, body, model) -> None:
        seen.append(handler.headers.get("authorization", ""))
        handler._error(401, f"Incorrect API key provided: {handler.headers.get('authorization', '')[7:]}")

    server = serve_app(db_path, replay=fake.base_url)
    answers = [get(server.url + "/api/replay"), get(server.url + "/openapi.json"),
               _post(server.url, json=_body(source))]
    fake._server.routes[("POST", "/v1/chat/completions")] = echo_key
    failed = _post(server.url, json=_body(source))
    answers.append(failed)
    assert seen == [f"Bearer {KEY}"]  # the endpoint did get the key
    assert failed.status_code == 502
    assert failed.json()["error"] == "the endpoint answered 401: Incorrect API key provided: [redacted]"
    for answer in answers:
        assert KEY not in answer.text and KEY not in str(answer.headers)
    assert KEY not in caplog.text
    with TraceStore(db_path) as store:
        stored = store.get_trace(failed.json()["trace_id"])
        dump = json.dumps(stored.to_dict())
        assert KEY not in dump and "[redacted]" in dump
        assert [(s.name, s.status) for s in stored.spans] == [("replay gpt-4o-mini", "ERROR"),
                                                             ("chat gpt-4o-mini", "ERROR")]
    assert repr(ReplayConfig.from_env(fake.base_url)).count(KEY) == 0


def test_the_key_comes_from_traceglass_replay_api_key_then_openai_api_key(fake):
    env = {"TRACEGLASS_REPLAY_API_KEY": " own ", "OPENAI_API_KEY": "shared"}
    assert ReplayConfig.from_env(fake.base_url, env).api_key == "own"
    assert ReplayConfig.from_env(fake.base_url, {"OPENAI_API_KEY": "shared"}).api_key == "shared"
    assert ReplayConfig.from_env(fake.base_url, {}).api_key is None
    for bad in ("ftp://x/v1", "not a url", "https://user:pw@api.example/v1"):
        with pytest.raises(ValueError):
            ReplayConfig.from_env(bad, {})


async def _asgi_post(app: Any, client: tuple[str, int], body: dict[str, Any], **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        return await http.post("/api/replay", json=body, headers=headers, timeout=30)


def _close(app: Any) -> None:
    app.app.state.replay.close()
    app.app.state.ingest.shutdown()
    app.app.state.store.close()


def test_a_remote_client_without_the_token_is_refused(keyed, source, db_path, fake):
    """The Host header says localhost (a client chooses it), but the peer is not on this machine."""
    app = create_app(db_path, replay=fake.base_url)
    try:
        remote = asyncio.run(_asgi_post(app, ("203.0.113.9", 40000), _body(source)))
        local = asyncio.run(_asgi_post(app, ("127.0.0.1", 40000), _body(source)))
        other_site = asyncio.run(_asgi_post(app, ("127.0.0.1", 40000), _body(source),
                                            origin="https://evil.example"))
    finally:
        _close(app)
    assert remote.status_code == 403
    assert remote.json() == {"error": "replay spends the server's API key: without a token it only answers clients "
                                      "on this machine (start the server with --token to replay from elsewhere)"}
    assert other_site.status_code == 403
    assert other_site.json() == {"error": "replay is only available from the dashboard's own origin"}
    assert local.status_code == 200, local.text
    assert len([r for r in fake.requests if r[0] == "/v1/chat/completions"]) == 1  # only the local one was sent


def test_a_remote_client_with_the_token_may_replay(keyed, source, db_path, fake):
    app = create_app(db_path, token="tok-1", replay=fake.base_url)
    try:
        without = asyncio.run(_asgi_post(app, ("203.0.113.9", 40000), _body(source)))
        bearer = asyncio.run(_asgi_post(app, ("203.0.113.9", 40000), _body(source), authorization="Bearer tok-1"))
    finally:
        _close(app)
    assert without.status_code == 401
    assert bearer.status_code == 200, bearer.text
    assert bearer.json()["source"] == {"trace_id": source.trace_id, "span_id": source.span_id}


def _silent_socket() -> socket.socket:
    """A listening socket that never answers: a connection is accepted by the kernel and then hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def test_every_documented_replay_status(keyed, source, db_path, serve_app, fake):
    server = serve_app(db_path, replay=fake.base_url)
    document = get(server.url + "/openapi.json").json()
    url = server.url
    silent = _silent_socket()
    slow = serve_app(db_path, replay=ReplayConfig(f"http://127.0.0.1:{silent.getsockname()[1]}/v1", KEY,
                                                  timeout_s=0.5))
    try:
        missing_span = _body(source)
        missing_span["source"]["span_id"] = "f" * 16
        bad = {"source": {"trace_id": "xyz"}, "request": {"model": "", "messages": [{"role": "wizard"}],
                                                          "stream": True, "n": 3, "api_key": "x"}}
        answers = [
            ("get", 200, get(url + "/api/replay")),
            ("post", 200, _post(url, json=_body(source))),
            ("post", 400, _post(url, content=b"{", headers={"content-type": "application/json"})),
            ("post", 403, _post(url, json=_body(source), headers={"origin": "http://localhost.evil.example"})),
            ("post", 404, _post(url, json=missing_span)),
            ("post", 413, _post(url, content=b" " * (MAX_REQUEST_BYTES + 1),
                                headers={"content-type": "application/json"})),
            ("post", 415, _post(url, content=json.dumps(_body(source)), headers={"content-type": "text/plain"})),
            ("post", 422, _post(url, json=bad)),
            ("post", 502, _post(url, json=_body(source, model="error-500"))),
            ("post", 504, _post(slow.url, json=_body(source))),
        ]
        replay = slow.server.config.app.app.state.replay
        held = [replay._slots.acquire(blocking=False) for _ in range(MAX_CONCURRENT)]
        try:
            answers.append(("post", 429, _post(slow.url, json=_body(source))))
        finally:
            for _ in held:
                replay._slots.release()
    finally:
        silent.close()
    for method, status, response in answers:
        assert response.status_code == status, (method, status, response.text)
        documented = document["paths"]["/api/replay"][method]["responses"]
        schema = documented[str(status)]["content"]["application/json"]["schema"]
        check(response.json(), schema, document, f"{method} /api/replay {status}")
    assert {(m, str(s)) for m, s, _ in answers} == {
        (m, s) for m, op in document["paths"]["/api/replay"].items() for s in op["responses"]}
    problems = answers[7][2].json()["problems"]
    assert problems == [
        {"field": "source.trace_id", "message": "must be 32 hex digits"},
        {"field": "source.span_id", "message": "must be 16 hex digits"},
        {"field": "request.model", "message": "must be a non-empty string"},
        {"field": "request.messages[0]", "message": "must be an object whose role is one of "
                                                     "['assistant', 'developer', 'system', 'tool', 'user']"},
        {"field": "request.api_key", "message": f"not a parameter replay sends; known: {sorted(PARAMETERS)}"},
        {"field": "request.stream", "message": "not a parameter replay sends (no streaming)"},
        {"field": "request.n", "message": "replay asks for one answer (n=1)"},
    ]
    timed_out = answers[9][2].json()
    assert timed_out["error"] == "the endpoint did not answer within 0.5 s"
    assert answers[8][2].json()["error"] == "the endpoint answered 500: Simulated error 500 for model error-500"
    assert answers[10][2].json() == {"error": f"{MAX_CONCURRENT} replays are running; try again when one is done"}


def test_the_ui_command_turns_replay_on(tmp_path, fake):
    env = {k: v for k, v in os.environ.items() if k not in ("TRACEGLASS_TOKEN", "TRACEGLASS_DB")}
    env.update(PYTHONUNBUFFERED="1", TRACEGLASS_REPLAY_API_KEY=KEY)
    command = [sys.executable, "-m", "traceglass", "ui", "--db", str(tmp_path / "t.db")]
    bad = subprocess.run([*command, "--replay-base-url", "https://user:pw@api.example/v1"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.endswith("argument --replay-base-url: the URL must not carry credentials: set "
                               "$TRACEGLASS_REPLAY_API_KEY\n")
    port = free_port()
    process = subprocess.Popen([*command, "--port", str(port), "--replay-base-url", fake.base_url], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == f"traceglass dashboard: http://127.0.0.1:{port}/"
        assert get(f"http://127.0.0.1:{port}/api/replay").json() == {"enabled": True, "reason": None}
    finally:
        process.terminate()
        out, err = process.communicate(timeout=15)
    assert KEY not in out + err
