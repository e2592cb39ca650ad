"""Replay (POST /api/replay) under hostile requests and a misbehaving endpoint: every answer is a JSON 4xx/5xx
with a reason (never a 500, never the key), nothing is sent for a refused request, and a failed endpoint call is
still stored as a trace."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from tests.server.conftest import db_path, rag_agent, recorder, serve_app  # noqa: F401 - fixtures
from traceglass.demo.fake_openai import FakeOpenAIServer
from traceglass.store import TraceStore

KEY = "sk-fault-KEY-42"
_OK_JSON = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "


@pytest.fixture
def fake():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def source(recorder, db_path, monkeypatch):
    monkeypatch.setenv("TRACEGLASS_REPLAY_API_KEY", KEY)
    rag_agent("What is the capital of France?")
    with TraceStore(db_path) as store:
        return store.get_trace(store.list_traces(limit=1).traces[0].trace_id).span("chat gpt-4o-mini")


def _body(span, **request):
    return {"source": {"trace_id": span.trace_id, "span_id": span.span_id},
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **request}}


def _post(url, **kwargs):
    return httpx.post(url + "/api/replay", timeout=30, **kwargs)


@pytest.mark.parametrize(("content", "status"), [
    (b"[" * 100_000, 400),  # nesting deeper than the parser's recursion limit
    (b"null", 422), (b"[]", 422), (b'"x"', 422), (b"1e999", 422),
    (b'{"source": [], "request": "x"}', 422),
    (b'{"source": {"trace_id": 1, "span_id": null}, "request": {"model": 1, "messages": [1, null, "x"]}}', 422),
    (b"\xff\xfe{}", 400),  # not UTF-8
])
def test_hostile_bodies_are_refused_and_nothing_is_sent(source, db_path, serve_app, fake, content, status):
    server = serve_app(db_path, replay=fake.base_url)
    response = _post(server.url, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert isinstance(response.json()["error"], str) and response.json()["error"]
    assert fake.requests == []


@pytest.mark.parametrize(("extra", "problem"), [
    ('"messages": [{"role": "user", "content": "\\ud800"}]', "text that is not valid Unicode (a lone surrogate)"),
    ('"messages": [{"role": "user", "content": "x"}], "temperature": NaN',
     "numbers must be finite (no NaN or Infinity)"),
])
def test_a_request_the_endpoint_cannot_be_sent_is_refused(source, db_path, serve_app, fake, extra, problem):
    """JSON the parser accepts but the SDK could not send: a lone surrogate escape, a NaN."""
    server = serve_app(db_path, replay=fake.base_url)
    source_json = f'{{"trace_id": "{source.trace_id}", "span_id": "{source.span_id}"}}'
    body = f'{{"source": {source_json}, "request": {{"model": "gpt-4o-mini", {extra}}}}}'
    response = _post(server.url, content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["problems"] == [{"field": "request", "message": problem}]
    assert fake.requests == []


def _garbage_server(reply: bytes) -> tuple[socket.socket, threading.Thread]:
    """A server on 127.0.0.1 that answers every connection with ``reply`` (b"": closes it at once)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(10)

    def serve() -> None:
        for _ in range(4):  # bounded: the test makes one call (the SDK does not retry here)
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    if reply:
                        conn.sendall(reply)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return sock, thread


@pytest.mark.parametrize(("reply", "error"), [
    (b"", "could not reach the endpoint: "),
    (_OK_JSON + b"9\r\n\r\nnot json!", "the call failed: the endpoint's answer could not be read ("),
    (_OK_JSON + b"2\r\n\r\n{}", "the call failed: the endpoint's answer could not be read ("),
])
def test_a_misbehaving_endpoint_is_a_502_and_the_failed_call_is_stored(source, db_path, serve_app, reply, error):
    sock, thread = _garbage_server(reply)
    try:
        server = serve_app(db_path, replay=f"http://127.0.0.1:{sock.getsockname()[1]}/v1")
        response = _post(server.url, json=_body(source))
    finally:
        sock.close()
        thread.join(timeout=10)
    assert response.status_code == 502, response.text
    data = response.json()
    assert data["error"].startswith(error), data
    assert KEY not in response.text
    with TraceStore(db_path) as store:
        stored = store.get_trace(data["trace_id"])
    assert stored.spans[0].name == "replay gpt-4o-mini" and stored.spans[0].status == "ERROR"
    assert stored.spans[0].links[0]["span_id"] == source.span_id


def test_a_store_that_cannot_be_written_still_answers(source, db_path, serve_app, fake):
    server = serve_app(db_path, replay=fake.base_url)
    ingest = server.server.config.app.app.state.ingest
    ingest.write = lambda spans: False  # the database refused the write (locked, full, read-only)
    response = _post(server.url, json=_body(source))
    assert response.status_code == 200, response.text
    assert response.json()["stored"] is False
    assert response.json()["answer"]["finish_reason"] == "stop"
