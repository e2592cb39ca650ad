"""Zero-code: ``opentelemetry-instrument`` over an app using the real openai client, end to end.

A real subprocess, a real HTTP server on 127.0.0.1 speaking OpenAI's API, the SQLite exporter
and the console exporter from ``OTEL_TRACES_EXPORTER``; then the spans, tokens and cost are read
back from the database and from the console output.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ._fake_api import LocalOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "openai_zero_code.py"
SECRET = "sk-zero-code-SECRET-key"


def _instrument_command() -> str:
    found = Path(sys.executable).with_name("opentelemetry-instrument")
    return str(found) if found.exists() else shutil.which("opentelemetry-instrument") or "opentelemetry-instrument"


def _console_spans(stdout: str) -> list[dict]:
    decoder = json.JSONDecoder()
    spans, index = [], stdout.find("\n{")
    while index != -1:
        span, end = decoder.raw_decode(stdout, index + 1)
        spans.append(span)
        index = stdout.find("\n{", end)
    return spans


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    db = tmp_path_factory.mktemp("zero") / "traces.db"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OTEL_", "TRACEGLASS_", "OPENAI_"))}
    with LocalOpenAIServer() as server:
        env.update({
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": SECRET,
            "OTEL_TRACES_EXPORTER": "traceglass_sqlite,console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_SERVICE_NAME": "zero-code-app",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",  # the official peer is installed too
            "TRACEGLASS_DB": str(db),
        })
        done = subprocess.run([_instrument_command(), sys.executable, str(EXAMPLE)], env=env, cwd=ROOT,
                              check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done, db


def test_the_app_ran_unchanged(run):
    done, _ = run
    assert done.stdout.splitlines()[:4] == [
        "chat: Hello there!", "stream: Hello there!", "embeddings: 2 vectors of 3", "responses: Hello there!"]


def test_spans_tokens_and_cost_in_the_database(run):
    _, db = run
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT name, kind, span_type, status, model, provider, operation, input_tokens, output_tokens,"
            " round(cost_usd, 10), error_type FROM spans ORDER BY start_ns").fetchall()
        attributes = [json.loads(a) for (a,) in _stored_json(conn, "attributes")]
    # gpt-4o-mini: 12 fresh input tokens at $0.15/M, 8 cached at $0.075/M, 5 output at $0.60/M.
    assert rows == [
        ("chat gpt-4o-mini", "CLIENT", "llm", "UNSET", "gpt-4o-mini-2024-07-18", "openai", "chat", 20, 5, 5.4e-06,
         None),
        ("chat gpt-4o-mini", "CLIENT", "llm", "UNSET", "gpt-4o-mini-2024-07-18", "openai", "chat", 20, 5, 5.4e-06,
         None),
        ("embeddings text-embedding-3-small", "CLIENT", "embedding", "UNSET", "text-embedding-3-small", "openai",
         "embeddings", 6, None, 1.2e-07, None),
        ("chat gpt-4o", "CLIENT", "llm", "UNSET", "gpt-4o-2024-08-06", "openai", "chat", 30, 12, 0.0001825, None),
    ]
    stream = attributes[1]
    assert (stream["gen_ai.request.stream"], stream["gen_ai.usage.cache_read.input_tokens"],
            stream["server.address"]) == (True, 8, "127.0.0.1")
    assert stream["gen_ai.response.time_to_first_chunk"] > 0


def test_console_output_matches_and_no_secret_anywhere(run):
    done, db = run
    spans = _console_spans(done.stdout)
    assert [s["name"] for s in spans] == [
        "chat gpt-4o-mini", "chat gpt-4o-mini", "embeddings text-embedding-3-small", "chat gpt-4o"]
    first = spans[0]
    assert first["kind"] == "SpanKind.CLIENT"
    assert first["resource"]["attributes"]["service.name"] == "zero-code-app"
    assert first["attributes"]["gen_ai.input.messages"] == (
        '[{"role":"system","parts":[{"type":"text","content":"You are terse."}]},'
        '{"role":"user","parts":[{"type":"text","content":"Say hello."}]}]')
    assert first["attributes"]["traceglass.cost.total_usd"] == pytest.approx(5.4e-06)
    assert SECRET not in done.stdout and SECRET not in done.stderr
    assert SECRET.encode() not in Path(db).read_bytes()
    with sqlite3.connect(db) as conn:  # large values are stored compressed: read them as JSON text too
        stored = [text for column in ("attributes", "events") for (text,) in _stored_json(conn, column)]
    assert len(stored) == 8 and not any(SECRET in (text or "") for text in stored)


def _stored_json(conn: sqlite3.Connection, column: str) -> list[tuple[str]]:
    """Each span's stored ``column`` as JSON text (the store keeps large values zstd-compressed), by start."""
    from traceglass.store import _packed

    _packed.register(conn)
    return conn.execute(f"SELECT tg_json(d.{column}) FROM span_data d JOIN spans s ON s.id = d.id "
                        "ORDER BY s.start_ns").fetchall()


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: a collector that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_zero_code(db: Path, **settings: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OTEL_", "TRACEGLASS_", "OPENAI_"))}
    with LocalOpenAIServer() as server:
        env.update({"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": SECRET, "TRACEGLASS_DB": str(db),
                    # Where OTLP would go by default: a dead collector, on 127.0.0.1 only.
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", **settings})
        # timeout= bounds a hang (with an OTLP metric exporter the exit waited ~10 s on the dead collector).
        return subprocess.run([_instrument_command(), sys.executable, str(EXAMPLE)], env=env, cwd=ROOT,
                              check=False, capture_output=True, text=True, timeout=60)


def _span_names(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM spans ORDER BY start_ns, name")]


OUR_SPANS = ["chat gpt-4o-mini", "chat gpt-4o-mini", "embeddings text-embedding-3-small", "chat gpt-4o"]


def test_only_our_store_chosen_means_no_otlp_metrics_and_a_clean_exit(tmp_path):
    """OTEL_TRACES_EXPORTER names only our store: metrics and logs do not default to OTLP."""
    done = _run_zero_code(tmp_path / "t.db", OTEL_TRACES_EXPORTER="traceglass_sqlite",
                          OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "Failed to export metrics to 127.0.0.1:..." nor retry warnings
    assert _span_names(tmp_path / "t.db") == OUR_SPANS


def test_two_openai_instrumentations_are_reported_once(tmp_path):
    """The official openai-v2 instrumentor and ours both on: two spans per call, one warning."""
    done = _run_zero_code(tmp_path / "t.db", OTEL_TRACES_EXPORTER="traceglass_sqlite")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "traceglass: another OpenAI instrumentation is active (opentelemetry.instrumentation.openai_v2); each "
        "call makes two spans. Disable one of them: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai (the other's) "
        "or =traceglass_openai (ours)."]
    # Ours and the official's for chat and embeddings (the official one does not trace the Responses API).
    assert _span_names(tmp_path / "t.db") == [
        "chat gpt-4o-mini", "chat gpt-4o-mini", "chat gpt-4o-mini", "chat gpt-4o-mini",
        "embeddings text-embedding-3-small", "embeddings text-embedding-3-small", "chat gpt-4o"]
