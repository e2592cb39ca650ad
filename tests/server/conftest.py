"""Fixtures: a SQLite store filled with real traceglass spans, and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import traceglass
from traceglass import (
    LlmAttributes,
    RetrieverAttributes,
    update_current_span_attributes,
)
from traceglass import _runtime
from traceglass.exporters.sqlite import SQLiteSpanExporter
from traceglass.processors.cost import CostSpanProcessor
from traceglass.processors.session import SessionSpanProcessor
from traceglass.server import create_app

HOSTILE_PROMPT = 'Summarise <script>window.__xss = 1; alert("xss")</script> and <img src=x onerror="window.__xss = 2">'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """A uvicorn server running the traceglass app in a thread on 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="traceglass-test-server", daemon=True)

    def start(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def serve_app() -> Iterator[Callable[..., RunningServer]]:
    """``serve_app(db_path, **create_app options)`` starts a server; all are stopped after the test."""
    started: list[RunningServer] = []

    def start(db_path: Path, **options: Any) -> RunningServer:
        server = RunningServer(create_app(db_path, **options)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "traces.db"


class Recorder:
    """Runs code under a per-test pipeline: decorators -> cost processor -> SQLite exporter."""

    def __init__(self, db_path: Path) -> None:
        self.exporter = SQLiteSpanExporter(db_path)
        self.meter_provider = MeterProvider()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SessionSpanProcessor())
        self.tracer_provider.add_span_processor(
            CostSpanProcessor(SimpleSpanProcessor(self.exporter), meter_provider=self.meter_provider))
        # Settings from the environment as it is now (the fixture turns content capture on).
        self.previous = _runtime.install(_runtime.Runtime.build(None, self.tracer_provider, self.meter_provider))

    def close(self) -> None:
        _runtime.install(self.previous)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def recorder(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    monkeypatch.setenv("TRACEGLASS_CAPTURE_CONTENT", "true")
    rec = Recorder(db_path)
    yield rec
    rec.close()


# --- a small RAG app, traced with traceglass's own decorators ---------------------------------------
@traceglass.observe(type="retriever", name="retrieve")
def retrieve(query: str) -> list[str]:
    docs = [{"id": "doc-1", "score": 0.92, "content": "Paris is the capital of France."},
            {"id": "doc-2", "score": 0.41, "content": "Lyon is in France."}]
    update_current_span_attributes(RetrieverAttributes(embedding_input=query, retrieval_context=docs))
    return [d["content"] for d in docs]


@traceglass.observe(type="tool", name="lookup_weather")
def lookup_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temperature_c": 21}


@traceglass.trace_llm(name="chat gpt-4o-mini", model="gpt-4o-mini", cost_per_1k_input=0.15, cost_per_1k_output=0.6)
def chat(prompt: str, input_tokens: int, output_tokens: int) -> str:
    reply = f"Answer to: {prompt}"
    update_current_span_attributes(LlmAttributes(
        input=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": prompt}],
        output=reply, input_token_count=input_tokens, output_token_count=output_tokens))
    return reply


@traceglass.observe(type="agent", name="rag_agent")
def rag_agent(question: str, input_tokens: int = 120, output_tokens: int = 30) -> str:
    retrieve(question)
    lookup_weather("Paris")
    return chat(question, input_tokens, output_tokens)


@traceglass.observe(type="chain", name="failing_chain")
def failing_chain() -> None:
    raise RuntimeError("the model refused: quota exceeded")


def record_sample(recorder: Recorder) -> None:
    """Three traces: two successful RAG runs (one with a hostile prompt) and one failure."""
    with traceglass.session("sess-1", user_id="alice"):
        rag_agent("What is the capital of France?", 120, 30)
    rag_agent(HOSTILE_PROMPT, 200, 50)
    with pytest.raises(RuntimeError):
        failing_chain()


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=10, **kwargs)
