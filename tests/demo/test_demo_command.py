"""`traceglass demo --no-ui` runs every example offline and leaves priced traces in the database."""

from __future__ import annotations

import os
import subprocess
import sys

from traceglass.store import TraceStore


def test_demo_fills_the_store(tmp_path):
    db = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_", "TRACEGLASS_"))}
    env["OPENAI_API_KEY"] = "sk-must-not-be-used"  # the demo never talks to the real API
    done = subprocess.run([sys.executable, "-m", "traceglass", "demo", "--no-ui", "--db", str(db)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("rag_pipeline", "deepeval_agent", "openai_tools_streaming", "langchain_agent", "sessions_users",
                 "openai_zero_code"):
        assert f"ran {name} (" in done.stdout
    store = TraceStore(str(db))
    try:
        traces = store.list_traces(limit=200).traces
        by_project: dict[str, set[str]] = {}
        for t in traces:
            by_project.setdefault(t.project, set()).add(t.name)
        types = {s.type for t in traces for s in store.get_trace(t.trace_id).spans}
        assert "sk-must-not-be-used" not in str([store.get_trace(t.trace_id).spans for t in traces])
    finally:
        store.close()
    assert by_project["rag-pipeline"] == {"rag_pipeline", "research_agent"}
    assert by_project["support-agent"] == {"support_agent"}
    assert by_project["langchain-agent"] == {"weather-agent", "RunnableSequence"}
    assert {"chat gpt-4o-mini", "embeddings text-embedding-3-small"} <= by_project["openai-zero-code"]
    assert by_project["travel-assistant"] == {"conversation_turn"}
    assert {"chain", "tool", "llm", "agent", "retriever", "embedding", "chat_model", "graph_node"} <= types
    priced = [t for t in traces if t.cost_usd]
    assert len(priced) >= 20 and all(t.total_tokens > 0 for t in priced)
    assert sum(t.cost_usd for t in priced) > 0.0005
