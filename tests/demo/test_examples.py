"""Every example runs as `python examples/NAME.py` against the bundled server; its traces are stored.

Each runs in its own process with no API key, starting the bundled OpenAI-compatible server
itself, and writes to a temporary SQLite file that the test reads back with TraceStore.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from traceglass.store import TraceStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, db: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_", "TRACEGLASS_"))}
    env["TRACEGLASS_DB"] = str(db)
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return done


def trees(db: Path) -> dict[str, list[tuple[int, str, str]]]:
    """Root name -> the trace's spans as (depth, name, type), depth-first in start order."""
    store = TraceStore(str(db))
    out: dict[str, list[tuple[int, str, str]]] = {}
    try:
        for summary in reversed(store.list_traces(limit=100).traces):
            trace = store.get_trace(summary.trace_id)
            rows: list[tuple[int, str, str]] = []

            def walk(node, depth):
                rows.append((depth, node.name, node.type))
                for child in sorted(node.children, key=lambda c: c.start_ns):
                    walk(child, depth + 1)

            walk(trace.root, 0)
            out.setdefault(trace.root.name, rows)
    finally:
        store.close()
    return out


def totals(db: Path) -> dict[str, tuple[int, float | None]]:
    store = TraceStore(str(db))
    try:
        return {t.name: (t.total_tokens, t.cost_usd) for t in store.list_traces(limit=100).traces}
    finally:
        store.close()


def test_rag_pipeline(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("rag_pipeline", db)
    assert done.stdout.startswith("RAG: ")
    found = trees(db)
    assert found["rag_pipeline"] == [
        (0, "rag_pipeline", "chain"),
        (1, "retrieve_documents", "tool"),
        (1, "generate_answer", "llm"),
        (2, "chat gpt-4o-mini", "llm"),
    ]
    assert found["research_agent"] == [
        (0, "research_agent", "agent"),
        (1, "plan_step", "llm"),
        (1, "search_knowledge", "retriever"),
        (1, "word_count", "tool"),
        (1, "summarise_step", "llm"),
        (2, "chat gpt-4o", "llm"),
    ]
    counted = totals(db)
    # generate_answer and its OpenAI span report the same call: the trace counts it once.
    store = TraceStore(str(db))
    try:
        rag = store.get_trace(store.list_traces(limit=10).traces[-1].trace_id)
        (client_span,) = [s for s in rag.spans if s.name == "chat gpt-4o-mini"]
        assert counted["rag_pipeline"][0] == client_span.total_tokens
        assert counted["rag_pipeline"][1] == pytest.approx(client_span.cost_usd)
    finally:
        store.close()
    # the self-hosted plan step is priced by its per-span price: 59 tokens at $0.0000002
    assert counted["research_agent"][1] > 59 * 0.0000002


def test_deepeval_agent(tmp_path):
    db = tmp_path / "t.db"
    run_example("deepeval_agent", db)
    found = trees(db)
    assert found["support_agent"] == [
        (0, "support_agent", "agent"),
        (1, "find_policies", "retriever"),
        (2, "embeddings text-embedding-3-small", "embedding"),
        (1, "order_lookup", "tool"),
        (1, "draft_reply", "llm"),
        (2, "chat gpt-4o-mini", "llm"),
    ]
    store = TraceStore(str(db))
    try:
        failed = [t for t in store.list_traces(limit=10).traces if t.error_count]
        assert len(failed) == 1
        escalated = store.get_trace(failed[0].trace_id)
        assert [(s.name, s.status, s.error_type) for s in escalated.spans if s.status == "ERROR"] == [
            ("order_lookup", "ERROR", "KeyError")]
    finally:
        store.close()


def test_openai_tools_streaming(tmp_path):
    db = tmp_path / "t.db"
    done = run_example("openai_tools_streaming", db)
    assert "Rate limited as expected: 429" in done.stdout
    found = trees(db)
    assert found["weather_turn"] == [(0, "weather_turn", "chain"), (1, "chat gpt-4o-mini", "llm"),
                                     (1, "chat gpt-4o-mini", "llm")]
    assert set(found) >= {"chat gpt-4o", "chat gpt-4o-mini", "embeddings text-embedding-3-small", "chat error-429"}
    store = TraceStore(str(db))
    try:
        streamed = [t for t in store.list_traces(limit=20).traces if t.name == "chat gpt-4o"]
        span = store.get_trace(streamed[0].trace_id).root
        assert span.attributes["gen_ai.request.stream"] is True
        assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
        assert span.output_tokens > 0 and span.cost_usd > 0
    finally:
        store.close()


def test_langchain_agent(tmp_path):
    db = tmp_path / "t.db"
    run_example("langchain_agent", db)
    found = trees(db)
    assert found["weather-agent"] == [
        (0, "weather-agent", "chain"),
        (1, "agent", "graph_node"),
        (2, "chat gpt-4o-mini", "chat_model"),
        (3, "chat gpt-4o-mini", "llm"),
        (2, "route", "chain"),
        (1, "tools", "graph_node"),
        (2, "execute_tool get_weather", "tool"),
        (1, "agent", "graph_node"),
        (2, "chat gpt-4o-mini", "chat_model"),
        (3, "chat gpt-4o-mini", "llm"),
        (2, "route", "chain"),
    ]
    assert found["RunnableSequence"][0] == (0, "RunnableSequence", "chain")


def test_sessions_users(tmp_path):
    db = tmp_path / "t.db"
    run_example("sessions_users", db)
    store = TraceStore(str(db))
    try:
        sessions = {row.key: row.calls for row in store.stats(group_by="session")}
        users = {row.key: row.calls for row in store.stats(group_by="user")}
        spans = [s for t in store.list_traces(limit=50).traces for s in store.get_trace(t.trace_id).spans]
    finally:
        store.close()
    assert sessions == {"alice-trip-1": 3, "alice-trip-2": 2, "bob-trip-1": 3, "bob-trip-2": 2}
    assert users == {"alice": 5, "bob": 5}
    client_spans = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert len(client_spans) == 10 and all(s.session and s.user for s in client_spans)
    # later turns repeat the history: cached input tokens appear
    assert any(s.attributes.get("gen_ai.usage.cache_read.input_tokens", 0) > 0 for s in client_spans)


def test_read_traces_after_another_example(tmp_path):
    db = tmp_path / "t.db"
    run_example("deepeval_agent", db)
    done = run_example("read_traces", db)
    assert "support_agent" in done.stdout
    assert "By model:" in done.stdout and "gpt-4o-mini-2024-07-18" in done.stdout


def test_openai_zero_code_runs_plainly(tmp_path):
    done = run_example("openai_zero_code", tmp_path / "t.db")
    assert [line.split(":")[0] for line in done.stdout.splitlines()[:4]] == ["chat", "stream", "embeddings",
                                                                                 "responses"]
