"""Fixtures: a real HTTP receiver on 127.0.0.1 for webhooks, and a real SQLite store with synthetic traffic."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from traceglass.store import TraceStore

NOW = 1_800_000_000  # a fixed "now" (2027-01-15T08:00:00Z): every test passes it, no wall clock


class Receiver:
    """A webhook endpoint: records every request; answers the next status of ``statuses`` (then 200).
    ``hold`` (an Event) makes each request wait until it is set (bounded), to show a sender does not wait."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


@pytest.fixture
def store(store_target) -> Iterator[TraceStore]:
    """A store on each backend: a SQLite file, then a PostgreSQL database (tests/conftest.py)."""
    with TraceStore(store_target) as opened:
        yield opened


class Traffic:
    """Writes synthetic model calls (one span per trace) into a store, at times relative to NOW."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self.count = 0

    def call(self, *, ago: float = 60, cost: float = 0.01, user: str = "alice", model: str = "gpt-4o-mini",
             status: str = "OK", duration: float = 0.5, project: str = "bot", tokens: tuple[int, int] = (10, 5),
             span_type: str = "llm", name: str = "chat") -> str:
        self.count += 1
        trace_id = f"{self.count:032x}"
        start = NOW - ago
        span = {"trace_id": trace_id, "span_id": f"{self.count:016x}", "name": name, "start_ns": int(start * 1e9),
                "end_ns": int((start + duration) * 1e9), "status": status, "user": user, "project": project,
                "type": span_type}
        if model is not None:
            span.update(model=model, input_tokens=tokens[0], output_tokens=tokens[1], cost_usd=cost)
        self.store.upsert_span(span)
        return trace_id


@pytest.fixture
def traffic(store: TraceStore) -> Traffic:
    return Traffic(store)
